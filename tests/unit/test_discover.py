from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from pywrap.config.discovery import (
    DEV_FILES,
    DEV_GROUPS,
    DOCS_FILES,
    DOCS_GROUPS,
    DOCS_TOX_ENVS,
    TEST_FILES,
    TEST_GROUPS,
    TEST_TOX_ENVS,
    expand_self,
    project_name,
    project_version,
    runtime_requirements,
    stage_requirements,
)
from pywrap.config.loader import build_project
from pywrap.errors import ConfigError

FLIT = {"build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"}}


def _project(**tables: object) -> dict[str, object]:
    return {**FLIT, "project": {"name": "demo", "version": "1.2", "dependencies": ["attrs>=23"]}, **tables}


def test_dependency_groups_come_first_and_include_groups(tmp_path: Path) -> None:
    pyproject = _project(
        **{
            "dependency-groups": {"tests": ["pytest>=8", {"include-group": "typing"}], "typing": ["mypy"]},
            "project": {"name": "demo", "optional-dependencies": {"tests": ["nose"]}},
        }
    )
    found = stage_requirements(tmp_path, pyproject, "demo", TEST_GROUPS, TEST_FILES)
    assert found.lines == ("pytest>=8", "mypy")
    assert found.origin == "[dependency-groups] tests"


def test_extras_referring_to_the_project_itself_are_expanded() -> None:
    extras = {"tests": ["demo[typing]", "hypothesis"], "typing": ["mypy; python_version >= '3.10'"]}
    assert expand_self(["demo[tests]", "pytest"], "Demo", extras) == [
        "pytest",
        "hypothesis",
        "mypy; python_version >= '3.10'",
    ]


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
        "Requires-Dist: pytest; extra == 'tests'\n"
    )
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
    assert project.stage_names == ("source", "wheel", "docs", "test")
    docs = project.stage("docs")
    # The project comes from the wheel stage: no backend here.
    assert docs.requires == ("attrs>=23", "furo", "sphinx")
    assert docs.inputs == ("wheel",)
    assert docs.outputs == ("*.tar.gz", "sphinx-*.log")
    assert "--sphinx-dir docs" in docs.run[0] and "--name demo --version 1.2" in docs.run[0]
    test = project.stage("test")
    assert test.inputs == ("source", "wheel")
    assert test.requires == ("attrs>=23", "pytest")
    assert test.outputs == ("junit.xml", "pytest.log", "installed-wheel.json")
    assert test.status_file == "exit-code"
    # A C source in the tree: the compiler and auditwheel are the wheel stage's alone.
    wheel = project.stage("wheel")
    assert wheel.compiler and wheel.inputs == ("source",) and wheel.builds_wheel
    assert wheel.requires == ("flit_core>=3.4", "readme_renderer>=35", "packaging>=24.2", "auditwheel>=6.8")
    assert not docs.compiler and not test.compiler and not docs.builds_wheel and not test.builds_wheel


def test_docs_options_and_their_errors(tmp_path: Path) -> None:
    (tmp_path / "doc").mkdir()
    (tmp_path / "doc" / "conf.py").write_text("")
    config = {"stages": {"docs": {"builders": ["html", "epub"], "fail-on-warning": True}}}
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), config)
    command = project.stage("docs").run[0]
    assert "--builders html,epub" in command and "--fail-on-warning" in command and "--sphinx-dir doc" in command
    assert project.stage("docs").outputs == ("*.tar.gz", "sphinx-*.log")
    pdf = build_project(
        tmp_path, tmp_path / "pyproject.toml", _project(), {"stages": {"docs-pdf": {"builders": ["latexpdf"]}}}
    ).stage("docs-pdf")
    assert pdf.outputs == ("*.tar.gz", "sphinx-*.log", "*.pdf")  # the PDF is an artifact of its own
    with pytest.raises(ConfigError, match="unknown builder 'pdf'"):
        build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {"stages": {"docs": {"builders": ["pdf"]}}})
    with pytest.raises(ConfigError, match=r"unknown key 'tool.pyrel.stages.source.builders'"):
        build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {"stages": {"source": {"builders": []}}})


