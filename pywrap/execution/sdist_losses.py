"""An unpacked sdist built again: the files of the sdist it came from that the rebuilt one lacks.

Pure.  A project whose root holds PKG-INFO is a published sdist, unpacked; every file in it was
released once.  A rebuilt sdist without some of them (a backend's file selection that misses what
the published one held: a setuptools project released without its MANIFEST.in, flit_core's
minimal sdist against `flit build`'s) would be a release with files missing, said by no error.
"""

from __future__ import annotations

import tarfile
from collections.abc import Collection, Iterable
from pathlib import Path

#: Shown by name; the rest are counted.
SHOWN = 8


def _regenerated(path: str) -> bool:
    """Written again by every build of an sdist: its metadata, setuptools' egg-info."""
    return path == "PKG-INFO" or path.split("/", 1)[0].endswith(".egg-info")


def lost_files(members: Iterable[str], tree: Iterable[str], own: Collection[str]) -> list[str]:
    """The files of ``tree`` (the unpacked sdist's, relative) that the rebuilt sdist's ``members``
    (``<name>-<version>/<path>``) lack; ``own``: pyrel's files in the tree (its configuration, its locks)."""
    rebuilt = {member.split("/", 1)[1] for member in members if "/" in member}
    return sorted(path for path in tree if path not in rebuilt and path not in own and not _regenerated(path))


def sdist_members(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        return [member.name for member in archive.getmembers() if member.isfile()]


def losses_notice(lost: list[str]) -> str:
    shown = ", ".join(lost[:SHOWN]) + (f" and {len(lost) - SHOWN} more" if len(lost) > SHOWN else "")
    return (
        f"the rebuilt sdist lacks {len(lost)} of the files of the sdist this project was unpacked from "
        f"(its root holds PKG-INFO): {shown}. The build backend's file selection leaves them out "
        "(setuptools: MANIFEST.in; flit: [tool.flit.sdist] include; hatch: [tool.hatch.build.targets.sdist] "
        "include), so this release would not ship them"
    )
