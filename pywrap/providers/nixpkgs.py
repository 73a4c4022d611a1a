"""The ``nixpkgs`` provider: a stage's system tools from a pinned nixpkgs.

For machines with full Nix and a binary cache: the pin (revision + sha256 of
its tarball) fixes every tool, so nothing is resolved per package.  The stage's
``system`` names nixpkgs attributes (``gnumake``), not Debian packages; Python is
``python3XY`` for the lock's Python version, the shell and coreutils ``busybox``.

    [tool.pyrel]
    provider = "nixpkgs"
    nixpkgs = { rev = "<40 hex>", sha256 = "<nix base32 or sha256-...>" }
    # or, for a local checkout (and the tests' fixture): nixpkgs = { path = "../nixpkgs" }
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import attrs

from pywrap.config.model import Project, Stage
from pywrap.errors import ConfigError

#: The archive of a revision; `url` in the pin overrides it (a mirror).
DEFAULT_URL = "https://github.com/NixOS/nixpkgs/archive/{rev}.tar.gz"
REVISION = re.compile(r"^[0-9a-f]{40}$")
SHA256 = re.compile(r"^([0-9a-df-np-sv-z]{52}|sha256-[A-Za-z0-9+/]{43}=)$")
PIN_KEYS = ("rev", "sha256", "url", "path")
PYTHON_BINARY = re.compile(r"python(\d+)\.(\d+)$")


@attrs.frozen
class NixpkgsPin:
    rev: str = ""
    sha256: str = ""
    url: str = ""
    path: str = ""  # absolute, when a local tree replaces the tarball

    def to_plan(self) -> dict[str, str]:
        if self.path:
            return {"path": self.path}
        return {"url": self.url or DEFAULT_URL.format(rev=self.rev), "sha256": self.sha256}


def parse_pin(table: object, project: Project) -> NixpkgsPin:
    file = project.config_file
    where = "tool.pyrel.nixpkgs" if file.name == "pyproject.toml" else "nixpkgs"
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{file}: provider \"nixpkgs\" needs '{where}' = {{ rev = \"...\", sha256 = \"...\" }}",
                          hint="pin the nixpkgs revision and the sha256 of its tarball (nix-prefetch-url --unpack)")
    for key, value in table.items():
        if key not in PIN_KEYS:
            raise ConfigError(f"{file}: unknown key '{where}.{key}'", hint=f"allowed: {', '.join(PIN_KEYS)}")
        if not isinstance(value, str):
            raise ConfigError(f"{file}: '{where}.{key}' must be a string")
    if "path" in table:
        return NixpkgsPin(path=str((project.root / table["path"]).resolve()))
    rev, sha256 = table.get("rev", ""), table.get("sha256", "")
    if not REVISION.match(rev):
        raise ConfigError(f"{file}: '{where}.rev' = {rev!r} is not a full commit hash (40 hex digits)")
    if not SHA256.match(sha256):
        raise ConfigError(f"{file}: '{where}.sha256' = {sha256!r} is not a sha256",
                          hint="the unpacked tarball's hash: nix base32 (52 characters) or sha256-<base64>")
    return NixpkgsPin(rev=rev, sha256=sha256, url=table.get("url", ""))


def load_pin(project: Project) -> NixpkgsPin:
    file = project.config_file
    data = tomllib.loads(file.read_text(encoding="utf-8")) if file.suffix == ".toml" and file.is_file() else {}
    table = data if file.name == "pyrel.toml" else data.get("tool", {}).get("pyrel", {})
    return parse_pin(table.get("nixpkgs") if isinstance(table, dict) else None, project)


def python_attribute(python_version: str) -> str:
    """``3.11`` -> ``python311``, nixpkgs' name for that CPython."""
    major, _, minor = python_version.partition(".")
    return f"python{major}{minor}"


@attrs.frozen
class NixpkgsProvider:
    pin: NixpkgsPin
    name: str = "nixpkgs"
    entry: str = "nixpkgs.nix"

    def system_packages(self, stage: Stage, python_version: str) -> tuple[str, ...]:
        python = (python_attribute(python_version),) if stage.python else ()
        return (*python, *stage.system, "busybox")

    def apply(self, stage_plan: dict[str, Any], project: Project) -> dict[str, Any]:
        """Each stage names its nixpkgs attributes; Python is linked at the same ``usr/bin`` path."""
        stages = []
        for stage in stage_plan["stages"]:
            packages = [*project.stage(stage["name"]).system, "busybox"]
            match = PYTHON_BINARY.search(stage["python"]) if stage["python"] else None
            if match:
                packages.insert(0, python_attribute(f"{match.group(1)}.{match.group(2)}"))
            stages.append({**stage, "nixpkgs": packages, "compiler": None})
        return {**stage_plan, "nixpkgs": self.pin.to_plan(), "stages": stages}