def test_no_docs_or_tests_means_no_such_stages(tmp_path: Path) -> None:
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage_names == ("source", "wheel")
    wheel = project.stage("wheel")
    # Pure Python: the backend and the upload checks; no compiler, no auditwheel.
    assert wheel.requires == ("flit_core>=3.4", "readme_renderer>=35", "packaging>=24.2")
    assert not wheel.compiler and wheel.system == ()
    assert wheel.outputs == ("*.whl", "wheel-checks.json")
    assert wheel.run == ('python "$pyrelTools/stage_tools.py" wheel',)
    assert "libreadline*" in wheel.system_exclude  # only the backend runs there, as in the source stage


def test_a_setup_py_sdist_without_a_project_table_reads_pkg_info(tmp_path: Path) -> None:
    # python-dateutil: [build-system] only, metadata in setup.cfg; its sdist's PKG-INFO has the truth.
    (tmp_path / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: python-dateutil\nVersion: 2.9.0\nRequires-Dist: six>=1.5\n\nName: not-a-header\n"
    )
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


def _tests(root: Path, pyproject: Mapping[str, object], name: str = "demo") -> tuple[tuple[str, ...], str, str]:
    found = stage_requirements(root, pyproject, name, TEST_GROUPS, TEST_FILES, DEV_GROUPS, DEV_FILES)
    return found.lines, found.file, found.origin


def test_development_requirements_are_the_last_test_fallback(tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.txt").write_text("pytest\nhypothesis\n")
    assert _tests(tmp_path, _project())[1] == "requirements-dev.txt"
    dev_group = _project(**{"dependency-groups": {"dev": ["pytest", "ruff"]}})
    assert _tests(tmp_path, dev_group) == (("pytest", "ruff"), "", "[dependency-groups] dev")
    (tmp_path / "requirements-test.txt").write_text("pytest\n")
    assert _tests(tmp_path, dev_group)[1] == "requirements-test.txt"


POETRY = {
    "build-system": {"requires": ["poetry-core"], "build-backend": "poetry.core.masonry.api"},
    "tool": {
        "poetry": {
            "name": "tomlish",
            "version": "0.13.2",
            "dependencies": {"python": ">=3.8", "attrs": "^23.1", "rich": {"version": "~13.7", "optional": True}},
            "group": {
                "test": {"dependencies": {"pytest": "^7.2.0", "PyYAML": {"version": "^6.0", "python": "^3.8"}}},
                "docs": {"optional": True, "dependencies": {"Sphinx": ">=4.3 <8", "furo": "*"}},
            },
            "dev-dependencies": {"mypy": "^0.990"},
        }
    },
}


def test_poetry_tables_name_the_project_its_dependencies_and_groups(tmp_path: Path) -> None:
    assert project_name(tmp_path, POETRY) == "tomlish"
    assert project_version(tmp_path, POETRY) == "0.13.2"
    assert runtime_requirements(tmp_path, POETRY, "tomlish") == (["attrs>=23.1,<24"], "[tool.poetry]")
    assert _tests(tmp_path, POETRY, "tomlish") == (
        ("pytest>=7.2.0,<8", 'PyYAML>=6.0,<7; (python_version >= "3.8" and python_version < "4")'),
        "",
        "[tool.poetry.group.test.dependencies]",
    )
    docs = stage_requirements(tmp_path, POETRY, "tomlish", DOCS_GROUPS, DOCS_FILES)
    assert docs.lines == ("Sphinx>=4.3,<8", "furo")
    legacy = {"tool": {"poetry": {"name": "x", "dev-dependencies": {"pytest": "^7.2.0", "PyYAML": "^6.0"}}}}
    assert _tests(tmp_path, legacy, "x") == (
        ("pytest>=7.2.0,<8", "PyYAML>=6.0,<7"),
        "",
        "[tool.poetry.dev-dependencies]",
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"git": "https://example.invalid/x.git"}, "comes from a git source"),
        ("^1.0 || ^2.0", "has the constraint '^1.0 || ^2.0', which pyrel does not translate"),
        ([{"version": "^1", "python": "<3.9"}, {"git": "https://example.invalid/x.git"}], "comes from a git source"),
        ([], "must be a constraint string or a table, got []"),
    ],
)
def test_poetry_entries_pyrel_cannot_pin_name_the_key(tmp_path: Path, value: object, words: str) -> None:
    pyproject = {"tool": {"poetry": {"name": "x", "group": {"test": {"dependencies": {"thing": value}}}}}}
    with pytest.raises(ConfigError, match=re.escape("tool.poetry.group.test.dependencies.thing")) as caught:
        _tests(tmp_path, pyproject, "x")
    assert words in caught.value.message


