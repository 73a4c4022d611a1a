"""Verification logic, free of Nix and of subprocesses (pure apart from reading files).

Two questions:

* Did a stage rebuild to the same bytes?  :func:`compare_trees` names the files
  that differ between a stage's output and its rebuild (``<out>.check``), and
  :func:`archive_differences` the members of a tar or zip archive that differ.
* Are exported artifacts what was built?  :func:`verify_artifacts` checks each
  stage directory of ``dist/``: every file against SHA256SUMS (and no unlisted
  file), every attestation's subject against its artifact, and, when a checker
  is given, the signature of SHA256SUMS and of every attestation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from pywrap.digest import file_sha256
from pywrap.execution.export import CHECKSUMS
from pywrap.release import provenance

SIGNATURE_SUFFIX = ".sig"
_CHECKSUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")

#: (signature file, signed file) -> None when it verifies, else why not.
SignatureChecker = Callable[[Path, Path], "str | None"]


@attrs.frozen
class Difference:
    path: str
    reason: str

    def describe(self) -> str:
        return f"{self.path}: {self.reason}"


# --- reproducibility -------------------------------------------------------------------


def _entries(root: Path) -> dict[str, os.stat_result]:
    entries = {}
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in [*subdirs, *files]:
            path = Path(directory, name)
            entries[path.relative_to(root).as_posix()] = path.lstat()
    return entries


def compare_trees(first: Path, second: Path) -> list[Difference]:
    """Files that differ between two output trees: missing on one side, type, mode, content, link target."""
    left, right = _entries(first), _entries(second)
    differences = []
    for name in sorted(left.keys() | right.keys()):
        if name not in right:
            differences.append(Difference(name, f"only in {first}"))
            continue
        if name not in left:
            differences.append(Difference(name, f"only in {second}"))
            continue
        a, b = left[name], right[name]
        if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
            differences.append(Difference(name, "file type differs"))
        elif stat.S_ISLNK(a.st_mode):
            if os.readlink(first / name) != os.readlink(second / name):
                differences.append(Difference(name, "symlink target differs"))
        elif stat.S_ISREG(a.st_mode):
            if a.st_size != b.st_size or file_sha256(first / name) != file_sha256(second / name):
                differences.append(Difference(name, f"content differs ({a.st_size} vs {b.st_size} bytes)"))
            elif stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
                differences.append(Difference(name, "mode differs"))
    return differences


def _tar_members(path: Path) -> dict[str, tuple[object, ...]]:
    members: dict[str, tuple[object, ...]] = {}
    with tarfile.open(path) as archive:
        for member in archive:
            data = archive.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            members[member.name] = (member.type, member.mode, member.uid, member.gid, member.uname,
                                    member.gname, int(member.mtime), member.linkname,
                                    hashlib.sha256(data).hexdigest())
    return members


def _zip_members(path: Path) -> dict[str, tuple[object, ...]]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: (info.date_time, info.external_attr, info.extra,
                                hashlib.sha256(archive.read(info)).hexdigest())
                for info in archive.infolist()}


def archive_differences(first: Path, second: Path) -> list[Difference] | None:
    """Members that differ between two archives (tar, tar.gz, zip, wheel); None if not archives.

    An empty list means the members agree and the archives differ only in
    their container bytes (member order, compression, headers).
    """
    name = first.name
    fields: tuple[str, ...]
    try:
        if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
            left, right = _tar_members(first), _tar_members(second)
            fields = ("type", "mode", "uid", "gid", "uname", "gname", "mtime", "linkname", "content")
        elif name.endswith((".zip", ".whl", ".epub")):
            left, right = _zip_members(first), _zip_members(second)
            fields = ("date_time", "external_attr", "extra", "content")
        else:
            return None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError):
        return None
    differences = []
    for member in sorted(left.keys() | right.keys()):
        if member not in left or member not in right:
            differences.append(Difference(member, "only in one archive"))
            continue
        changed = [field for field, a, b in zip(fields, left[member], right[member], strict=True) if a != b]
        if changed:
            differences.append(Difference(member, ", ".join(changed) + " differ"))
    if not differences and list(left) != list(right):
        differences.append(Difference("(order)", "members are in a different order"))
    return differences


# --- exported artifacts ----------------------------------------------------------------


@attrs.frozen
class ArtifactReport:
    checked_files: int
    checked_attestations: int
    checked_signatures: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return not self.problems


def parse_checksums(text: str, where: str) -> tuple[dict[str, str], list[str]]:
    """``{file name: sha256}`` from a SHA256SUMS text, and the problems of its malformed lines."""
    listed: dict[str, str] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _CHECKSUM_LINE.match(line)
        if match is None:
            problems.append(f"{where}:{number}: not a '<sha256>  <file>' line: {line[:80]!r}")
            continue
        digest, name = match.groups()
        if name in listed:
            problems.append(f"{where}:{number}: {name} is listed twice")
        listed[name] = digest
    return listed, problems


def stage_directories(dist: Path, stages: Iterable[str] = ()) -> list[Path]:
    """The stage directories of ``dist`` (those holding SHA256SUMS), or the named ones."""
    wanted = list(stages)
    if wanted:
        return [dist / name for name in wanted]
    return sorted(path.parent for path in dist.glob(f"*/{CHECKSUMS}"))


def _is_metadata(name: str) -> bool:
    return name == CHECKSUMS or name.endswith((provenance.ATTESTATION_SUFFIX, SIGNATURE_SUFFIX))


@attrs.define
class _Tally:
    """What :func:`verify_artifacts` has checked and found so far."""

    problems: list[str] = attrs.Factory(list)
    files: int = 0
    attestations: int = 0
    signatures: int = 0
    unchecked_signatures: int = 0


def verify_artifacts(
    dist: Path, stages: Iterable[str] = (), *, check_signature: SignatureChecker | None = None
) -> ArtifactReport:
    """Check every stage directory of ``dist``; each problem names the file it is about."""
    tally = _Tally()
    notes: list[str] = []
    directories = stage_directories(dist, stages)
    if not directories:
        tally.problems.append(f"{dist}: no stage directory with a {CHECKSUMS} file")
    for directory in directories:
        _verify_stage_directory(directory, check_signature, tally)
    if tally.unchecked_signatures:
        notes.append(f"{tally.unchecked_signatures} signatures were not checked: pass --allowed-signers and --identity")
    return ArtifactReport(tally.files, tally.attestations, tally.signatures, tuple(tally.problems), tuple(notes))


def _verify_stage_directory(directory: Path, check_signature: SignatureChecker | None, tally: _Tally) -> None:
    checksums = directory / CHECKSUMS
    listed = _read_checksums(checksums, tally)
    if listed is None:
        return
    present = sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file())
    for name in present:
        if not _is_metadata(name) and name not in listed:
            tally.problems.append(f"{directory / name}: not listed in {checksums}")
    signed = [checksums]
    for name, expected in sorted(listed.items()):
        attestation = _verify_artifact(directory, name, expected, tally)
        if attestation is not None:
            signed.append(attestation)
    for name in present:
        subject = name.removesuffix(provenance.ATTESTATION_SUFFIX)
        if name.endswith(provenance.ATTESTATION_SUFFIX) and subject not in listed:
            tally.problems.append(f"{directory / name}: an attestation for a file not in {checksums}")
    for path in signed:
        _verify_signature(path, check_signature, tally)


def _read_checksums(checksums: Path, tally: _Tally) -> dict[str, str] | None:
    """The files ``checksums`` lists; None when it cannot be read at all."""
    if not checksums.is_file():
        tally.problems.append(f"{checksums}: missing")
        return None
    try:
        listed, malformed = parse_checksums(checksums.read_text(errors="replace"), str(checksums))
    except OSError as error:
        tally.problems.append(f"{checksums}: cannot be read ({error.strerror or error})")
        return None
    tally.problems += malformed
    return listed


def _verify_artifact(directory: Path, name: str, expected: str, tally: _Tally) -> Path | None:
    """Check one listed artifact and its attestation; returns the attestation (to be signed) if there is one."""
    checksums = directory / CHECKSUMS
    artifact = directory / name
    if not artifact.is_file():
        tally.problems.append(f"{artifact}: listed in {checksums} but missing")
        return None
    try:
        actual = file_sha256(artifact)
    except OSError as error:
        tally.problems.append(f"{artifact}: cannot be read ({error.strerror or error})")
        return None
    tally.files += 1
    if actual != expected:
        tally.problems.append(f"{artifact}: sha256 {actual} does not match {checksums} ({expected})")
    attestation = directory / provenance.attestation_name(name)
    if not attestation.is_file():
        tally.problems.append(f"{attestation}: missing (no provenance for {artifact.name})")
        return None
    tally.attestations += 1
    tally.problems += _attestation_problems(attestation, name, actual)
    return attestation


def _attestation_problems(attestation: Path, name: str, actual: str) -> list[str]:
    try:
        document = json.loads(attestation.read_bytes())
    except OSError as error:
        return [f"{attestation}: cannot be read ({error.strerror or error})"]
    except (ValueError, RecursionError) as error:  # not JSON (or not UTF-8), or nested too deep
        return [f"{attestation}: not valid JSON ({error})"]
    return [f"{attestation}: {problem}" for problem in provenance.subject_problems(document, name, actual)]


def _verify_signature(path: Path, check_signature: SignatureChecker | None, tally: _Tally) -> None:
    signature = path.with_name(path.name + SIGNATURE_SUFFIX)
    if check_signature is None:
        tally.unchecked_signatures += signature.is_file()
        return
    if not signature.is_file():
        tally.problems.append(f"{signature}: missing (every {CHECKSUMS} and attestation must be signed)")
        return
    failure = check_signature(signature, path)
    tally.signatures += 1
    if failure is not None:
        tally.problems.append(f"{path}: bad signature {signature.name}: {failure}")


def files_to_sign(dist: Path, stages: Iterable[str] = ()) -> list[Path]:
    """What `pyrel sign` signs: each stage's SHA256SUMS and each attestation."""
    targets = []
    for directory in stage_directories(dist, stages):
        if (directory / CHECKSUMS).is_file():
            targets.append(directory / CHECKSUMS)
        targets += sorted(directory.rglob(f"*{provenance.ATTESTATION_SUFFIX}"))
    return targets


__all__ = ["ArtifactReport", "Difference", "SignatureChecker", "archive_differences", "compare_trees",
           "files_to_sign", "parse_checksums", "verify_artifacts"]
