"""Find what the built-in docs and test stages need, wherever real projects keep it.

Reads files only (pyproject tables, PKG-INFO, requirement files); runs nothing.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pywrap.config import poetry as poetry_tables
from pywrap.errors import ConfigError

SPHINX_DIRS = ("docs", "doc", "Doc", "docs/source", "doc/source", "documentation")
TEST_DIRS = ("tests", "test", "testing")
#: The sources of a C, C++ or Cython extension (a header alone compiles nothing); .pyx.in is a template
#: the build makes its .pyx from (meson-python projects).
C_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".pyx.in")
#: Where C files are the project's data, not its extension: a C parser's test inputs, examples, docs.
NOT_EXTENSION_DIRS = frozenset({"tests", "test", "testing", "examples", "example", "docs", "doc", "benchmarks"})
#: Sources only a C++ compiler builds (setuptools calls $CXX for an extension with language="c++").
CXX_SUFFIXES = (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx")

DOCS_GROUPS = ("docs", "doc")
DOCS_FILES = (
    "docs/requirements.txt",
    "doc/requirements.txt",
    "requirements/docs.txt",
    "requirements/doc.txt",
    "requirements-docs.txt",
    "requirements-doc.txt",
    "doc-requirements.txt",
    "docs-requirements.txt",
    "docs/requirements-docs.txt",
)
#: Dependency groups, extras and build tools' groups holding the test requirements, first found first.
TEST_GROUPS = ("test", "tests", "testing")
#: Where projects without test requirements keep the tools they run their tests with.
DEV_GROUPS = ("dev",)
#: Hatch environments of a group name: `hatch test` runs in hatch-test; `default` is the dev one.
HATCH_ENVS = {**{name: (name, "hatch-test") for name in TEST_GROUPS}, "dev": ("default",)}
#: Test requirement files, first found first; a pattern's matches shortest name first, then by name
#: (requirements/test.txt before requirements/tests-py3.txt), less those for Python 2 (``*-py2.txt``).
TEST_FILES = (
    "tests/requirements*.txt",
    "test/requirements*.txt",
    "testing/requirements*.txt",
    "requirements/test*.txt",
    "requirements-test*.txt",
    "requirements_test*.txt",
    "test*-requirements.txt",
    "test*_requirements.txt",
)
#: Development requirements, which projects without test ones run their tests from.
DEV_FILES = ("requirements-dev.txt", "requirements/dev.txt", "dev-requirements.txt", "requirements_dev.txt")
#: A requirements file for Python 2 only (tests-py2.txt, requirements-py27.txt): no stage runs Python 2.
_PYTHON2_FILE = re.compile(r"(?<![a-z0-9])py(?:thon)?-?2(?:[.]?7)?(?![0-9])", re.IGNORECASE)


@attrs.frozen
class Requirements:
    """Where a stage's requirements came from: requirement strings and/or a file."""

    lines: tuple[str, ...] = ()
    file: str = ""
    origin: str = ""
    #: Found among the fallbacks (tox's environment, development requirements), not the stage's own:
    #: alone, they do not make a stage.
    fallback: bool = False


def _group(groups: Mapping[str, Any], name: str, file: Path, seen: frozenset[str] = frozenset()) -> list[str]:
    """PEP 735: a dependency group's requirements, include-group expanded."""
    if name in seen:
        raise ConfigError(f"{file}: dependency group '{name}' includes itself")
    entries = groups.get(name)
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: [dependency-groups] {name} must be a list")
    result: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            result.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            result += _group(groups, entry["include-group"], file, seen | {name})
        else:
            raise ConfigError(f"{file}: [dependency-groups] {name} has an invalid entry {entry!r}")
    return result


