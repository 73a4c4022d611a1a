"""The build's short summary of a stage's sandbox closure: its packages, store paths and bytes.

``pyrel build`` prints it for every stage; ``pyrel audit`` (:mod:`pywrap.audit.closures`)
reports the same closure in full.  Kept apart from the audit so that a build
imports only this.  The closure is ``nix-store -qR`` of the inputs of the
derivation that built the stage, read from its ``.drv`` file, so it is exact
and needs no second evaluation.  Those inputs are all valid once Nix starts
building the stage, so a build computes it while the stage builds
(:func:`derivation_closure`), off the critical path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from pywrap.adapters import nix
from pywrap.execution.fetch import LOADER_NAME, LOADER_PACKAGE
from pywrap.locking.lockfile import Lock


@attrs.frozen
class ClosureSummary:
    packages: tuple[str, ...]  # "deb:name=version" / "wheel:name=version"
    store_paths: tuple[str, ...]
    bytes: int

    @property
    def package_count(self) -> int:
        return len(self.packages)

    def to_json(self) -> dict[str, object]:
        return {"packages": list(self.packages), "store-paths": list(self.store_paths), "bytes": self.bytes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClosureSummary:
        return cls(tuple(data["packages"]), tuple(data["store-paths"]), int(data["bytes"]))


@attrs.frozen
class DerivationClosure:
    """The closure of one derivation's sandbox, and the outputs that derivation builds."""

    derivation: str
    outputs: tuple[str, ...]
    summary: ClosureSummary


def stage_packages(lock: Lock, stage_name: str, *, loader: bool = False) -> tuple[str, ...]:
    """The pinned packages a stage's sandbox sees: its root's debs, busybox, its wheels, and with
    ``loader`` the libc6 whose ELF loader is mounted there."""
    stage = lock.stage(stage_name)
    names = set(stage.system) | {"busybox-static"} | ({LOADER_PACKAGE} if loader else set())
    debs = [f"deb:{name}={lock.package(name).version}" for name in sorted(names)]
    wheels = [f"wheel:{wheel.name}={wheel.version}" for wheel in stage.wheels]
    # An intersphinx inventory is a pinned artifact too (named as the audit names it).
    inventories = [f"inventory:{entry.name}={entry.version or entry.sha256[:12]}" for entry in stage.inventories]
    return tuple(debs + wheels + inventories)


def stage_closure(lock: Lock, stage_name: str, input_paths: Sequence[str]) -> ClosureSummary:
    paths = nix.requisites(list(input_paths))
    sizes = nix.sizes(paths)
    loader = any(path.endswith(f"-{LOADER_NAME}") for path in paths)
    return ClosureSummary(
        packages=stage_packages(lock, stage_name, loader=loader),
        store_paths=tuple(paths),
        bytes=sum(sizes.values()),
    )


def derivation_closure(lock: Lock, stage_name: str, derivation: str) -> DerivationClosure | None:
    """The sandbox closure of ``derivation``, a build of the stage whose inputs are valid
    (Nix has started building it); None when its .drv files cannot be read."""
    parsed = nix.read_derivation(derivation)
    inputs = nix.sandbox_inputs(parsed) if parsed is not None else None
    if parsed is None or inputs is None:
        return None
    return DerivationClosure(derivation, tuple(parsed.outputs.values()), stage_closure(lock, stage_name, inputs))