def test_poetry_multiple_constraint_entries_give_one_requirement_each(tmp_path: Path) -> None:
    """Poetry's list of constraints, each under its own python or markers (cleo's dev group), as poetry-core
    writes them into Requires-Dist: one requirement per entry, its condition as the marker."""
    dev = {
        "mypy": [{"version": "^1.0", "python": "<3.8"}, {"version": "^1.5", "python": ">=3.8"}],
        "pre-commit": [
            {"version": "^3.0", "markers": "sys_platform != 'win32'"},
            {"version": "^2.0", "python": "~3.7"},
        ],
        "pytest": "^7.1.2",
    }
    pyproject = {"tool": {"poetry": {"name": "x", "group": {"dev": {"dependencies": dev}}}}}
    assert _tests(tmp_path, pyproject, "x") == (
        (
            'mypy>=1.0,<2; (python_version < "3.8")',
            'mypy>=1.5,<2; (python_version >= "3.8")',
            "pre-commit>=3.0,<4; (sys_platform != 'win32')",
            'pre-commit>=2.0,<3; (python_version >= "3.7" and python_version < "3.8")',
            "pytest>=7.1.2,<8",
        ),
        "",
        "[tool.poetry.group.dev.dependencies]",
    )
    runtime = {"tool": {"poetry": {"name": "x", "dependencies": {"rich": [{"version": "^13", "optional": True}]}}}}
    assert runtime_requirements(tmp_path, runtime, "x") == ([], "[tool.poetry]")


def test_pdm_and_hatch_groups(tmp_path: Path) -> None:
    pdm = _project(tool={"pdm": {"dev-dependencies": {"test": ["pytest>=8"], "lint": ["ruff"]}}})
    assert _tests(tmp_path, pdm) == (("pytest>=8",), "", "[tool.pdm.dev-dependencies] test")
    hatch = _project(
        project={"name": "demo", "optional-dependencies": {"cli": ["click"]}},
        tool={"hatch": {"envs": {"hatch-test": {"extra-dependencies": ["pytest-mock"], "features": ["cli"]}}}},
    )
    assert _tests(tmp_path, hatch) == (("pytest-mock", "click"), "", "[tool.hatch.envs.hatch-test]")
    default_env = _project(tool={"hatch": {"envs": {"default": {"dependencies": ["pytest", "coverage"]}}}})
    assert _tests(tmp_path, default_env) == (("pytest", "coverage"), "", "[tool.hatch.envs.default]")


def test_uvs_dev_dependencies_are_the_development_requirements(tmp_path: Path) -> None:
    # griffe: its test tools are in [tool.uv] dev-dependencies (uv's table before dependency groups).
    (tmp_path / "tests").mkdir()
    pyproject = _project(tool={"uv": {"dev-dependencies": ["jsonschema>=4", "pytest>=8"]}})
    test = build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {}).stage("test")
    assert test.requires == ("attrs>=23", "jsonschema>=4", "pytest>=8")


