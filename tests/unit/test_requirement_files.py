"""Requirement files are read by pyrel, never handed to uv: "this project" in every spelling is its
extras, anything else local or remote is an error naming the line, and uv never builds."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from pywrap.adapters import uv
from pywrap.adapters.run import Completed
from pywrap.config.loader import load_project
from pywrap.config.requirement_files import PinnedHashes, logical_lines, read_requirements
from pywrap.errors import CommandFailed, ConfigError, LockError, ResolutionError
from pywrap.locking import resolver

PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.4"]
build-backend = "flit_core.buildapi"

[project]
name = "Demo_Pkg"
version = "1.0"
dependencies = ["attrs>=23"]

[project.optional-dependencies]
test = ["pytest>=8", "demo-pkg[yaml]"]
docs = ["sphinx>=7"]
yaml = ["pyyaml"]

# Declared: an extra named `test` comes before tests/requirements.txt among what pyrel finds.
[tool.pyrel.stages.test]
requires-file = "tests/requirements.txt"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "demo_pkg.py").write_text('"""Demo."""\n__version__ = "1.0"\n')
    return root


def _read(root: Path, text: str, name: str = "tests/requirements.txt") -> Any:
    (root / name).write_text(text)
    return read_requirements(root / name, root=root, project_name="Demo_Pkg", stage="test")


TEST = ("pytest>=8", "pyyaml")


@pytest.mark.parametrize(
    ("spelling", "expanded"),
    [
        (".", ()),
        ("./", ()),
        ("-e .", ()),
        ("-e.", ()),
        ("--editable=.", ()),
        ("file:.", ()),
        ("file:./", ()),
        ("file:.#egg=demo-pkg", ()),
        ("-e file:.#egg=demo_pkg[test]", TEST),
        ("-e file:.#egg=Demo.Pkg[test,docs]", (*TEST, "sphinx>=7")),
        ("{name} @ file://{root}", ()),
        ("demo-pkg[docs] @ file://{root}", ("sphinx>=7",)),
        ("file://localhost{root}#egg=demo_pkg[docs]", ("sphinx>=7",)),
        ("-e {root}", ()),
        (".[test]", TEST),
        ("./[test]", TEST),
        ("-e .[test,docs]", (*TEST, "sphinx>=7")),
        ('-e ".[test]"', TEST),
        (". ; python_version >= '3.8'", ()),
        # uv reads a path from the file's directory (tests/), pip from the root: both name the project.
        ("-e ..", ()),
        ("-e ../[docs]", ("sphinx>=7",)),
        ("demo-pkg[test]>=1", TEST),
        ("DEMO.PKG", ()),
    ],
)
def test_every_spelling_of_the_project_is_its_extras(project: Path, spelling: str, expanded: tuple[str, ...]) -> None:
    line = spelling.format(root=project, name="Demo_Pkg")
    found = _read(project, f"attrs>=23\n{line}\nrequests>=2  # a comment\n")
    assert set(found.requirements) == {"attrs>=23", "requests>=2", *expanded}
    assert len(found.requirements) == 2 + len(expanded)
    assert not any("demo" in requirement.lower() or requirement.startswith(".") for requirement in found.requirements)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("-e ../other", "a local path"),
        ("../other", "a local path"),
        ("./vendor/pkg.tar.gz", "a local path"),
        ("pkg-1.0.tar.gz", "a local path"),
        ("vendor/pkg-1.0-py3-none-any.whl", "a local path"),
        ("-e .#subdirectory=sub", "a local path"),
        ("file:../other#egg=other", "a local path"),
        ("-e git+https://example.invalid/other.git#egg=other", "a VCS requirement"),
        ("git+https://example.invalid/other.git@v1#egg=other", "a VCS requirement"),
        ("other @ git+https://example.invalid/other.git", "a VCS requirement"),
        ("https://example.invalid/other-1.0.tar.gz", "a URL requirement"),
        ("other @ https://example.invalid/other-1.0-py3-none-any.whl", "a URL requirement"),
        ("demo-pkg @ https://example.invalid/demo-1.0.tar.gz", "a URL requirement"),
        ("demo-pkg @ file:///somewhere/else", "a local path"),
    ],
)
def test_other_local_paths_and_urls_name_the_file_line_and_fix(project: Path, line: str, kind: str) -> None:
    (project / "tests/base.txt").write_text(f"# pins\nattrs\n\n{line}\n")
    with pytest.raises(ConfigError) as error:
        _read(project, "pytest\n-r base.txt\n")
    assert error.value.message.startswith(f"{project / 'tests/base.txt'}:4: '{line}' is {kind}: ")
    assert "package index only" in error.value.message
    assert error.value.hint is not None
    assert "registry requirement" in error.value.hint and "stage 'test''s `requires`" in error.value.hint


def test_includes_constraints_options_continuations_and_hashes(project: Path) -> None:
    (project / "requirements").mkdir()
    (project / "requirements/base.txt").write_text("-c constraints.txt\nattrs>=23\n-r ../tests/more.txt\n")
    (project / "requirements/constraints.txt").write_text("idna<4\n.\ndemo-pkg==1.0\n-r extra-constraints.txt\n")
    (project / "requirements/extra-constraints.txt").write_text("urllib3<3\n")
    (project / "tests/more.txt").write_text("iniconfig\n")
    digest = "a" * 64
    found = _read(
        project,
        (
            "\ufeff# Test requirements\n"
            "\n"
            "--index-url https://example.invalid/simple\n"
            "--extra-index-url=https://example.invalid/extra\n"
            "--pre\n"
            "--config-settings=key=value\n"
            "-r ../requirements/base.txt\n"
            "pytest>=8 \\\n"
            "    --hash=sha256:" + digest.upper() + " \\\n"
            "    --hash sha256:" + "b" * 64 + " \\\n"
            "    --hash=sha512:cc\n"
            "hypothesis ; python_version >= '3.8'  # property tests\n"
            "-e .[docs]\n"
            "requests --global-option=x\n"
        ),
    )
    assert found.requirements == (
        "attrs>=23",
        "iniconfig",
        "pytest>=8",
        "hypothesis ; python_version >= '3.8'",
        "requests",
        "sphinx>=7",
    )
    assert found.constraints == ("idna<4", "urllib3<3")
    assert found.options == (
        "--index-url https://example.invalid/simple",
        "--extra-index-url https://example.invalid/extra",
        "--pre",
    )
    where = f"{project}/tests/requirements.txt:8"
    assert found.hashes == (PinnedHashes("pytest", frozenset({digest, "b" * 64}), where),)


def test_logical_lines_join_continuations_and_drop_comments() -> None:
    text = "a \\\n  b\n# c \\\nd#not-a-comment\n  \ne # f\\\ng\nh \\"
    assert list(logical_lines(text)) == [(1, "a   b"), (4, "d#not-a-comment"), (6, "e"), (7, "g"), (8, "h")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-r missing.txt\n", "tests/requirements.txt:1: '--requirement missing.txt': "),
        ("-r https://example.invalid/r.txt\n", "names a URL"),
        ("-r requirements.txt\n", "includes itself"),
        ("--no-deps\n", "pyrel does not read the option '--no-deps'"),
        ("pytest --pre\n", "'--pre' cannot follow a requirement"),
        ("-e pytest\n", "-e takes a path or URL"),
        ("pytest >= \n", "is not a requirement pyrel can read"),
        ("--find-links ./wheels\n", "is a local directory"),
        ("-e .[nosuch]\n", "asks for the project's extra 'nosuch'"),
        ("--hash=sha256:abc\n", "must follow the requirement"),
    ],
)
def test_what_pyrel_cannot_read_is_an_error_naming_the_line(project: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        _read(project, text)


def test_a_stages_requirements_file_reaches_uv_as_plain_lines(project: Path) -> None:
    (project / "tests/requirements.txt").write_text("-e .[test]\nrequests>=2\n-c constraints.txt\n")
    (project / "tests/constraints.txt").write_text("urllib3<3\n")
    loaded = load_project(project)
    stage = loaded.stage("test")
    assert stage.requires_file == "tests/requirements.txt"
    wanted = resolver._python_requirements(loaded, stage)
    assert {"pytest>=8", "pyyaml", "requests>=2", "attrs>=23"} <= set(wanted.requirements)
    assert not any(line.startswith(("-", ".")) or "demo" in line.lower() for line in wanted.requirements)
    assert wanted.constraints == ("urllib3<3",)


# --- uv: never builds, never resolves the project ------------------------------------------------


def _capture_uv(monkeypatch: pytest.MonkeyPatch, stderr: str = "") -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def fake_run(args: list[str], **_: Any) -> Completed:
        seen["args"] = args
        # The input files exist only while uv runs.
        seen["files"] = {Path(arg).name: Path(arg).read_text() for arg in args if arg.endswith(".in")}
        if stderr:
            raise CommandFailed(Completed(tuple(args), 1, "", stderr), "uv")
        return Completed(tuple(args), 0, "", "")

    monkeypatch.setattr(uv, "uv_binary", lambda: "uv")
    monkeypatch.setattr(uv, "run", fake_run)
    return seen


def test_uv_never_builds_and_leaves_the_project_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _capture_uv(monkeypatch)
    output = tmp_path / "pylock.test.toml"
    uv.compile_pylock(
        ["pytest>=8"],
        python_version="3.11",
        platform="x86_64-manylinux_2_36",
        output=output,
        what="stage 'test'",
        constraints=["urllib3<3"],
        options=["--pre"],
        exclude=["demo-pkg"],
    )
    args = seen["args"]
    assert "--no-build" in args and args[:3] == ["uv", "pip", "compile"]
    assert seen["files"] == {
        "pylock.test.toml.in": "--pre\npytest>=8\n",
        "pylock.test.toml.constraints.in": "urllib3<3\n",
        "pylock.test.toml.exclude.in": "demo-pkg ; sys_platform == 'never'\n",
    }
    assert args[args.index("--constraints") + 1].endswith("pylock.test.toml.constraints.in")
    assert args[args.index("--overrides") + 1].endswith("pylock.test.toml.exclude.in")
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # the inputs are gone


def test_no_constraints_or_exclusions_pass_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _capture_uv(monkeypatch)
    uv.compile_pylock(
        ["pytest"],
        python_version="3.13",
        platform="aarch64-manylinux_2_40",
        output=tmp_path / "pylock.x.toml",
        what="stage 'x'",
    )
    assert "--no-build" in seen["args"]
    assert "--constraints" not in seen["args"] and "--overrides" not in seen["args"]


#: What uv 0.13 prints for an sdist-only release with --no-build.
CURIO = """\
error: No solution found when resolving dependencies
  cause: Because curio==1.6 has no usable wheels and you require curio==1.6, we can conclude that your \
