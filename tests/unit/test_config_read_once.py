"""The configuration is read once, by the loader: ``[tool.pyrel.ci]`` and the ``nixpkgs``
pin travel in the model, checked at load time, and nothing reads the file again."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pywrap.config.loader import load_project
from pywrap.config.model import CISettings, NixpkgsPin, Project, Publish, PyrelPin
from pywrap.errors import ConfigError
from pywrap.providers.base import provider_for
from pywrap.release import ci
from tests.conftest import REPO

REV = "0123456789abcdef0123456789abcdef01234567"
OTHER_REV = "f" * 40
SHA = "1" * 52
TEST_INDEX = "https://upload.test-index.invalid/legacy/"
FLIT = """\
[build-system]
requires = ["flit_core>=3.4"]
build-backend = "flit_core.buildapi"

[project]
name = "demo"
version = "1.0"
"""


def _pyproject(rev: str, runs_on: str) -> str:
    return (
        FLIT
        + f"""
[tool.pyrel]
provider = "nixpkgs"
nixpkgs = {{ rev = "{rev}", sha256 = "{SHA}" }}

[tool.pyrel.ci]
runs-on = "{runs_on}"
pyrel = {{ git = "https://example.org/pyrel", rev = "{REV}" }}
publish = {{ repository = "testpypi", environment = "release", repository-url = "{TEST_INDEX}" }}
cache = {{ url = "s3://release-cache", public-key = "cache-1:AAAA" }}
actions.checkout = {{ uses = "actions/checkout@{REV}", version = "v9" }}
"""
    )


def _pyrel_toml(rev: str, runs_on: str) -> str:
    return f"""\
provider = "nixpkgs"
nixpkgs = {{ rev = "{rev}", sha256 = "{SHA}" }}

[ci]
runs-on = "{runs_on}"
pyrel = {{ git = "https://example.org/pyrel", rev = "{REV}" }}
actions.nix-installer = "me/nix-installer@{REV}"