def test_development_requirements_alone_make_no_test_stage(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    linters = _project(**{"dependency-groups": {"dev": ["ruff"]}})
    assert build_project(tmp_path, tmp_path / "pyproject.toml", linters, {}).stage_names == ("source", "wheel")
    (tmp_path / "tests").mkdir()
    project = build_project(tmp_path, tmp_path / "pyproject.toml", linters, {})
    assert project.stage("test").requires[-2:] == ("ruff", "pytest")


def test_test_modules_at_the_top_make_the_test_stage_of_a_project_without_a_test_tree(tmp_path: Path) -> None:
    # six: six.py and test_six.py, no tests/; the runner is told which modules are the suite.
    (tmp_path / "pyproject.toml").write_text("")
    for name in ("demo.py", "setup.py", "test_demo.py", "demo_test.py", "testing_helpers.py"):
        (tmp_path / name).write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("test").run == (
        'python "$pyrelTools/stage_tools.py" test --tests demo_test.py --tests test_demo.py',
    )
    # typing_extensions: the module and its tests in src/.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "test_src.py").write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("test").run[0].endswith("--tests demo_test.py --tests src/test_src.py --tests test_demo.py")
    # A test tree is the suite when there is one; the modules at the top are then not named.
    (tmp_path / "tests").mkdir()
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("test").run == ('python "$pyrelTools/stage_tools.py" test',)


def test_the_wheel_stage_compiles_the_projects_extension_not_its_test_inputs(tmp_path: Path) -> None:
    # pycparser: C files are its tests' and examples' inputs, and headers alone compile nothing.
    for name in ("tests/c_files/year.c", "examples/c_files/funky.c", "utils/fake_libc_include/stdio.h"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert not project.stage("wheel").compiler
    # siphash24: meson generates its .pyx from a template.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "siphash24.pyx.in").write_text("")
    assert build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {}).stage("wheel").compiler


@pytest.mark.parametrize("backend", ["scikit_build_core.build", "mesonpy"])
def test_a_backend_that_builds_extensions_gets_the_compiler_whatever_the_sources_are_named(
    tmp_path: Path, backend: str
) -> None:
    pyproject = {**_project(), "build-system": {"requires": ["x"], "build-backend": backend}}
    assert build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {}).stage("wheel").compiler


def test_sphinx_docs_in_a_documentation_directory_are_found(tmp_path: Path) -> None:
    (tmp_path / "documentation").mkdir()
    (tmp_path / "documentation" / "conf.py").write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("docs").sphinx_dir == "documentation"


def test_cpp_sources_give_the_stage_that_builds_the_wheel_gxx(tmp_path: Path) -> None:
    # msgpack: a C++ extension; setuptools calls $CXX, which exists only with g++ locked.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "_ext.cpp").write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("wheel").compiler and project.stage("wheel").system == ("g++",)
    # docs and test install the wheel stage's wheel: no compiler there.
    for name in ("source", "docs", "test"):
        assert not project.stage(name).compiler and project.stage(name).system == ()
    (tmp_path / "src" / "_ext.cpp").rename(tmp_path / "src" / "_ext.c")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("wheel").compiler and project.stage("wheel").system == ()
    assert project_version(tmp_path, _project()) == "1.2"


TOX_INI = """\
[tox]
envlist = py{39,310,311},lint

[testenv]
deps =
    pytest
    matplotlib; implementation_name != 'pypy'
    py39: importlib-metadata
    {[base]deps}
    -r{toxinidir}/requirements/extra.txt
    foo>=1,<2  # a comment
extras = diagrams, cli
commands = pytest tests {posargs}

[testenv:docs]
deps = sphinx-rtd-theme
"""


def test_tox_environments_give_test_and_docs_requirements(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text(TOX_INI)
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "extra.txt").write_text("hypothesis\n")
    pyproject = _project(
        project={"name": "demo", "optional-dependencies": {"diagrams": ["railroad-diagrams"], "cli": ["click"]}}
    )
    found = stage_requirements(
        tmp_path, pyproject, "demo", TEST_GROUPS, TEST_FILES, DEV_GROUPS, DEV_FILES, TEST_TOX_ENVS
    )
    assert found.lines == (
        "pytest",
        "matplotlib; implementation_name != 'pypy'",
        "foo>=1,<2",
        "railroad-diagrams",
        "click",
    )
    assert (found.file, found.origin, found.fallback) == ("requirements/extra.txt", "tox [testenv]", True)
    docs = stage_requirements(tmp_path, pyproject, "demo", DOCS_GROUPS, DOCS_FILES, tox_envs=DOCS_TOX_ENVS)
    assert docs.lines == ("sphinx-rtd-theme",)
    # A test group of the project's own comes first.
    grouped = {**pyproject, "dependency-groups": {"test": ["pytest>=8"]}}
    assert stage_requirements(tmp_path, grouped, "demo", TEST_GROUPS, TEST_FILES, tox_envs=TEST_TOX_ENVS).lines == (
        "pytest>=8",
    )


