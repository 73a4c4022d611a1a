"""`pyrel sign`: SSH signatures over each stage's SHA256SUMS and every attestation.

SHA256SUMS covers the artifacts; each attestation is signed on its own (it is
not listed in SHA256SUMS, see :mod:`pywrap.release.attest`).  Signatures are written
beside the file as ``<file>.sig`` (atomically) and checked by
``pyrel verify --artifacts DIST --allowed-signers FILE --identity ID``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pywrap.adapters import ssh
from pywrap.errors import VerificationError
from pywrap.files import write_atomically
from pywrap.release import verify


def sign_dist(dist: Path, key: Path, stages: Iterable[str] = ()) -> list[Path]:
    targets = verify.files_to_sign(dist, stages)
    if not targets:
        raise VerificationError(
            f"{dist}: nothing to sign (no stage directory with SHA256SUMS)", hint="run `pyrel build` first"
        )
    written = []
    for target in targets:
        signature = target.with_name(target.name + verify.SIGNATURE_SUFFIX)
        write_atomically(signature, ssh.sign(key, target).encode())
        written.append(signature)
    return written


def ssh_checker(allowed_signers: Path, identity: str) -> verify.SignatureChecker:
    def check(signature: Path, data: Path) -> str | None:
        return ssh.verify(allowed_signers, identity, signature, data)

    return check
