"""The ``nixpkgs`` provider: a stage's system tools from a pinned nixpkgs.

For machines with full Nix and a binary cache: the pin (revision + sha256 of
its tarball) fixes every tool, so nothing is resolved per package.  The stage's
``system`` names nixpkgs attributes (``gnumake``), not Debian packages; Python is
``python3XY`` for the lock's Python version, the shell and coreutils ``busybox``.

    [tool.pyrel]
    provider = "nixpkgs"
    nixpkgs = { rev = "<40 hex>", sha256 = "<nix base32 or sha256-...>" }
    # or, for a local checkout (and the tests' fixture): nixpkgs = { path = "../nixpkgs" }

The loader checks the pin into ``Project.nixpkgs``; nothing here reads the configuration.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs

from pywrap.config.model import NixpkgsPin, Project

if TYPE_CHECKING:
    from pywrap.execution.plan import Plan, StagePlan

PYTHON_BINARY = re.compile(r"python(\d+)\.(\d+)$")


def python_attribute(python_version: str) -> str:
    """``3.11`` -> ``python311``, nixpkgs' name for that CPython."""
    major, _, minor = python_version.partition(".")
    return f"python{major}{minor}"


@attrs.frozen
class NixpkgsProvider:
    pin: NixpkgsPin
    name: str = "nixpkgs"
    entry: str = "nixpkgs.nix"

    def apply(self, stage_plan: Plan, project: Project) -> Plan:
        """Each stage names its nixpkgs attributes; Python is linked at the same ``usr/bin`` path."""
        stages: list[StagePlan] = []
        for stage in stage_plan["stages"]:
            declared = project.stage(stage["name"])
            packages = [*declared.system, *(["gitMinimal"] if declared.git else []), "busybox"]
            match = PYTHON_BINARY.search(stage["python"]) if stage["python"] else None
            if match:
                packages.insert(0, python_attribute(f"{match.group(1)}.{match.group(2)}"))
            stages.append({**stage, "nixpkgs": packages, "compiler": None})
        # nixpkgs' programs carry their own loader; Debian's, with nixpkgs' glibc, would not match it.
        return {**stage_plan, "nixpkgs": self.pin.to_plan(), "stages": stages, "loader": None}