requirements are unsatisfiable.

hint: Wheels are required for `curio` because building from source is disabled for all packages (i.e., with \
`--no-build`)
"""
DOCOPT = """\
error: No solution found when resolving dependencies
  cause: Because docopt==0.6.2 has no usable wheels and only docopt<=0.6.2 is available, we can conclude that \
docopt>=0.6.2 cannot be used.
         And because num2words==0.5.13 depends on docopt>=0.6.2 and you require num2words==0.5.13, we can \
conclude that your requirements are unsatisfiable.
"""


#: A range, not a pin, before the name's verdict (griffe's docs requirements): the version is no name.
RANGES = """\
error: No solution found when resolving dependencies
  cause: Because sphinx-jsonschema>=1.16.11 has no usable wheels and you require sphinx-jsonschema>=1.16.11, we \
can conclude that your requirements are unsatisfiable.
"""
NESTED = """\
error: No solution found when resolving dependencies
  cause: Because mkdocs-minify-plugin<=0.5.0 has no usable wheels and only the following versions of \
mkdocs-minify-plugin are available:
         Because jsmin==3.0.1 has no usable wheels and only jsmin<=3.0.1 is available, we can conclude that \
jsmin>=3.0.1 cannot be used.
"""


@pytest.mark.parametrize(
    ("stderr", "name"),
    [(CURIO, "curio"), (DOCOPT, "docopt"), (RANGES, "sphinx-jsonschema"), (NESTED, "mkdocs-minify-plugin', 'jsmin")],
)
def test_a_dependency_without_a_wheel_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stderr: str, name: str
) -> None:
    _capture_uv(monkeypatch, stderr)
    with pytest.raises(ResolutionError) as error:
        uv.compile_pylock(
            ["curio==1.6"],
            python_version="3.11",
            platform="x86_64-manylinux_2_36",
            output=tmp_path / "pylock.test.toml",
            what="stage 'test'",
        )
    verb = "have" if "', '" in name else "has"
    assert f"stage 'test': '{name}' {verb} no wheel for Python 3.11 on x86_64-manylinux_2_36" in error.value.message
    assert "never builds a package on the host" in error.value.message
    assert error.value.hint is not None and f"'{name}'" in error.value.hint


def _pylock(*packages: tuple[str, str]) -> str:
    text = 'lock-version = "1.0"\ncreated-by = "uv"\nrequires-python = ">=3.11"\n'
    for name, sha in packages:
        text += (
            f'\n[[packages]]\nname = "{name}"\nversion = "1.0"\nwheels = [{{ url = "https://example.invalid/'
            f'{name.replace("-", "_")}-1.0-py3-none-any.whl", size = 10, hashes = {{ sha256 = "{sha}" }} }}]\n'
        )
    return text


def test_the_project_pinned_from_the_index_is_left_out_with_a_note(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (project / "tests/requirements.txt").write_text("-e .[test]\n")
    calls: list[dict[str, Any]] = []

    def fake_compile(requirements: list[str], *, output: Path, **options: Any) -> None:
        calls.append({"requirements": requirements, **options})
        # A release of the project from the index, sdist only: never read, never fetched.
        output.write_text(
            _pylock(("pytest", "2" * 64)) + '\n[[packages]]\nname = "demo-pkg"\nversion = "0.9"\n'
            'sdist = { url = "https://example.invalid/demo_pkg-0.9.tar.gz" }\n'
        )

    monkeypatch.setattr(uv, "compile_pylock", fake_compile)
    loaded = load_project(project)
    notes: list[str] = []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    resolved = resolver._resolve_python(
        loaded, loaded.stage("test"), [], "3.11", "x86_64-manylinux_2_36", scratch, notes.append
    )
    assert resolved is not None
    assert calls[0]["exclude"] == ["demo-pkg"]
    assert [wheel.name for wheel in resolved.wheels] == ["pytest"]
    assert b"demo-pkg" not in resolved.content
    assert resolved.digest == hashlib.sha256(resolved.content).hexdigest()
    assert notes == [
        "stage 'test': left Demo_Pkg out of its pylock: the project comes from its own build, never from the index"
    ]


def test_a_wheel_outside_the_lines_hashes_fails_the_lock(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (project / "tests/requirements.txt").write_text(f"pytest==1.0 --hash=sha256:{'3' * 64}\n")
    monkeypatch.setattr(
        uv, "compile_pylock", lambda requirements, *, output, **_: output.write_text(_pylock(("pytest", "2" * 64)))
    )
    loaded = load_project(project)
    with pytest.raises(LockError, match=r"requirements\.txt:1: the wheel resolved for 'pytest' .* is not one of"):
        resolver._resolve_python(loaded, loaded.stage("test"), [], "3.11", "x86_64-manylinux_2_36", tmp_path)
    (project / "tests/requirements.txt").write_text(f"pytest==1.0 --hash=sha256:{'2' * 64}\n")
    assert resolver._resolve_python(loaded, loaded.stage("test"), [], "3.11", "x86_64-manylinux_2_36", tmp_path)


def test_exclude_newer_leaves_pyrels_own_tools_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An old release's date (exclude-newer) holds back its tools, not pyrel's checks: packaging>=24.2 and
    # auditwheel>=6.8 did not exist in 2023, and the wheel stage's checks need them.
    from pywrap.config.loader import build_project
    from pywrap.locking.resolver import pyrel_tools

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "speedups.c").write_text("")
    (tmp_path / "tests").mkdir()
    pyproject = {
        "build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"},
        "project": {"name": "demo", "version": "1"},
    }
    project = build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {"exclude-newer": "2023-01-01"})
    assert pyrel_tools(project.stage("wheel")) == ["auditwheel", "packaging", "readme-renderer"]
    assert pyrel_tools(project.stage("test")) == pyrel_tools(project.stage("source")) == []
    seen = _capture_uv(monkeypatch)
    uv.compile_pylock(
        ["flit_core>=3.4", "packaging>=24.2"],
        python_version="3.11",
        platform="x86_64-manylinux_2_36",
        output=tmp_path / "pylock.wheel.toml",
        what="stage 'wheel'",
        exclude_newer="2023-01-01",
        exclude_newer_exempt=["packaging"],
    )
    args = seen["args"]
    assert args[args.index("--exclude-newer") + 1] == "2023-01-01"
    assert args[args.index("--exclude-newer-package") + 1] == "packaging=false"
    uv.compile_pylock(
        ["packaging>=24.2"],
        python_version="3.11",
        platform="x86_64-manylinux_2_36",
        output=tmp_path / "pylock.wheel.toml",
        what="stage 'wheel'",
        exclude_newer_exempt=["packaging"],
    )
    assert "--exclude-newer-package" not in seen["args"]  # nothing to be exempt from
