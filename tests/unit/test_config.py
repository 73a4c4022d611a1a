from __future__ import annotations

from pathlib import Path

import pytest

from pywrap.config.loader import build_project, load_project, parse_size
from pywrap.config.model import PEP517_DEFAULT_BACKEND
from pywrap.errors import ConfigError, NotAProjectError

ROOT = Path("/project")
PYPROJECT = ROOT / "pyproject.toml"
FLIT: dict[str, dict[str, object]] = {
    "build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"},
    "project": {"name": "demo", "requires-python": ">=3.9"},
}


def test_zero_config_gives_the_source_and_wheel_stages() -> None:
    project = build_project(ROOT, PYPROJECT, FLIT, {})
    assert project.stage_names == ("source", "wheel")
    assert project.stage("wheel").inputs == ("source",)
    source = project.stage("source")
    assert source.requires == ("flit_core>=3.4",)  # pyrel's own frontend needs nothing more
    assert source.outputs == ("*.tar.gz",)
    assert source.python
    assert project.name == "demo"


def test_the_stages_running_project_code_cut_less_of_pythons_closure(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    project = build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {})
    assert "libreadline*" in project.stage("source").system_exclude
    # nis and dbm.ndbm only: tests keep readline and curses.
    assert project.stage("test").system_exclude == ("libnsl*", "libtirpc*", "libdb5.3*")
    kept = build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {"stages": {"source": {"system-exclude": []}}})
    assert kept.stage("source").system_exclude == ()


def test_no_build_system_uses_pep517_setuptools_default() -> None:
    project = build_project(ROOT, PYPROJECT, {"project": {"name": "legacy"}}, {})
    assert project.build_system is not None
    assert not project.build_system.declared
    assert project.build_system.backend == PEP517_DEFAULT_BACKEND
    assert project.stage("source").requires == ("setuptools>=40.8.0",)