def test_tox_toml_environments(tmp_path: Path) -> None:
    (tmp_path / "tox.toml").write_text('[env_run_base]\ndeps = ["pytest", "-r requirements.txt"]\nextras = ["cli"]\n')
    pyproject = _project(project={"name": "demo", "optional-dependencies": {"cli": ["click"]}})
    found = stage_requirements(tmp_path, pyproject, "demo", TEST_GROUPS, TEST_FILES, tox_envs=TEST_TOX_ENVS)
    assert (found.lines, found.file, found.origin) == (("pytest", "click"), "", "tox [testenv]")


def test_extra_requires_adds_to_the_defaults_and_the_projects_extras_are_expanded(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    pyproject = _project(
        **{
            "dependency-groups": {"test": ["pytest>=8"]},
            "project": {
                "name": "demo",
                "version": "1.2",
                "optional-dependencies": {"yaml": ["PyYAML>=6"], "fast": ["orjson"]},
            },
        }
    )
    name = "demo"
    config = {"stages": {"test": {"extra-requires": [f"{name}[yaml]", "hypothesis"]}}}
    test = build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, config).stage("test")
    default = build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {}).stage("test")
    # The defaults stay; the project's own extra is its contents, never the project from a registry.
    assert test.requires == (*default.requires, "hypothesis", "PyYAML>=6")
    declared = build_project(
        tmp_path,
        tmp_path / "pyproject.toml",
        pyproject,
        {"stages": {"test": {"requires": ["pytest", f"{name}[fast]"]}}},
    ).stage("test")
    assert declared.requires == ("pytest", "orjson")
    with pytest.raises(ConfigError, match=r"'tool.pyrel.stages.test.extra-requires' must be a list of strings"):
        build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {"stages": {"test": {"extra-requires": [3]}}})


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("pytest\n")


def test_test_requirement_files_under_the_names_projects_give_them(tmp_path: Path) -> None:
    # numpy's requirements/test_requirements.txt, a project's requirements/tests-py3.txt, OpenStack's
    # test-requirements.txt, Home Assistant's requirements_test.txt: the patterns of TEST_FILES.
    for name in (
        "requirements/test_requirements.txt",
        "requirements/testing.txt",
        "requirements-testing.txt",
        "requirements_test.txt",
        "test-requirements.txt",
        "test_requirements.txt",
        "testing/requirements.txt",
        "tests/requirements-ci.txt",
    ):
        root = tmp_path / name.replace("/", "_")
        _touch(root, name)
        assert _tests(root, _project())[1:] == (name, name), name


def test_a_pattern_s_matches_come_shortest_name_first_and_python_2_files_are_left_out(tmp_path: Path) -> None:
    from pywrap.config.discovery import requirement_files

    _touch(
        tmp_path,
        "requirements/tests-py2.txt",
        "requirements/tests-py3.txt",
        "requirements/tests.txt",
        "requirements/testing.txt",
        "requirements/test-ci.txt",
        "requirements-test-py27.txt",
        "requirements-tests.txt",
        "test-requirements.txt",
    )
    assert requirement_files(tmp_path, TEST_FILES) == [
        "requirements/tests.txt",
        "requirements/test-ci.txt",
        "requirements/testing.txt",
        "requirements/tests-py3.txt",
        "requirements-tests.txt",
        "test-requirements.txt",
    ]
    assert _tests(tmp_path, _project())[1] == "requirements/tests.txt"
    # The order does not depend on the order the directory lists its files in.
    (tmp_path / "requirements/tests.txt").unlink()
    assert _tests(tmp_path, _project())[1] == "requirements/test-ci.txt"
    for name in ("requirements/test-ci.txt", "requirements/testing.txt"):
        (tmp_path / name).unlink()
    assert _tests(tmp_path, _project())[1] == "requirements/tests-py3.txt"  # never tests-py2.txt