def expand_self(requirements: Iterable[str], project_name: str, extras: Mapping[str, Any]) -> list[str]:
    """Replace requirements on the project itself (``attrs[tests]``) by its extras' contents.

    The project is never fetched from a registry: the stage builds it from source.
    """
    own = canonicalize_name(project_name)
    result: list[str] = []
    pending = list(requirements)
    expanded: set[str] = set()
    while pending:
        text = pending.pop(0)
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            result.append(text)  # uv reports it with its own message
            continue
        if canonicalize_name(requirement.name) != own:
            result.append(text)
            continue
        for extra in sorted(requirement.extras):
            if extra not in expanded:
                expanded.add(extra)
                pending += [str(item) for item in extras.get(extra, [])]
    return list(dict.fromkeys(result))


def extra_distributions(pyproject: Mapping[str, Any], project_name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each extra of ``[project.optional-dependencies]`` and the distributions it requires (normalized
    names; the project's own extras expanded), in the table's order."""
    extras = optional_dependencies(pyproject)
    found = []
    for extra in extras:
        names = []
        for text in expand_self([f"{project_name}[{extra}]"], project_name, extras):
            try:
                names.append(canonicalize_name(Requirement(text).name))
            except InvalidRequirement:
                continue
        found.append((str(extra), tuple(dict.fromkeys(names))))
    return tuple(found)


def optional_dependencies(pyproject: Mapping[str, Any]) -> Mapping[str, Any]:
    project = pyproject.get("project", {})
    extras = project.get("optional-dependencies", {}) if isinstance(project, dict) else {}
    return extras if isinstance(extras, dict) else {}


def declared_extras(root: Path, pyproject: Mapping[str, Any]) -> Mapping[str, Any]:
    """The project's extras and their requirements: ``[project.optional-dependencies]``, else (metadata
    that setup.py or setup.cfg writes) an sdist's PKG-INFO, else setup.cfg's ``[options.extras_require]``."""
    return _extras_and_origin(root, pyproject)[0]


def _extras_and_origin(root: Path, pyproject: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    static = optional_dependencies(pyproject)
    project = pyproject.get("project")
    if static or (isinstance(project, dict) and "optional-dependencies" not in project.get("dynamic", [])):
        return static, "[project.optional-dependencies]"
    pkg_info = _pkg_info_extras(root)
    if pkg_info:
        return pkg_info, "PKG-INFO extra"
    return _setup_cfg_extras(root), "setup.cfg [options.extras_require]"


def _pkg_info_extras(root: Path) -> dict[str, list[str]]:
    """``Requires-Dist: pytest>=6; extra == "testing"`` lines, by extra, with the extra's condition
    taken out (``python_version < "3.8" and extra == 'testing'`` keeps ``python_version < "3.8"``)."""
    pkg_info = root / "PKG-INFO"
    if not pkg_info.is_file():
        return {}
    import email.parser  # only for an unpacked sdist

    message = email.parser.Parser().parsestr(pkg_info.read_text(encoding="utf-8", errors="replace"))
    extras: dict[str, list[str]] = {}
    for value in message.get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(value)
        except InvalidRequirement:
            continue
        if requirement.marker is None:
            continue
        found = _without_extra(str(requirement.marker))
        if found is None:
            continue
        extra, rest = found
        requirement.marker = None
        extras.setdefault(extra, []).append(f"{requirement}; {rest}" if rest else str(requirement))
    return extras


#: A top-level ``extra == "name"`` condition of a marker (packaging writes markers with double quotes).
_EXTRA_CONDITION = re.compile(r'^extra == "([^"]+)"$')


def _without_extra(marker: str) -> tuple[str, str] | None:
    """``(extra, the rest of the marker)`` when ``marker`` is a conjunction with one ``extra == ...``
    term; None for a marker without one, or one that ``or`` joins at its top level (not one extra's)."""
    terms, depth, start, quoted = [], 0, 0, ""
    for index, char in enumerate(marker):
        if quoted:
            quoted = "" if char == quoted else quoted
        elif char in "'\"":
            quoted = char
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif depth == 0 and marker.startswith(" or ", index):
            return None
        elif depth == 0 and marker.startswith(" and ", index):
            terms.append(marker[start:index])
            start = index + len(" and ")
    terms.append(marker[start:])
    extras = [match.group(1) for term in terms if (match := _EXTRA_CONDITION.match(term.strip()))]
    if len(extras) != 1:
        return None
    rest = [term for term in terms if not _EXTRA_CONDITION.match(term.strip())]
    return canonicalize_name(extras[0]), " and ".join(rest)


def _setup_cfg_extras(root: Path) -> dict[str, list[str]]:
    """setup.cfg's ``[options.extras_require]``, read as setuptools reads it: one requirement a line, or
    on one line separated by ``;`` (a ``file:`` value is left out)."""
    setup_cfg = root / "setup.cfg"
    if not setup_cfg.is_file():
        return {}
    import configparser  # only for a setup.cfg project

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(setup_cfg.read_text(encoding="utf-8", errors="replace"))
    except configparser.Error:
        return {}
    if not parser.has_section("options.extras_require"):
        return {}
    extras: dict[str, list[str]] = {}
    for key, value in parser["options.extras_require"].items():
        value = value.strip()
        items = value.splitlines() if "\n" in value else value.split(";")
        items = [item.split(" #", 1)[0].strip() for item in items]
        extras[canonicalize_name(key)] = [item for item in items if item and not item.startswith(("#", "file:"))]
    return extras


def _table(document: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """``document[k1][k2]...``, or an empty table where a level is missing or not a table."""
    for key in keys:
        value = document.get(key)
        if not isinstance(value, dict):
            return {}
        document = value
    return document


def _tool_group(pyproject: Mapping[str, Any], name: str, project_name: str, file: Path) -> tuple[list[str], str] | None:
    """A named group of a build tool's own tables: PDM, uv (its dev group), Poetry, Hatch environments."""
    pdm = _table(pyproject, "tool", "pdm", "dev-dependencies")
    if isinstance(pdm.get(name), list):
        return [str(item) for item in pdm[name]], f"[tool.pdm.dev-dependencies] {name}"
    uv_dev = _table(pyproject, "tool", "uv").get("dev-dependencies")
    if name == "dev" and isinstance(uv_dev, list):  # uv's own table before dependency groups: the dev group
        return [str(item) for item in uv_dev], "[tool.uv] dev-dependencies"
    poetry = _table(pyproject, "tool", "poetry")
    key = f"tool.poetry.group.{name}.dependencies"
    if "dependencies" in _table(poetry, "group", name):
        return poetry_tables.requirements(poetry["group"][name]["dependencies"], file, key), f"[{key}]"
    if name == "dev" and "dev-dependencies" in poetry:
        return (
            poetry_tables.requirements(poetry["dev-dependencies"], file, "tool.poetry.dev-dependencies"),
            "[tool.poetry.dev-dependencies]",
        )
    for environment in HATCH_ENVS.get(name, (name,)):
        hatch = _table(pyproject, "tool", "hatch", "envs", environment)
        lines = [str(item) for key in ("dependencies", "extra-dependencies") for item in hatch.get(key, [])]
        lines += [f"{project_name}[{feature}]" for feature in hatch.get("features", [])]
        if lines:
            return lines, f"[tool.hatch.envs.{environment}]"
    return None


#: tox environments whose deps and extras a stage runs with: the base [testenv] for tests.
TEST_TOX_ENVS = ("testenv",)
DOCS_TOX_ENVS = ("testenv:docs", "testenv:doc")


def _tox_sections(root: Path, pyproject: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """tox's environments, from tox.ini, setup.cfg or pyproject's legacy_tox_ini (INI), or tox.toml."""
    legacy = _table(pyproject, "tool", "tox").get("legacy_tox_ini")
    return _read_tox(root, legacy if isinstance(legacy, str) else None)


@functools.lru_cache(maxsize=4)
def _read_tox(root: Path, legacy: str | None) -> Mapping[str, Mapping[str, Any]]:
    """(Read once per run: the test and docs stages both ask.)"""
    import configparser  # only for a project with a tox configuration

    texts = [
        (root / name).read_text(encoding="utf-8", errors="replace")
        for name in ("tox.ini", "setup.cfg")
        if (root / name).is_file()
    ]
    texts += [legacy] if legacy is not None else []
    for text in texts:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            continue
        if parser.has_section("testenv") or any(name.startswith("testenv:") for name in parser.sections()):
            return {name: dict(parser[name]) for name in parser.sections()}
    if (root / "tox.toml").is_file():
        import tomllib

        try:
            document = tomllib.loads((root / "tox.toml").read_text(encoding="utf-8", errors="replace"))
        except tomllib.TOMLDecodeError:
            return {}
        environments = {f"testenv:{name}": table for name, table in _table(document, "env").items()}
        return {"testenv": _table(document, "env_run_base"), **environments}
    return {}


def _tox_list(value: Any, *, commas: bool = False) -> list[str]:
    """A tox setting as a list: TOML lists as they are, INI values one per line (``extras`` also by comma)."""
    if isinstance(value, list):
        return [str(item).strip() for item in value]
    lines = [line.split(" #", 1)[0].strip() for line in str(value).splitlines()]
    return [item.strip() for line in lines for item in (line.split(",") if commas else [line]) if item.strip()]


def _tox_group(
    root: Path, pyproject: Mapping[str, Any], project_name: str, environments: Sequence[str]
) -> tuple[list[str], str, str] | None:
    """A tox environment's deps and extras as requirements, plus a `-r` requirements file it names.

    Lines only some environments get (factor conditions such as ``py39: x``)
    and substitutions (``{[testenv]deps}``) are left out: they name
    interpreters and other environments, not this stage's.
    """
    sections = _tox_sections(root, pyproject)
    for environment in environments:
        section = sections.get(environment)
        if not section or not ("deps" in section or "extras" in section):
            continue
        lines, file = [], ""
        for dep in _tox_list(section.get("deps", "")):
            if dep.startswith("-r"):
                file = file or dep[2:].strip().removeprefix("{toxinidir}/")
            elif not (dep.startswith("-") or "{" in dep or "://" in dep or re.match(r"^[\w!,.-]+:\s", dep)):
                lines.append(dep)
        lines += [f"{project_name}[{extra}]" for extra in _tox_list(section.get("extras", ""), commas=True)]
        return lines, file if (root / file).is_file() else "", f"tox [{environment}]"
    return None


def stage_requirements(
    root: Path,
    pyproject: Mapping[str, Any],
    project_name: str,
    groups: Sequence[str],
    files: Sequence[str],
    fallback_groups: Sequence[str] = (),
    fallback_files: Sequence[str] = (),
    tox_envs: Sequence[str] = (),
) -> Requirements:
    """The first of: a dependency group, an extra, a build tool's group, tox's deps, a requirements file.

    Then the same for the fallbacks: the development requirements a project
    without test ones runs its tests from.
    """
    for candidates, candidate_files, fallback in ((groups, files, False), (fallback_groups, fallback_files, True)):
        requirements = _named_requirements(root, pyproject, project_name, candidates)
        if requirements is not None:
            return attrs.evolve(requirements, fallback=fallback)
        # What tox installs is what the project's CI runs its tests with: before files whose purpose is a guess
        # (a tests/requirements.txt may hold only tox itself).
        tox = None if fallback else _tox_group(root, pyproject, project_name, tox_envs)
        if tox is not None:
            # A tox environment may hold only linters: like development requirements, alone it makes no stage.
            lines = expand_self(tox[0], project_name, declared_extras(root, pyproject))
            return Requirements(tuple(lines), file=tox[1], origin=tox[2], fallback=True)
        for relative in requirement_files(root, candidate_files):
            return Requirements(file=relative, origin=relative, fallback=fallback)
    return Requirements()


def requirement_files(root: Path, patterns: Sequence[str]) -> list[str]:
    """The files ``patterns`` match under ``root``, in a defined order: pattern by pattern, each
    pattern's matches shortest name first, then by name; files for Python 2 are left out."""
    found: list[str] = []
    for pattern in patterns:
        if not any(char in pattern for char in "*?["):
            matches = [pattern] if (root / pattern).is_file() else []
        else:
            matches = [path.relative_to(root).as_posix() for path in root.glob(pattern) if path.is_file()]
            matches.sort(key=lambda relative: (len(relative), relative))
        found += [
            relative for relative in matches if relative not in found and not _PYTHON2_FILE.search(Path(relative).name)
        ]
    return found


def _named_requirements(
    root: Path, pyproject: Mapping[str, Any], project_name: str, names: Sequence[str]
) -> Requirements | None:
    """The first of ``names`` as a dependency group, then as an extra, then as a build tool's group."""
    file = root / "pyproject.toml"
    dependency_groups = pyproject.get("dependency-groups", {})
    extras, extras_origin = _extras_and_origin(root, pyproject)

    def found(lines: Iterable[str], origin: str) -> Requirements:
        return Requirements(tuple(expand_self(lines, project_name, extras)), origin=origin)

    if isinstance(dependency_groups, dict):
        for name in names:
            if name in dependency_groups:
                return found(_group(dependency_groups, name, file), f"[dependency-groups] {name}")
    for name in names:
        if name in extras and isinstance(extras[name], list):
            return found([str(item) for item in extras[name]], f"{extras_origin} {name}")
    for name in names:
        tool = _tool_group(pyproject, name, project_name, file)
        if tool is not None:
            return found(*tool)
    return None


def runtime_requirements(root: Path, pyproject: Mapping[str, Any], project_name: str) -> tuple[list[str], str]:
    """The project's own dependencies: static [project] table, else an sdist's PKG-INFO."""
    project = pyproject.get("project")
    # Only a [project] table states the dependencies: without one (setup.py/setup.cfg metadata) ask PKG-INFO.
    if isinstance(project, dict) and "dependencies" not in project.get("dynamic", []):
        dependencies = project.get("dependencies", [])
        if isinstance(dependencies, list):
            extras = optional_dependencies(pyproject)
            return expand_self([str(d) for d in dependencies], project_name, extras), "[project]"
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file():
        import email.parser  # only for an unpacked sdist; most projects never load it

        message = email.parser.Parser().parsestr(pkg_info.read_text(encoding="utf-8", errors="replace"))
        requires = [value for value in message.get_all("Requires-Dist") or [] if "extra ==" not in value]
        return expand_self(requires, project_name, {}), "PKG-INFO"
    poetry = _table(pyproject, "tool", "poetry")
    if "dependencies" in poetry:
        file = root / "pyproject.toml"
        return poetry_tables.requirements(poetry["dependencies"], file, "tool.poetry.dependencies"), "[tool.poetry]"
    return [], ""


def _pkg_info_field(root: Path, field: str) -> str | None:
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file():
        for line in pkg_info.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                break  # the headers end at the first blank line; the description follows
            if line.startswith(f"{field}:"):
                return line.split(":", 1)[1].strip()
    return None


def project_name(root: Path, pyproject: Mapping[str, Any]) -> str:
    """[project] name, else an sdist's PKG-INFO Name, else setup.cfg's [metadata] name, else the directory's."""
    project = pyproject.get("project", {})
    if isinstance(project, dict) and isinstance(project.get("name"), str) and project["name"]:
        return str(project["name"])
    name = _pkg_info_field(root, "Name") or _table(pyproject, "tool", "poetry").get("name")
    if isinstance(name, str) and name:
        return name
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        import configparser  # only for a setup.cfg project

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(setup_cfg.read_text(encoding="utf-8", errors="replace"))
        except configparser.Error:
            return root.name
        candidate = parser.get("metadata", "name", fallback="").strip()
        if candidate and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", candidate):
            return candidate
    return root.name


def project_version(root: Path, pyproject: Mapping[str, Any]) -> str:
    project = pyproject.get("project", {})
    if isinstance(project, dict) and isinstance(project.get("version"), str):
        return str(project["version"])
    version = _pkg_info_field(root, "Version") or _table(pyproject, "tool", "poetry").get("version")
    return version if isinstance(version, str) and version else "0+unknown"


def normalized_name(name: str) -> str:
    """The file-name form of a project name (PEP 625 / wheel file names)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def sphinx_dir(root: Path) -> str | None:
    for candidate in SPHINX_DIRS:
        if (root / candidate / "conf.py").is_file():
            return candidate
    return None


def test_dir(root: Path) -> str | None:
    for candidate in TEST_DIRS:
        if (root / candidate).is_dir():
            return candidate
    return None


def root_test_modules(root: Path) -> list[str]:
    """Test modules at the project's top or in its ``src/``, as pytest names them (``test_*.py``,
    ``*_test.py``): the suite of a single-module project (``six.py`` and ``test_six.py``;
    ``src/typing_extensions.py`` and ``src/test_typing_extensions.py``), which has no test tree."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in [*root.glob("*.py"), *root.glob("src/*.py")]
        if path.is_file() and (path.name.startswith("test_") or path.name.endswith("_test.py"))
    )


def _extension_sources(files: Iterable[str], suffixes: tuple[str, ...]) -> bool:
    """Some of ``files`` (paths relative to the project) end with ``suffixes``, outside tests and examples."""
    return any(
        name.endswith(suffixes) and not NOT_EXTENSION_DIRS & set(name.replace(os.sep, "/").split("/")[:-1])
        for name in files
    )


def package_test_dirs(root: Path) -> list[str]:
    """Test directories inside the project's packages (``toolz/tests``, ``src/demo/tests``): suites the
    built-in test stage does not run (it runs the sdist's tree against the installed wheel, and these
    live in the package the wheel installs)."""
    found = [
        path.relative_to(root).as_posix()
        for pattern in ("*/tests", "*/test", "src/*/tests", "src/*/test")
        for path in root.glob(pattern)
        if path.is_dir() and (path.parent / "__init__.py").is_file()
    ]
    return sorted(found)


def has_c_sources(files: Iterable[str]) -> bool:
    return _extension_sources(files, C_SUFFIXES)


def has_cxx_sources(files: Iterable[str]) -> bool:
    return _extension_sources(files, CXX_SUFFIXES)


def compiler_system(files: Iterable[str]) -> list[str]:
    """The Debian packages a stage that builds the project needs beyond gcc: g++ for C++ sources."""
    return ["g++"] if has_cxx_sources(files) else []


#: Build requirements that ask git for the version or the file list when they build the sdist.
VCS_PLUGINS = frozenset(
    {
        "setuptools-scm",
        "vcs-versioning",
        "hatch-vcs",
        "versioningit",
        "setuptools-git-versioning",
        "setuptools-git",
        "dunamai",
        "poetry-dynamic-versioning",
        "uv-dynamic-versioning",
        "pbr",
        # build_sdist runs `meson dist`, which packs what git lists at HEAD.
        "meson-python",
    }
)


def reads_git(root: Path, pyproject: Mapping[str, Any], requires: Iterable[str]) -> bool:
    """The sdist's backend asks git (a VCS plugin among ``requires``, or pdm-backend's ``scm`` version
    source) and the project is the top of a git work tree: the source stage's default for ``git``."""
    if not (root / ".git").exists():
        return False
    names = {_requirement_name(requirement) for requirement in requires}
    pdm_version = pyproject.get("tool", {}).get("pdm", {}).get("version", {})
    pdm_scm = "pdm-backend" in names and isinstance(pdm_version, dict) and pdm_version.get("source") == "scm"
    return pdm_scm or bool(names & VCS_PLUGINS)


def _requirement_name(requirement: str) -> str:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return ""