[stages.build]
python = false
run = ["make"]
outputs = ["*"]
"""


def _outputs(project: Project) -> tuple[str, dict[str, Any]]:
    """What `pyrel ci github` renders and what the provider hands to Nix, as the CLI gets them."""
    workflow = ci.render(ci.workflow(project, ci.ci_config(ci.project_ci_table(project), project.config_file)))
    plan: Any = {"stages": [{"name": stage.name, "python": ""} for stage in project.stages]}
    return workflow, provider_for(project).apply(plan, project)["nixpkgs"]


@pytest.mark.parametrize(("name", "text"), [("pyproject.toml", _pyproject), ("pyrel.toml", _pyrel_toml)])
def test_the_model_alone_yields_the_workflow_and_the_pin(tmp_path: Path, name: str, text: Any) -> None:
    config_file = tmp_path / name
    config_file.write_text(text(REV, "self-hosted"))
    project = load_project(tmp_path)
    assert project.nixpkgs == NixpkgsPin(rev=REV, sha256=SHA)
    assert project.ci.runs_on == "self-hosted"
    workflow, pin = _outputs(project)
    assert 'runs-on: "self-hosted"' in workflow and pin["url"].endswith(f"/{REV}.tar.gz")

    config_file.write_text(text(OTHER_REV, "ubuntu-24.04"))
    assert _outputs(project) == (workflow, pin)  # a changed file is not read again
    assert _outputs(load_project(tmp_path)) != (workflow, pin)  # ...though it would change both
    config_file.unlink()
    assert _outputs(project) == (workflow, pin)  # nor is a deleted one


def test_the_model_holds_the_ci_table_as_declared(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_pyproject(REV, "self-hosted"))
    settings = load_project(tmp_path).ci
    assert settings.pyrel == PyrelPin(git="https://example.org/pyrel", rev=REV)
    assert settings.publish == Publish(
        repository="testpypi", environment="release", repository_url="https://upload.test-index.invalid/legacy/"
    )
    assert (settings.cache_url, settings.cache_public_key) == ("s3://release-cache", "cache-1:AAAA")
    assert [(action.name, action.uses, action.version) for action in settings.actions] == [
        ("checkout", f"actions/checkout@{REV}", "v9")
    ]
    (tmp_path / "pyproject.toml").write_text(FLIT)
    assert load_project(tmp_path).ci == CISettings()  # nothing declared: the defaults apply when rendering


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "pyproject.toml",
            FLIT + '[tool.pyrel.ci]\nrunz-on = "x"\n',
            "unknown key 'tool.pyrel.ci.runz-on' (did you mean 'runs-on'?)",
        ),
        ("pyproject.toml", FLIT + '[tool.pyrel]\nci = "github"\n', "'tool.pyrel.ci' must be a table"),
        (
            "pyproject.toml",
            FLIT + '[tool.pyrel.ci.actions]\ncheckout = "actions/checkout@v4"\n',
            "'tool.pyrel.ci.actions.checkout' = 'actions/checkout@v4' is not pinned by a full commit SHA",
        ),
        (
            "pyproject.toml",
            FLIT + '[tool.pyrel.ci.cache]\nurl = "s3://c"\n',
            "'tool.pyrel.ci.cache' needs both 'url' and 'public-key'",
        ),
        (
            "pyproject.toml",
            FLIT + '[tool.pyrel]\nprovider = "nixpkgs"\n',
            "provider \"nixpkgs\" needs 'tool.pyrel.nixpkgs'",
        ),
        (
            "pyproject.toml",
            FLIT + f'[tool.pyrel]\nprovider = "nixpkgs"\nnixpkgs = {{ rev = "main", sha256 = "{SHA}" }}\n',
            "'tool.pyrel.nixpkgs.rev' = 'main' is not a full commit hash",
        ),
        (
            "pyrel.toml",
            '[ci]\nruns-on = "${{ github.head_ref }}"\n[stages.x]\nrun = ["true"]\noutputs = ["*"]\n',
            "'ci.runs-on' may not contain '${{' or a line break",
        ),
        (
            "pyrel.toml",
            'nixpkgs = { path = 1 }\n[stages.x]\nrun = ["true"]\noutputs = ["*"]\n',
            "'nixpkgs.path' must be a string",
        ),
    ],
)
def test_bad_ci_and_nixpkgs_tables_fail_at_load_time(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as error:
        load_project(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / name}: ")
    assert message in str(error.value)


#: Modules that may parse TOML, and why: none of them reads the project's configuration again.
TOML_READERS = {
    "pywrap/config/": "the loader (pyproject.toml, pyrel.toml, pyrel's defaults) and project discovery (tox.toml)",
    "pywrap/locking/lockfile.py": "pyrel.lock.toml and the pylock files: lock files, not configuration",
    "pywrap/locking/resolver.py": "the previous pyrel.lock.toml's pylock names",
    "pywrap/execution/plan.py": "resources/compiler.toml, shipped with pyrel",
}
TOML_PARSE = re.compile(r"\btoml(?:lib|i)\.loads?\b|\bfrom\s+toml(?:lib|i)\s+import\b")
CONFIG_FILE_READ = re.compile(r"config_file\)?\.(?:read_text|read_bytes|open)\b|open\([^)]*config_file")


def test_only_the_loader_and_lock_files_parse_toml() -> None:
    offenders = []
    for path in sorted((REPO / "pywrap").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        text = path.read_text(encoding="utf-8")
        if CONFIG_FILE_READ.search(text):
            offenders.append(f"{relative}: reads project.config_file")
        if TOML_PARSE.search(text) and not any(relative.startswith(allowed) for allowed in TOML_READERS):
            offenders.append(f"{relative}: parses TOML (read the configuration from the model)")
    assert offenders == []


def test_loading_a_project_imports_nothing_heavy() -> None:
    code = (
        "import sys, pywrap.config.loader; "
        "print(sorted(m for m in sys.modules if m == 'jinja2' or m.startswith(('pywrap.release', "
        "'pywrap.providers', 'pywrap.execution'))))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert imported.stdout.strip() == "[]"
