"""Read one file out of a ``.deb`` in Python: an ``ar`` archive whose ``data.tar.*`` holds the files.

No dpkg-deb: a machine with only Nix and Python unpacks busybox for the sandbox's shell too.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from pywrap.errors import FetchError

_AR_MAGIC = b"!<arch>\n"
_HEADER = 60


def _members(data: bytes, deb: Path) -> dict[str, bytes]:
    if not data.startswith(_AR_MAGIC):
        raise FetchError(f"{deb}: not a .deb (no ar archive)")
    members: dict[str, bytes] = {}
    offset = len(_AR_MAGIC)
    while offset + _HEADER <= len(data):
        header = data[offset : offset + _HEADER]
        if header[58:60] != b"`\n":
            raise FetchError(f"{deb}: damaged ar header at byte {offset}")
        name = header[:16].decode("ascii", errors="replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise FetchError(f"{deb}: damaged ar header at byte {offset}") from None
        start = offset + _HEADER
        members[name] = data[start : start + size]
        offset = start + size + (size % 2)
    return members


def extract_member(deb: Path, *members: str) -> bytes:
    """The bytes of the first of ``members`` (e.g. ``./bin/busybox``) in the .deb's data archive."""
    try:
        raw = deb.read_bytes()
    except OSError as exc:
        raise FetchError(f"cannot read {deb}: {exc.strerror or exc}") from exc
    found = _members(raw, deb)
    names = [name for name in found if name.startswith("data.tar")]
    if not names:
        raise FetchError(f"{deb}: has no data.tar member")
    try:
        with tarfile.open(fileobj=io.BytesIO(found[names[0]]), mode="r:*") as archive:
            return _read(archive, members, deb)
    except tarfile.TarError as exc:
        raise FetchError(f"{deb}: cannot read its {names[0]} (this Python reads gzip, bzip2 and xz): {exc}") from exc


def _read(archive: tarfile.TarFile, members: tuple[str, ...], deb: Path) -> bytes:
    present = set(archive.getnames())
    for member in members:
        for candidate in (member, member.removeprefix("./"), "./" + member.removeprefix("./")):
            if candidate not in present:
                continue
            info = archive.getmember(candidate)
            if info.issym():  # e.g. bin/busybox -> ../usr/bin/busybox
                continue
            extracted = archive.extractfile(info)
            if extracted is not None:
                return extracted.read()
    raise FetchError(f"{deb}: has none of {', '.join(members)}")
