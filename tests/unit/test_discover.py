from __future__ import annotations

from pathlib import Path

import pytest

from pywrap.config import build_project
from pywrap.discover import (
    DOCS_FILES,
    DOCS_GROUPS,
    TEST_FILES,
    TEST_GROUPS,
    expand_self,
    project_name,
    project_version,
    runtime_requirements,
    stage_requirements,
)
from pywrap.errors import ConfigError

FLIT = {"build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"}}


def _project(**tables: object) -> dict[str, object]:
    return {**FLIT, "project": {"name": "demo", "version": "1.2", "dependencies": ["attrs>=23"]}, **tables}


def test_dependency_groups_come_first_and_include_groups(tmp_path: Path) -> None:
    pyproject = _project(**{
        "dependency-groups": {"tests": ["pytest>=8", {"include-group": "typing"}], "typing": ["mypy"]},
        "project": {"name": "demo", "optional-dependencies": {"tests": ["nose"]}},
    })
    found = stage_requirements(tmp_path, pyproject, "demo", TEST_GROUPS, TEST_FILES)
    assert found.lines == ("pytest>=8", "mypy")
    assert found.origin == "[dependency-groups] tests"


def test_extras_referring_to_the_project_itself_are_expanded() -> None:
    extras = {"tests": ["demo[typing]", "hypothesis"], "typing": ["mypy; python_version >= '3.10'"]}
    assert expand_self(["demo[tests]", "pytest"], "Demo", extras) == [
        "pytest", "hypothesis", "mypy; python_version >= '3.10'"]


def test_requirement_files_where_projects_keep_them(tmp_path: Path) -> None:
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "docs.txt").write_text("sphinx\nfuro\n")
    found = stage_requirements(tmp_path, _project(), "demo", DOCS_GROUPS, DOCS_FILES)
    assert found.file == "requirements/docs.txt"
    assert stage_requirements(tmp_path, _project(), "demo", TEST_GROUPS, TEST_FILES).origin == ""


def test_include_group_cycle_is_an_error(tmp_path: Path) -> None:
    pyproject = _project(**{"dependency-groups": {"docs": [{"include-group": "docs"}]}})
    with pytest.raises(ConfigError, match="includes itself"):
        stage_requirements(tmp_path, pyproject, "demo", DOCS_GROUPS, DOCS_FILES)


def test_runtime_requirements_and_version_from_pkg_info(tmp_path: Path) -> None:
    (tmp_path / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: demo\nVersion: 3.4.5\nRequires-Dist: six>=1\n"
        "Requires-Dist: pytest; extra == 'tests'\n")
    dynamic = {**FLIT, "project": {"name": "demo", "dynamic": ["version", "dependencies"]}}
    assert runtime_requirements(tmp_path, dynamic, "demo") == (["six>=1"], "PKG-INFO")
    assert project_version(tmp_path, dynamic) == "3.4.5"
    assert runtime_requirements(tmp_path, _project(), "demo") == (["attrs>=23"], "[project]")


def test_builtin_docs_and_test_stages_are_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "speedups.c").write_text("")
    pyproject = _project(**{"dependency-groups": {"docs": ["furo"]}})
    project = build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {})
    assert project.stage_names == ("source", "docs", "test")
    docs = project.stage("docs")
    assert docs.requires == ("build", "flit_core>=3.4", "attrs>=23", "furo", "sphinx")
    assert docs.outputs == ("*.tar.gz", "sphinx-*.log")
    assert "--sphinx-dir docs" in docs.run[0] and "--name demo --version 1.2" in docs.run[0]
    test = project.stage("test")
    assert test.inputs == ("source",)
    assert test.requires[-1] == "pytest"
    assert test.compiler  # a C source in the tree
    assert test.status_file == "exit-code"


def test_docs_options_and_their_errors(tmp_path: Path) -> None:
    (tmp_path / "doc").mkdir()
    (tmp_path / "doc" / "conf.py").write_text("")
    config = {"stages": {"docs": {"builders": ["html", "epub"], "fail-on-warning": True}}}
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), config)
    command = project.stage("docs").run[0]
    assert "--builders html,epub" in command and "--fail-on-warning" in command and "--sphinx-dir doc" in command
    with pytest.raises(ConfigError, match="unknown builder 'pdf'"):
        build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {"stages": {"docs": {"builders": ["pdf"]}}})
    with pytest.raises(ConfigError, match=r"unknown key 'tool.pyrel.stages.source.builders'"):
        build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {"stages": {"source": {"builders": []}}})


def test_no_docs_or_tests_means_no_such_stages(tmp_path: Path) -> None:
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage_names == ("source",)


def test_a_setup_py_sdist_without_a_project_table_reads_pkg_info(tmp_path: Path) -> None:
    # python-dateutil: [build-system] only, metadata in setup.cfg; its sdist's PKG-INFO has the truth.
    (tmp_path / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: python-dateutil\nVersion: 2.9.0\nRequires-Dist: six>=1.5\n\n"
        "Name: not-a-header\n")
    (tmp_path / "tests").mkdir()
    pyproject = {"build-system": {"requires": ["setuptools"], "build-backend": "setuptools.build_meta"}}
    assert runtime_requirements(tmp_path, pyproject, "x") == (["six>=1.5"], "PKG-INFO")
    assert project_name(tmp_path, pyproject) == "python-dateutil"
    project = build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {})
    assert project.name == "python-dateutil"
    assert "six>=1.5" in project.stage("test").requires


def test_project_name_from_setup_cfg_else_the_directory(tmp_path: Path) -> None:
    assert project_name(tmp_path, {}) == tmp_path.name
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = my-dist\n")
    assert project_name(tmp_path, {}) == "my-dist"
    assert project_name(tmp_path, {"project": {"name": "own"}}) == "own"


def test_development_requirements_are_the_last_test_fallback(tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.txt").write_text("pytest\nhypothesis\n")
    assert stage_requirements(tmp_path, _project(), "demo", TEST_GROUPS, TEST_FILES).file == "requirements-dev.txt"
    (tmp_path / "requirements-test.txt").write_text("pytest\n")
    assert stage_requirements(tmp_path, _project(), "demo", TEST_GROUPS, TEST_FILES).file == "requirements-test.txt"


def test_cpp_sources_give_the_stages_that_build_the_wheel_gxx(tmp_path: Path) -> None:
    # msgpack: a C++ extension; setuptools calls $CXX, which exists only with g++ locked.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "_ext.cpp").write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    for name in ("docs", "test"):
        assert project.stage(name).compiler and project.stage(name).system == ("g++",)
    (tmp_path / "src" / "_ext.cpp").rename(tmp_path / "src" / "_ext.c")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("test").compiler and project.stage("test").system == ()
    assert project_version(tmp_path, _project()) == "1.2"
