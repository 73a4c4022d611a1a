"""The zero-config docs stage of an MkDocs site: discovery, requirements, the plugin table and its errors."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pywrap.config import mkdocs
from pywrap.config.loader import build_project
from pywrap.config.model import Project
from pywrap.errors import ConfigError
from pywrap.execution.hermeticity import classify

FLIT = {"build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"}}
PYPROJECT = {**FLIT, "project": {"name": "Demo.Site", "version": "2.0", "dependencies": ["attrs>=23"]}}

#: What the configuration of a real Material + mkdocstrings site looks like, tags included.
MATERIAL_SITE = """\
site_name: demo
site_url: !ENV [SITE_URL, "https://example.org/"]
theme:
  name: material
  custom_dir: !relative $config_dir/overrides
  features: [navigation.tabs]
plugins:
  - search
  - autorefs
  - mkdocstrings:
      handlers:
        python:
          paths: [src]
  - minify:
      minify_html: true
  - awesome-pages
markdown_extensions:
  - admonition
  - toc:
      permalink: true
  - markdown.extensions.tables
  - pymdownx.details
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
      emoji_generator: !!python/name:material.extensions.emoji.to_svg
extra:
  version: !!python/object/apply:os.getenv ["VERSION"]
"""


def _project(
    root: Path,
    site: str | None,
    config: dict[str, Any] | None = None,
    pyproject: dict[str, Any] | None = None,
    name: str = "mkdocs.yml",
) -> Project:
    if site is not None:
        (root / name).write_text(site)
    return build_project(root, root / "pyproject.toml", pyproject or PYPROJECT, config or {})


def _docs(config: dict[str, Any]) -> dict[str, Any]:
    return {"stages": {"docs": config}}


def test_a_material_site_gets_a_docs_stage_with_what_its_configuration_names(tmp_path: Path) -> None:
    project = _project(tmp_path, MATERIAL_SITE)
    assert project.stage_names == ("source", "wheel", "docs")
    docs = project.stage("docs")
    assert docs.requires == (
        "attrs>=23",
        "mkdocs",
        "mkdocs-material",
        "mkdocs-autorefs",
        "mkdocstrings[python]",
        "mkdocs-minify-plugin",
        "mkdocs-awesome-pages-plugin",
        "pymdown-extensions",
    )
    # mkdocstrings imports the project: the wheel stage's wheel, never the backend.
    assert docs.inputs == ("wheel",) and not docs.compiler
    assert docs.run == (
        'python "$pyrelTools/stage_tools.py" mkdocs --config-file mkdocs.yml --name demo_site --version 2.0',
    )
    assert docs.outputs == ("*.tar.gz", "mkdocs.log")


def test_mkdocs_yaml_is_found_and_sphinx_wins_over_mkdocs(tmp_path: Path) -> None:
    assert "--config-file mkdocs.yaml" in _project(tmp_path, "site_name: x\n", name="mkdocs.yaml").stage("docs").run[0]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("")
    docs = _project(tmp_path, "site_name: x\n").stage("docs")
    assert "docs --sphinx-dir docs" in docs.run[0] and "sphinx" in docs.requires
    assert _project(tmp_path / "docs", None, pyproject=PYPROJECT).stage_names == ("source", "wheel")


def test_fail_on_warning_builds_strict_and_mkdocs_builds_html_only(tmp_path: Path) -> None:
    docs = _project(tmp_path, "site_name: x\n", _docs({"fail-on-warning": True})).stage("docs")
    assert docs.run[0].endswith(" --strict")
    assert _project(tmp_path, None, _docs({"builders": ["html"]})).stage("docs").run[0].endswith("--version 2.0")
    with pytest.raises(
        ConfigError,
        match=r"'tool.pyrel.stages.docs.builders' = \['epub'\].*MkDocs site "
        r"\(mkdocs.yml\), which builds HTML only",
    ):
        _project(tmp_path, None, _docs({"builders": ["epub"]}))


def test_the_projects_docs_requirements_come_first(tmp_path: Path) -> None:
    group = {**PYPROJECT, "dependency-groups": {"docs": ["mkdocs-material>=9", "mkdocs-unknown-thing"]}}
    docs = _project(tmp_path, MATERIAL_SITE + "plugins: [unknown-thing]\n", pyproject=group).stage("docs")
    # Found as for Sphinx; mkdocs itself is added (the runner needs it), the table is not consulted.
    assert docs.requires == ("attrs>=23", "mkdocs-material>=9", "mkdocs-unknown-thing", "mkdocs")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "requirements.txt").write_text("mkdocs==1.6.1\n")
    docs = _project(tmp_path, None).stage("docs")
    assert docs.requires_file == "docs/requirements.txt" and docs.requires == ("attrs>=23", "mkdocs")


@pytest.mark.parametrize(
    ("plugin", "distribution"),
    [
        ("search", None),
        ("material/search", "mkdocs-material"),
        ("mkdocstrings", "mkdocstrings[python]"),
        ("autorefs", "mkdocs-autorefs"),
        ("git-revision-date-localized", "mkdocs-git-revision-date-localized-plugin"),
        ("minify", "mkdocs-minify-plugin"),
        ("macros", "mkdocs-macros-plugin"),
        ("awesome-pages", "mkdocs-awesome-pages-plugin"),
        ("gen-files", "mkdocs-gen-files"),
        ("literate-nav", "mkdocs-literate-nav"),
        ("section-index", "mkdocs-section-index"),
        ("glightbox", "mkdocs-glightbox"),
        ("redirects", "mkdocs-redirects"),
        ("include-markdown", "mkdocs-include-markdown-plugin"),
        ("blog", "mkdocs-material"),
        ("material/social", "mkdocs-material[imaging]"),
    ],
)
def test_each_plugin_maps_to_its_distribution(tmp_path: Path, plugin: str, distribution: str | None) -> None:
    enabled = "\n      enabled: false" if plugin.startswith("git-") else ""
    docs = _project(tmp_path, f"site_name: x\nplugins:\n  - {plugin}:{enabled}\n").stage("docs")
    assert docs.requires == ("attrs>=23", "mkdocs", *([distribution] if distribution else []))


def test_mkdocstrings_handlers_are_its_extras_and_extras_are_merged(tmp_path: Path) -> None:
    site = """\
