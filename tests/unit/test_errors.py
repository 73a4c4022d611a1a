"""One error hierarchy, one exit code per kind, reported by the CLI in one place.

The exit codes of `pyrel --help` and of the README are the error classes' own
(:func:`pywrap.errors.exit_codes`); these tests hold the three together.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pywrap import errors
from pywrap.cli.app import app
from pywrap.cli.reporting import exit_code_help
from pywrap.errors import PyrelError, error_kinds, exit_codes
from tests.conftest import REPO, copy_example

PACKAGE = REPO / "pywrap"


def _all_error_classes() -> list[type[PyrelError]]:
    found: list[type[PyrelError]] = []
    pending = [PyrelError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return found


def test_no_two_kinds_share_an_exit_code() -> None:
    codes = [kind.exit_code for kind in error_kinds()]
    assert len(codes) == len(set(codes)), {
        code: [k.__name__ for k in error_kinds() if k.exit_code == code] for code in codes if codes.count(code) > 1
    }
    assert 0 not in codes and all(0 < code < 126 for code in codes)  # 126+ mean "not run" or "killed" to a shell


def test_a_specialization_inherits_its_kinds_code() -> None:
    assert errors.NotAProjectError.exit_code == errors.UsageError.exit_code == errors.ConfigError.exit_code
    assert errors.ResolutionError.exit_code == errors.LockError.exit_code
    assert errors.HashMismatchError.exit_code == errors.FetchError.exit_code
    assert errors.NotAProjectError not in error_kinds()


def test_every_kind_describes_itself_in_one_short_line() -> None:
    for code, description in exit_codes():
        assert description and len(f"  {code:>2}  {description}") <= 78, description  # one line of `--help`
        assert "``" not in description and "[" not in description, description  # plain text, markdown-safe


def test_every_error_class_lives_in_errors_py() -> None:
    names = {cls.__name__ for cls in _all_error_classes()}
    assert all(cls.__module__ == "pywrap.errors" for cls in _all_error_classes())
    elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases}
                if bases & names:
                    elsewhere.append(f"{path.relative_to(REPO)}: {node.name}")
    assert elsewhere == []


def test_the_readme_lists_exactly_the_exit_codes_of_the_classes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    listed = [(int(code), text) for code, text in re.findall(r"^- `(\d+)` (.+)$", section, flags=re.MULTILINE)]
    assert listed == exit_codes()


def test_pyrel_help_lists_the_exit_codes_of_the_classes() -> None:
    assert app.info.epilog is not None and exit_code_help() in app.info.epilog
    result = CliRunner().invoke(app, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for code, description in exit_codes():
        assert f"{code} {description}" in text


# --- the CLI turns an error into its message and its exit code, in one place -------------


def test_an_error_is_its_message_and_exit_code_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["verify", "--artifacts", str(tmp_path), "--identity", "me@example.org"])
    assert result.exit_code == errors.UsageError.exit_code
    assert "error: --allowed-signers and --identity go together" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, PyrelError)  # reported, not escaped


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--debug", "verify", "--artifacts", str(tmp_path), "--identity", "me"])
    assert result.exit_code == errors.UsageError.exit_code
    assert "Traceback" in result.output and "UsageError" in result.output
    assert "go together" in result.output


def test_a_release_command_is_reported_by_the_same_group(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + f'\n[tool.pyrel.ci.pyrel]\ngit = "https://example.org/pyrel"\nrev = "{"0" * 40}"\n'
    )
    result = CliRunner().invoke(app, ["ci", "github", "--check", "-C", str(project)])
    assert result.exit_code == errors.OutOfDateError.exit_code
    assert "is missing" in result.output and "Traceback" not in result.output


def test_not_a_project_is_a_configuration_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", "all", "-C", str(tmp_path)])
    assert result.exit_code == errors.ConfigError.exit_code, result.output
    assert "error:" in result.output and "Traceback" not in result.output


def _imports(path: Path) -> set[str]:
    """The ``pywrap.cli`` modules ``path`` imports, at any level."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "pywrap.cli":
                found |= {f"pywrap.cli.{alias.name}" for alias in node.names}
            elif node.module.startswith("pywrap.cli."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pywrap.cli.")}
    return found


def test_the_cli_modules_import_each_other_without_a_cycle() -> None:
    graph = {f"pywrap.cli.{path.stem}": _imports(path) for path in (PACKAGE / "cli").glob("*.py")}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for module in graph.get(start, set()):
            if module == target or (module not in seen and reaches(module, target, seen | {module})):
                return True
        return False

    assert [module for module in graph if reaches(module, module, set())] == []


@pytest.mark.parametrize("module", sorted(path.name for path in (PACKAGE / "cli").glob("*.py")))
def test_only_the_group_catches_pyrel_errors(module: str) -> None:
    tree = ast.parse((PACKAGE / "cli" / module).read_text(encoding="utf-8"))
    handlers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler) and "PyrelError" in ast.unparse(node.type or ast.Constant(None))
    ]
    assert len(handlers) == (module == "reporting.py")


@pytest.mark.parametrize(
    ("config", "expected", "absent"),
    [
        ("pyrel.toml", ("[stages.docs]", "[ci.publish]", "the top of pyrel.toml"), "tool.pyrel"),
        ("pyproject.toml", ("[tool.pyrel.stages.docs]", "[tool.pyrel.ci.publish]", "[tool.pyrel]"), "[stages."),
    ],
)
def test_an_errors_advice_names_the_tables_as_the_projects_configuration_file_spells_them(
    tmp_path: Path, config: str, expected: tuple[str, ...], absent: str
) -> None:
    import typer

    from pywrap.cli.reporting import PyrelGroup, open_project

    table = "[stages.source]" if config == "pyrel.toml" else "[project]\nname = 'demo'\nversion = '1'\n"
    (tmp_path / config).write_text(
        table
        + ("\n" if config == "pyrel.toml" else "\n[tool.pyrel.stages.source]\n")
        + 'system = ["make"]\nrun = ["make dist"]\noutputs = ["*.tar.gz"]\n'
    )
    demo = typer.Typer(cls=PyrelGroup)

    @demo.command()
    def fails(project_dir: Path) -> None:
        open_project(project_dir)
        raise errors.LockError(
            "stage 'docs': the inventory cannot be fetched",
            hint="set intersphinx = false in [tool.pyrel.stages.docs], add [tool.pyrel.ci.publish], see [tool.pyrel]",
        )

    @demo.command()
    def other() -> None:  # two commands: typer then keeps the command's name
        pass

    result = CliRunner().invoke(demo, ["fails", str(tmp_path)])
    assert result.exit_code == errors.LockError.exit_code
    assert all(text in result.output for text in expected), result.output
    assert absent not in result.output