def test_testing_extras_of_a_setup_py_sdist_come_from_pkg_info(tmp_path: Path) -> None:
    # setuptools' own sdists: the "testing" extra is only in PKG-INFO (setup.cfg wrote it there).
    (tmp_path / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six\n"
        "Provides-Extra: testing\n"
        "Requires-Dist: pytest (>=6) ; extra == 'testing'\n"
        'Requires-Dist: pytest-mypy>=0.9.1; platform_python_implementation != "PyPy" and extra == "testing"\n'
        'Requires-Dist: demo[docs]; extra == "testing"\n'
        'Requires-Dist: odd; extra == "testing" or extra == "docs"\n'
        'Provides-Extra: docs\nRequires-Dist: sphinx; extra == "docs"\n'
    )
    (tmp_path / "tests").mkdir()
    pyproject = {"build-system": {"requires": ["setuptools"], "build-backend": "setuptools.build_meta"}}
    assert _tests(tmp_path, pyproject) == (
        ("pytest>=6", 'pytest-mypy>=0.9.1; platform_python_implementation != "PyPy"', "sphinx"),
        "",
        "PKG-INFO extra testing",
    )
    project = build_project(tmp_path, tmp_path / "pyproject.toml", pyproject, {})
    assert project.stage("test").requires == (
        "six",
        "pytest>=6",
        'pytest-mypy>=0.9.1; platform_python_implementation != "PyPy"',
        "sphinx",
    )
    # A static [project] table is the whole truth: no PKG-INFO extras behind it.
    assert _tests(tmp_path, _project())[2] == ""


def test_testing_extras_of_a_setup_cfg_project(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text(
        "[metadata]\nname = demo\n\n[options.extras_require]\n"
        'testing =\n    pytest >= 6\n    # a comment\n    pytest-cov; python_version >= "3.8"\n'
        "docs = sphinx; furo\n"
    )
    pyproject = {"build-system": {"requires": ["setuptools"], "build-backend": "setuptools.build_meta"}}
    assert _tests(tmp_path, pyproject) == (
        ("pytest >= 6", 'pytest-cov; python_version >= "3.8"'),
        "",
        "setup.cfg [options.extras_require] testing",
    )
    docs = stage_requirements(tmp_path, pyproject, "demo", DOCS_GROUPS, DOCS_FILES)
    assert docs.lines == ("sphinx", "furo")


def test_a_unittest_only_suite_gets_pytest_from_pyrel(tmp_path: Path) -> None:
    # No test requirements at all (unittest's TestCase classes), or a requirements file without pytest:
    # the stage runs the suite with pytest, which pyrel adds.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_basic.py").write_text("import unittest\n")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert project.stage("test").requires == ("attrs>=23", "pytest")
    (tmp_path / "test-requirements.txt").write_text("mock\n")
    test = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {}).stage("test")
    assert (test.requires, test.requires_file) == (("attrs>=23", "pytest"), "test-requirements.txt")


def test_a_suite_inside_the_package_is_said_at_lock_not_silently_left_out(tmp_path: Path) -> None:
    from pywrap.cli.app import unplanned_tests

    # toolz: its tests are toolz/tests, inside the package the wheel installs; no test stage is planned.
    (tmp_path / "demo" / "tests").mkdir(parents=True)
    (tmp_path / "demo" / "__init__.py").write_text("")
    (tmp_path / "demo" / "tests" / "test_demo.py").write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})
    assert "test" not in project.stage_names
    [warning] = unplanned_tests(project)
    assert warning.startswith("no test stage: the tests in demo/tests are inside the package")
    assert "[tool.pyrel.stages.test]" in warning
    (tmp_path / "tests").mkdir()  # a test tree: the stage is planned, nothing to say
    assert unplanned_tests(build_project(tmp_path, tmp_path / "pyproject.toml", _project(), {})) == []
