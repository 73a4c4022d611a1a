"""What pyrel's stage runners share inside the sandbox (stage_tools.py and wheel_checks.py import it).

Standard library only, and the light part of it: the wheel stage starts its backend after
loading this, and loads the rest while the backend builds.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import subprocess
import sys
import tarfile
from typing import NoReturn


def fail(message: str) -> NoReturn:
    print(f"pyrel: {message}", file=sys.stderr)
    sys.exit(1)


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, text=True, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


def start(command: list[str], **kwargs: object) -> subprocess.Popen[str]:
    """:func:`run`, not waited for: the caller goes on while the command runs."""
    print("+ " + " ".join(command), flush=True)
    return subprocess.Popen(command, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_digest(data: bytes) -> str:
    """A RECORD hash: urlsafe base64 of the sha256, unpadded (the wheel spec)."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def unpack_sdist(work: str, stage: str) -> tuple[str, str]:
    """The source stage's sdist (read-only input) unpacked in ``work``: its name, and its tree."""
    sdists = sorted(glob.glob(os.path.join(os.environ.get("PYREL_INPUT_source", ""), "*.tar.gz")))
    if len(sdists) != 1:
        fail(f"the {stage} stage reads one sdist from the source stage ($PYREL_INPUT_source), found {sdists}")
    unpacked = os.path.join(work, "sdist")
    with tarfile.open(sdists[0]) as archive:
        archive.extractall(unpacked)
    [project_dir] = [os.path.join(unpacked, name) for name in os.listdir(unpacked)]
    return os.path.basename(sdists[0]), project_dir