def test_every_default_can_be_overridden() -> None:
    config = {
        "debian-suite": "trixie",
        "source-date-epoch": 1700000000,
        "stages": {
            "source": {
                "requires": ["build", "flit_core==3.9"],
                "outputs": ["*.tar.gz", "*.whl"],
                "budget": {"packages": 25, "bytes": "60 MB"},
                "env": {"FOO": "1"},
            }
        },
    }
    project = build_project(ROOT, PYPROJECT, FLIT, config)
    source = project.stage("source")
    assert project.debian_suite == "trixie"
    assert project.source_date_epoch == 1700000000
    assert source.requires == ("build", "flit_core==3.9")
    assert source.budget.packages == 25
    assert source.budget.bytes == 60_000_000
    assert source.env == (("FOO", "1"),)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"debian_suite": "trixie"}, r"unknown key 'tool.pyrel.debian_suite' \(did you mean 'debian-suite'\?\)"),
        (
            {"stages": {"source": {"ouputs": []}}},
            r"unknown key 'tool.pyrel.stages.source.ouputs' \(did you mean 'outputs'\?\)",
        ),
        ({"source-date-epoch": "yesterday"}, r"'tool.pyrel.source-date-epoch' must be an integer"),
        ({"stages": {"source": {"run": "make"}}}, r"'tool.pyrel.stages.source.run' must be a list"),
        ({"stages": {"source": {"budget": {"packages": True}}}}, r"budget.packages' must be an integer"),
        ({"stages": {"source": {"budget": {"bytes": "lots"}}}}, r"is not a size"),
        ({"provider": "conda"}, r"'tool.pyrel.provider' = 'conda' is not a provider"),
        (
            {"stages": {"source": {"system-exclude": ["lib readline"]}}},
            r"'tool.pyrel.stages.source.system-exclude' has 'lib readline', which is not a Debian package name",
        ),
        ({"stages": {"source": {"system-exclude": "libdb*"}}}, r"system-exclude' must be a list"),
        ({"stages": {"Bad_Name": {"run": ["x"], "outputs": ["x"]}}}, r"stage name 'Bad_Name' is not allowed"),
        ({"stages": {"docs": {"run": ["x"], "outputs": ["x"], "inputs": ["nope"]}}}, r"input stage 'nope'"),
        ({"stages": {"source": {"env": {"PATH": "/usr/bin"}}}}, r"env.PATH' cannot be set"),
        ({"stages": {"extra": {"run": ["x"]}}}, r"declares no outputs"),
        ({"skip-stages": ["docs"]}, r"'tool.pyrel.skip-stages' names 'docs', which is not a stage of this project"),
        ({"skip-stages": ["source"]}, r"'tool.pyrel.skip-stages' skips 'source', which stage 'wheel' reads"),
        ({"skip-stages": "wheel"}, r"skip-stages' must be a list"),
        ({"stages": {"source": {"git": True}}}, r"'tool.pyrel.stages.source.git' = true, but /project is not the top"),
    ],
)
def test_bad_config_names_file_and_key(config: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        build_project(ROOT, PYPROJECT, FLIT, config)
    assert str(PYPROJECT) in str(info.value)
    assert info.value.exit_code == 2


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(NotAProjectError, match="not a Python project"):
        load_project(tmp_path)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_project(tmp_path)


def test_pyrel_toml_project_declares_its_own_stages(tmp_path: Path) -> None:
    (tmp_path / "pyrel.toml").write_text(
        '[stages.source]\nsystem = ["make"]\nrun = ["make dist"]\noutputs = ["*.tar.gz"]\n'
    )
    project = load_project(tmp_path)
    assert project.build_system is None
    assert project.stage_names == ("source",)
    assert project.stage("source").system == ("make",)


def test_sizes() -> None:
    assert parse_size("60 MB", PYPROJECT, "k") == 60_000_000
    assert parse_size("1.5 GiB", PYPROJECT, "k") == int(1.5 * 2**30)
    assert parse_size(123, PYPROJECT, "k") == 123


def test_setup_py_only_project_uses_the_legacy_backend(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    project = load_project(tmp_path)
    assert project.build_system is not None
    assert project.build_system.backend == PEP517_DEFAULT_BACKEND
    assert project.stage_names == ("source", "wheel")


def test_a_setup_py_project_configured_in_pyrel_toml_keeps_its_built_in_stages(tmp_path: Path) -> None:
    """pyrel.toml is the only place a setup.py-only project can be configured: it must not turn it into a
    project of custom stages only (a release of 2022 with exclude-newer failed with "no stages are declared")."""
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    (tmp_path / "pyrel.toml").write_text('exclude-newer = "2022-06-16T00:00:00Z"\n')
    project = load_project(tmp_path)
    assert project.config_file.name == "pyrel.toml"
    assert project.build_system is not None
    assert project.build_system.backend == PEP517_DEFAULT_BACKEND
    assert project.stage_names == ("source", "wheel")
    assert project.exclude_newer


@pytest.mark.parametrize(
    ("build_system", "expected"),
    [
        (
            {"build-backend": "flit_core/buildapi"},
            "'build-system.build-backend' = 'flit_core/buildapi' is not a backend",
        ),
        ({"build-backend": "backend:"}, "is not a backend"),
        ({"backend-path": ["/opt/backend"]}, "'build-system.backend-path' entry '/opt/backend' is outside the project"),
        ({"backend-path": ["_build/../../up"]}, "entry '_build/../../up' is outside the project"),
    ],
)
def test_a_build_system_pyrel_could_not_call_is_refused(build_system: dict[str, object], expected: str) -> None:
    pyproject = {**FLIT, "build-system": {**FLIT["build-system"], **build_system}}
    with pytest.raises(ConfigError, match=expected) as info:
        build_project(ROOT, PYPROJECT, pyproject, {})
    assert info.value.hint


def test_an_in_tree_backend_and_an_object_path_are_kept_as_declared() -> None:
    pyproject = {
        **FLIT,
        "build-system": {"requires": [], "build-backend": "backend.api:hooks.v1", "backend-path": ["_build", "."]},
    }
    build_system = build_project(ROOT, PYPROJECT, pyproject, {}).build_system
    assert build_system is not None
    assert (build_system.backend, build_system.backend_path) == ("backend.api:hooks.v1", ("_build", "."))


def test_skip_stages_names_stages_not_to_lock_or_build() -> None:
    project = build_project(ROOT, PYPROJECT, FLIT, {"skip-stages": ["wheel", "wheel"]})
    assert project.skip_stages == ("wheel",)
    assert project.stage_names == ("source", "wheel")  # still a stage: the lock records it as skipped
    both = build_project(ROOT, PYPROJECT, FLIT, {"skip-stages": ["source", "wheel"]})
    assert both.skip_stages == ("source", "wheel")
