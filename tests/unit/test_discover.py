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
