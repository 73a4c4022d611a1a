"""Audit: what each stage's sandbox sees, counted in pinned packages and bytes.

"Packages" are distinct pinned things that went into a stage: each Debian
package and each wheel, counted once; pyrel's own generated store paths (the
merged root, the busybox applet tree, the project source, scripts) are listed
separately.  The byte count is the size of the store paths, as
``nix-store -q --size`` reports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from pywrap.adapters import nix
from pywrap.lock import Lock


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


def stage_packages(lock: Lock, stage_name: str) -> tuple[str, ...]:
    """The pinned packages a stage's sandbox sees: its root's debs, busybox, its wheels."""
    stage = lock.stage(stage_name)
    names = set(stage.system) | {"busybox-static"}
    debs = [f"deb:{name}={lock.package(name).version}" for name in sorted(names)]
    wheels = [f"wheel:{wheel.name}={wheel.version}" for wheel in stage.wheels]
    return tuple(debs + wheels)


def stage_closure(lock: Lock, stage_name: str, input_paths: Sequence[str]) -> ClosureSummary:
    paths = nix.requisites(list(input_paths))
    sizes = nix.sizes(paths)
    return ClosureSummary(
        packages=stage_packages(lock, stage_name),
        store_paths=tuple(paths),
        bytes=sum(sizes.values()),
    )
