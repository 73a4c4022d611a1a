"""Where pyrel's static Nix library is, and the data it shares with the Python side.

The ELF layout of each system (``nix/platforms.json``: the loader's name and
directory, the multiarch triplet) is read by ``nix/lib.nix`` for the roots and
the stages, and here: ``pyrel build`` takes the loader out of the locked libc6
and mounts it where programs ask for it, so both sides name one path.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import attrs

from pywrap.errors import InstallationError

#: Debian architecture -> Nix system.
ARCH_TO_SYSTEM = {"amd64": "x86_64-linux", "arm64": "aarch64-linux"}


def nix_library() -> Path:
    """The static Nix library: shipped inside the package, or beside it in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_nix", package.parent / "nix"):
        if (candidate / "default.nix").is_file():
            return candidate
    raise InstallationError(f"pyrel's Nix library is missing (looked in {package / '_nix'})", hint="reinstall pyrel")


def nix_system(architecture: str) -> str:
    """The Nix system of a Debian architecture (``amd64`` -> ``x86_64-linux``)."""
    return ARCH_TO_SYSTEM.get(architecture, f"{architecture}-linux")


@attrs.frozen
class ElfPlatform:
    """A system's ELF layout, as ``nix/platforms.json`` gives it."""

    system: str
    loader: str  # ld-linux-x86-64.so.2
    triplet: str  # x86_64-linux-gnu
    loader_dir: str  # lib64

    @property
    def loader_path(self) -> str:
        """Where programs ask for the loader (their ``PT_INTERP``): ``/lib64/ld-linux-x86-64.so.2``."""
        return f"/{self.loader_dir}/{self.loader}"

    @property
    def loader_members(self) -> tuple[str, ...]:
        """Where libc6 keeps the loader's file (bookworm under /lib, trixie under /usr/lib)."""
        return (f"./lib/{self.triplet}/{self.loader}", f"./usr/lib/{self.triplet}/{self.loader}")


@functools.cache
def elf_platform(system: str) -> ElfPlatform | None:
    """The ELF layout of ``system`` (a Nix system), or None: ``nix/lib.nix`` refuses such a plan by name."""
    table_file = nix_library() / "platforms.json"
    try:
        table = json.loads(table_file.read_text())
        entry = table.get(system)
        if entry is None:
            return None
        return ElfPlatform(system, str(entry["loader"]), str(entry["triplet"]), str(entry["loaderDir"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InstallationError(
            f"pyrel's Nix library has no readable {table_file}: {exc}", hint="reinstall pyrel"
        ) from exc