theme: {name: material}
plugins:
  social: {}
  mkdocstrings:
    default_handler: crystal
    handlers: {python: {}}
markdown_extensions: [pymdownx.tabbed, materialx.emoji]
"""
    docs = _project(tmp_path, site).stage("docs")
    assert docs.requires == (
        "attrs>=23",
        "mkdocs",
        "mkdocs-material[imaging]",
        "mkdocstrings[crystal,python]",
        "pymdown-extensions",
    )


def test_an_unknown_plugin_is_an_error_naming_the_file_the_plugin_and_the_fix(tmp_path: Path) -> None:
    site = "site_name: x\nplugins:\n  - search\n  - mermaid2\n  - i18n:\n      languages: []\n"
    with pytest.raises(ConfigError) as caught:
        _project(tmp_path, site)
    assert str(caught.value).startswith(f"{tmp_path / 'mkdocs.yml'}: plugin 'mermaid2', plugin 'i18n' are not among")
    assert "[tool.pyrel.stages.docs].extra-requires" in (caught.value.hint or "")
    # The fix: the distributions in extra-requires (whose names hold the plugins'); the defaults stay.
    fixed = _docs({"extra-requires": ["mkdocs-mermaid2-plugin>=1", "mkdocs-static-i18n"]})
    docs = _project(tmp_path, None, fixed).stage("docs")
    assert docs.requires == ("attrs>=23", "mkdocs", "mkdocs-mermaid2-plugin>=1", "mkdocs-static-i18n")
    with pytest.raises(ConfigError, match="plugin 'i18n' is not among"):
        _project(tmp_path, None, _docs({"extra-requires": ["mkdocs-mermaid2-plugin"]}))
    # A declared `requires` is the whole list: pyrel checks nothing against it.
    assert _project(tmp_path, None, _docs({"requires": ["mkdocs", "x"]})).stage("docs").requires == ("mkdocs", "x")
    assert "distributions that provide them" in (caught.value.hint or "") and "skip-stages" in (caught.value.hint or "")
    # A stage skip-stages names is never locked: its plugins are not asked for (the way out the hint names works).
    skipping = _project(tmp_path, None, {"skip-stages": ["docs"]})
    assert skipping.skip_stages == ("docs",) and "docs" in skipping.stage_names


def test_an_unknown_theme_is_an_error_unless_the_project_provides_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"theme 'dracula' is not among"):
        _project(tmp_path, "theme: dracula\n")
    own = {
        **PYPROJECT,
        "project": {
            **PYPROJECT["project"],
            "entry-points": {
                "mkdocs.themes": {"dracula": "demo.theme"},
                "mkdocs.plugins": {"demo": "demo.plugin:Plugin"},
            },
        },
    }
    docs = _project(tmp_path, "theme: dracula\nplugins: [demo, search]\n", pyproject=own).stage("docs")
    assert docs.requires == ("attrs>=23", "mkdocs")  # the project's wheel brings its own theme and plugin
    assert _project(tmp_path, "theme: {name: null, custom_dir: t}\n").stage("docs").requires == ("attrs>=23", "mkdocs")


def test_an_enabled_git_plugin_is_an_error_with_the_way_to_turn_it_off(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _project(tmp_path, "plugins:\n  - git-revision-date-localized:\n      type: date\n")
    assert "plugin 'git-revision-date-localized' reads the project's git history" in str(caught.value)
    assert "no .git" in str(caught.value)
    assert "`enabled: !ENV [PYREL_GIT_PLUGINS, true]` in mkdocs.yml" in (caught.value.hint or "")
    assert '[tool.pyrel.stages.docs].env = { PYREL_GIT_PLUGINS = "false" }' in (caught.value.hint or "")
    switched = "plugins:\n  - git-committers:\n      enabled: !ENV [ENABLE_GIT, true]\n"
    with pytest.raises(ConfigError, match=r"plugin 'git-committers'") as caught:
        _project(tmp_path, switched)
    assert 'set ENABLE_GIT = "false" in [tool.pyrel.stages.docs].env' in (caught.value.hint or "")
    docs = _project(tmp_path, None, _docs({"env": {"ENABLE_GIT": "false"}})).stage("docs")
    assert "mkdocs-git-committers-plugin-2" in docs.requires and docs.env == (("ENABLE_GIT", "false"),)
    # Off unless a variable the sandbox does not set says otherwise (CI=true on a CI machine), or off outright.
    assert _project(tmp_path, "plugins:\n  git-authors:\n    enabled: !ENV [CI, false]\n").stage("docs")
    assert _project(tmp_path, "plugins:\n  git-revision-date:\n    enabled: false\n").stage("docs")
    with pytest.raises(ConfigError, match="git-authors"):
        _project(tmp_path, "plugins:\n  git-authors:\n    enabled: !ENV [CI, false]\n", _docs({"env": {"CI": "1"}}))
    # A stage running its own commands is its own business.
    assert _project(tmp_path, "plugins: [git-authors]\n", _docs({"run": ["mkdocs build"]})).stage("docs")


def test_inherit_merges_the_parent_configuration(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "mkdocs.yml").write_text("theme: {name: material}\nplugins: [search, glightbox]\n")
    docs = _project(tmp_path, "INHERIT: base/mkdocs.yml\ntheme: {palette: {scheme: slate}}\n").stage("docs")
    assert docs.requires == ("attrs>=23", "mkdocs", "mkdocs-material", "mkdocs-glightbox")
    (tmp_path / "base" / "mkdocs.yml").write_text("INHERIT: ../mkdocs.yml\n")
    with pytest.raises(ConfigError, match="without a loop"):
        _project(tmp_path, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plugins: [search\n", "not a valid MkDocs configuration"),
        ("- a list\n", "the top level is not a mapping"),
        ("plugins:\n  - {a: 1, b: 2}\n", "neither a name nor a mapping of one name"),
        ("theme: [material]\n", "'theme' must be"),
    ],
)
def test_a_broken_configuration_is_an_error_naming_it(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _project(tmp_path, text)
    assert str(caught.value).startswith(str(tmp_path / "mkdocs.yml"))


def test_env_values_resolve_as_mkdocs_resolves_them() -> None:
    switch = mkdocs.EnvValue(("FIRST", "SECOND"), True)
    assert switch.resolve({}) is True
    assert switch.resolve({"SECOND": "false", "FIRST": "0"}) == 0
    assert switch.resolve({"SECOND": "off"}) is False  # YAML 1.1 booleans, as yaml_env_tag reads them
    assert mkdocs.Plugin("x", mkdocs.EnvValue(("V",))).enabled_in({}) is False  # !ENV V unset: null


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (
            "ERROR   -  Config value 'plugins': The \"glightbox\" plugin is not installed",
            "mkdocs.yml names the plugin 'glightbox', which none of the stage's pinned requirements provides: add "
            "'mkdocs-glightbox' to [tool.pyrel.stages.docs].extra-requires",
        ),
        (
            "ERROR   -  Config value 'plugins': The \"mermaid2\" plugin is not installed",
            "add the distribution that provides it",
        ),
        (
            "ERROR   -  Config value 'theme': Unrecognised theme name: 'material'. The available installed themes are: "
            "mkdocs, readthedocs",
            "the theme 'material'",
        ),
    ],
)
def test_the_classifier_names_a_plugin_the_stage_lacks(line: str, words: str) -> None:
    [violation] = classify(line, "docs")
    assert violation.kind == "undeclared-import" and words in violation.explanation


@pytest.mark.parametrize(
    "line",
    [
        "fatal: not a git repository (or any of the parent directories): .git",
        "ERROR   -  [git-revision-date-localized-plugin] Unable to find a git directory and/or git is not installed.",
        "ImportError: Failed to initialize: Bad git executable.",
    ],
)
def test_the_classifier_explains_a_git_plugin_without_history(line: str) -> None:
    [violation] = classify(line, "docs")
    assert violation.kind == "host-file"
    assert "without the repository (.git)" in violation.explanation
    assert "`enabled: !ENV [VAR, true]` in mkdocs.yml" in violation.explanation


FIXTURE = Path(__file__).resolve().parent.parent / "packages" / "mkdocs-project"


def test_the_fixture_project_locks_what_the_integration_test_builds() -> None:
    from pywrap.config.loader import load_project

    docs = load_project(FIXTURE).stage("docs")
    assert docs.requires == (
        "mkdocs",
        "mkdocs-material",
        "mkdocstrings[python]",
        "mkdocs-git-revision-date-localized-plugin",
        "pymdown-extensions",
    )
    assert docs.run[0].endswith("--name mkdocs_demo --version 0.3.0 --strict")


def test_pyrel_lock_refuses_an_enabled_git_plugin_before_resolving_anything(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project = tmp_path / "mkdocs-project"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("dist", ".pyrel", "site"))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('env = { ENABLE_GIT_DATES = "false" }', ""))
    completed = run_pyrel("lock", "-C", str(project))
    assert completed.returncode == 2, completed.stderr
    assert "plugin 'git-revision-date-localized' reads the project's git history" in completed.stderr
    assert 'set ENABLE_GIT_DATES = "false" in [tool.pyrel.stages.docs].env' in completed.stderr
    assert not (project / "pyrel.lock.toml").exists()
