"""Find what the built-in docs and test stages need, wherever real projects keep it.

Reads files only (pyproject tables, PKG-INFO, requirement files); runs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pywrap.errors import ConfigError

SPHINX_DIRS = ("docs", "doc", "Doc", "docs/source", "doc/source")
TEST_DIRS = ("tests", "test", "testing")
C_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".h")
#: Sources only a C++ compiler builds (setuptools calls $CXX for an extension with language="c++").
CXX_SUFFIXES = (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx")

DOCS_GROUPS = ("docs", "doc")
DOCS_FILES = ("docs/requirements.txt", "doc/requirements.txt", "requirements/docs.txt",
              "requirements-docs.txt", "docs/requirements-docs.txt")
TEST_GROUPS = ("test", "tests", "testing")
TEST_FILES = ("tests/requirements.txt", "test/requirements.txt", "requirements/tests.txt",
              "requirements/test.txt", "requirements-test.txt", "requirements-tests.txt",
              "test-requirements.txt",
              # Last: development requirements, which projects without test ones run their tests from.
              "requirements-dev.txt", "requirements/dev.txt", "dev-requirements.txt")


@attrs.frozen
class Requirements:
    """Where a stage's requirements came from: requirement strings and/or a file."""

    lines: tuple[str, ...] = ()
    file: str = ""
    origin: str = ""


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


def _extras(pyproject: Mapping[str, Any]) -> Mapping[str, Any]:
    project = pyproject.get("project", {})
    extras = project.get("optional-dependencies", {}) if isinstance(project, dict) else {}
    return extras if isinstance(extras, dict) else {}


def stage_requirements(
    root: Path, pyproject: Mapping[str, Any], project_name: str, groups: Sequence[str], files: Sequence[str],
) -> Requirements:
    """The first of: a dependency group, an extra, a requirements file."""
    file = root / "pyproject.toml"
    dependency_groups = pyproject.get("dependency-groups", {})
    extras = _extras(pyproject)
    if isinstance(dependency_groups, dict):
        for name in groups:
            if name in dependency_groups:
                lines = expand_self(_group(dependency_groups, name, file), project_name, extras)
                return Requirements(tuple(lines), origin=f"[dependency-groups] {name}")
    for name in groups:
        if name in extras and isinstance(extras[name], list):
            lines = expand_self([str(item) for item in extras[name]], project_name, extras)
            return Requirements(tuple(lines), origin=f"[project.optional-dependencies] {name}")
    for relative in files:
        if (root / relative).is_file():
            return Requirements(file=relative, origin=relative)
    return Requirements()


def runtime_requirements(root: Path, pyproject: Mapping[str, Any], project_name: str) -> tuple[list[str], str]:
    """The project's own dependencies: static [project] table, else an sdist's PKG-INFO."""
    project = pyproject.get("project")
    # Only a [project] table states the dependencies: without one (setup.py/setup.cfg metadata) ask PKG-INFO.
    if isinstance(project, dict) and "dependencies" not in project.get("dynamic", []):
        dependencies = project.get("dependencies", [])
        if isinstance(dependencies, list):
            return expand_self([str(d) for d in dependencies], project_name, _extras(pyproject)), "[project]"
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file():
        import email.parser  # only for an unpacked sdist; most projects never load it

        message = email.parser.Parser().parsestr(pkg_info.read_text(encoding="utf-8", errors="replace"))
        requires = [value for value in message.get_all("Requires-Dist") or [] if "extra ==" not in value]
        return expand_self(requires, project_name, {}), "PKG-INFO"
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
    name = _pkg_info_field(root, "Name")
    if name:
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
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file():
        for line in pkg_info.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    return "0+unknown"


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


def has_c_sources(files: Iterable[str]) -> bool:
    return any(name.endswith(C_SUFFIXES) for name in files)


def has_cxx_sources(files: Iterable[str]) -> bool:
    return any(name.endswith(CXX_SUFFIXES) for name in files)


def compiler_system(files: Iterable[str]) -> list[str]:
    """The Debian packages a stage that builds the project needs beyond gcc: g++ for C++ sources."""
    return ["g++"] if has_cxx_sources(files) else []
