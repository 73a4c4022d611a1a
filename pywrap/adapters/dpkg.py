"""Thin adapter: read one file out of a .deb with the host's dpkg-deb."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from pywrap.adapters.run import require_tool
from pywrap.errors import FetchError


def extract_member(deb: Path, *members: str) -> bytes:
    """The bytes of the first of ``members`` (e.g. ``./bin/busybox``) in the .deb's data archive."""
    dpkg_deb = require_tool("dpkg-deb", "install dpkg (it is part of every Debian/Ubuntu system)")
    proc = subprocess.run([dpkg_deb, "--fsys-tarfile", str(deb)], capture_output=True, check=False)
    if proc.returncode != 0:
        raise FetchError(f"{deb}: not a readable .deb: {proc.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        names = set(archive.getnames())
        for member in members:
            for candidate in (member, member.removeprefix("./"), "./" + member.removeprefix("./")):
                if candidate not in names:
                    continue
                info = archive.getmember(candidate)
                if info.issym():  # e.g. bin/busybox -> ../usr/bin/busybox
                    continue
                extracted = archive.extractfile(info)
                if extracted is not None:
                    return extracted.read()
    raise FetchError(f"{deb}: has none of {', '.join(members)}")
