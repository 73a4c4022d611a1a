"""flake.nix's pyrel package carries every runtime dependency pyproject.toml declares.

Nix cannot fetch nixpkgs here, so the comparison is on the text: the
`dependencies = with python; [ ... ] ++ ...;` expression of the package and
pyproject.toml's [project].dependencies, named the way nixpkgs names them.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

#: PyPI project (normalized) -> its attribute in nixpkgs' python3.pkgs, checked
#: against pkgs/development/python-modules/ and python-packages.nix.  Every
#: dependency is listed, even where the names agree, so that a new dependency
#: fails here until someone has looked its nixpkgs name up.
NIXPKGS_NAMES = {
    "typer": "typer",
    "attrs": "attrs",
    "jinja2": "jinja2",
    "rich": "rich",
    "packaging": "packaging",
    "python-debian": "python-debian",
    "tomli-w": "tomli-w",
    "uv": "uv",  # the Python module (find_uv_bin), built from nixpkgs' uv
    "packageurl-python": "packageurl-python",
    "cyclonedx-python-lib": "cyclonedx-python-lib",
    "pyelftools": "pyelftools",
    "pysequoia": "pysequoia",
    "pyyaml": "pyyaml",
}
NAME = r"[A-Za-z_][A-Za-z0-9_'-]*"
EXTRA = re.compile(rf"^(?P<package>{NAME})\.optional-dependencies\.(?P<extra>{NAME})$")


def _pyproject_dependencies() -> list[Requirement]:
    with (REPO / "pyproject.toml").open("rb") as file:
        return [Requirement(text) for text in tomllib.load(file)["project"]["dependencies"]]


def _flake_dependencies() -> tuple[set[str], set[tuple[str, str]]]:
    """The package's attribute names and its (package, extra) optional-dependency sets."""
    text = (REPO / "flake.nix").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    [package] = re.findall(r"pyrel = python\.buildPythonApplication \{(.*?)\n\s*\};", code, re.DOTALL)
    [expression] = re.findall(r"\bdependencies = with python;(.*?);", package, re.DOTALL)
    names: set[str] = set()
    extras: set[tuple[str, str]] = set()
    for token in expression.replace("[", " ").replace("]", " ").split():
        if token == "++":
            continue
        if match := EXTRA.match(token):
            extras.add((match["package"], match["extra"]))
        else:
            assert re.fullmatch(NAME, token), f"flake.nix: {token!r} in the dependencies is not an attribute name"
            names.add(token)
    return names, extras


def test_every_dependency_has_a_checked_nixpkgs_name() -> None:
    declared = {canonicalize_name(requirement.name) for requirement in _pyproject_dependencies()}
    missing = declared - NIXPKGS_NAMES.keys()
    assert not missing, f"look up nixpkgs' attribute name of {sorted(missing)} and add it to NIXPKGS_NAMES"
    assert not NIXPKGS_NAMES.keys() - declared, "NIXPKGS_NAMES lists dependencies pyproject.toml no longer has"


def test_the_flake_package_has_every_runtime_dependency_and_extra() -> None:
    requirements = _pyproject_dependencies()
    expected = {NIXPKGS_NAMES[canonicalize_name(r.name)] for r in requirements}
    expected_extras = {(NIXPKGS_NAMES[canonicalize_name(r.name)], extra) for r in requirements for extra in r.extras}
    names, extras = _flake_dependencies()
    assert expected - names == set(), "flake.nix's pyrel package lacks these pyproject.toml dependencies"
    assert names - expected == set(), "flake.nix's pyrel package has dependencies pyproject.toml does not declare"
    assert extras == expected_extras
