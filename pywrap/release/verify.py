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


def verify_artifacts(
    dist: Path, stages: Iterable[str] = (), *, check_signature: SignatureChecker | None = None
) -> ArtifactReport:
    """Check every stage directory of ``dist``; each problem names the file it is about."""
    problems: list[str] = []
    notes: list[str] = []
    files = attestations = signatures = 0
    directories = stage_directories(dist, stages)
    if not directories:
        problems.append(f"{dist}: no stage directory with a {CHECKSUMS} file")
    unchecked_signatures = 0
    for directory in directories:
        checksums = directory / CHECKSUMS
        if not checksums.is_file():
            problems.append(f"{checksums}: missing")
            continue
        try:
            listed, malformed = parse_checksums(checksums.read_text(errors="replace"), str(checksums))
        except OSError as error:
            problems.append(f"{checksums}: cannot be read ({error.strerror or error})")
            continue
        problems += malformed
        present = sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file())
        for name in present:
            if not _is_metadata(name) and name not in listed:
                problems.append(f"{directory / name}: not listed in {checksums}")
        signed = [checksums]
        for name, expected in sorted(listed.items()):
            artifact = directory / name
            if not artifact.is_file():
                problems.append(f"{artifact}: listed in {checksums} but missing")
                continue
            try:
                actual = file_sha256(artifact)
            except OSError as error:
                problems.append(f"{artifact}: cannot be read ({error.strerror or error})")
                continue
            files += 1
            if actual != expected:
                problems.append(f"{artifact}: sha256 {actual} does not match {checksums} ({expected})")
            attestation = directory / provenance.attestation_name(name)
            if not attestation.is_file():
                problems.append(f"{attestation}: missing (no provenance for {artifact.name})")
                continue
            signed.append(attestation)
            attestations += 1
            try:
                document = json.loads(attestation.read_bytes())
            except OSError as error:
                problems.append(f"{attestation}: cannot be read ({error.strerror or error})")
                continue
            except (ValueError, RecursionError) as error:  # not JSON (or not UTF-8), or nested too deep
                problems.append(f"{attestation}: not valid JSON ({error})")
                continue
            problems += [f"{attestation}: {problem}" for problem in provenance.subject_problems(document, name, actual)]
        for name in present:
            subject = name.removesuffix(provenance.ATTESTATION_SUFFIX)
            if name.endswith(provenance.ATTESTATION_SUFFIX) and subject not in listed:
                problems.append(f"{directory / name}: an attestation for a file not in {checksums}")
        for path in signed:
            signature = path.with_name(path.name + SIGNATURE_SUFFIX)
            if check_signature is None:
                unchecked_signatures += signature.is_file()
                continue
            if not signature.is_file():
                problems.append(f"{signature}: missing (every {CHECKSUMS} and attestation must be signed)")
                continue
            failure = check_signature(signature, path)
            signatures += 1
            if failure is not None:
                problems.append(f"{path}: bad signature {signature.name}: {failure}")
    if unchecked_signatures:
        notes.append(f"{unchecked_signatures} signatures were not checked: pass --allowed-signers and --identity")
    return ArtifactReport(files, attestations, signatures, tuple(problems), tuple(notes))


def files_to_sign(dist: Path, stages: Iterable[str] = ()) -> list[Path]:
    """What `pyrel sign` signs: each stage's SHA256SUMS and each attestation."""
    targets = []
    for directory in stage_directories(dist, stages):
        if (directory / CHECKSUMS).is_file():
            targets.append(directory / CHECKSUMS)
        targets += sorted(directory.rglob(f"*{provenance.ATTESTATION_SUFFIX}"))
    return targets


def describe_differences(differences: Iterable[Difference]) -> str:
    return "\n".join(difference.describe() for difference in differences)


__all__ = ["ArtifactReport", "Difference", "SignatureChecker", "archive_differences", "compare_trees",
           "files_to_sign", "parse_checksums", "verify_artifacts"]
