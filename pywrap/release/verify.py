"""Verification logic, free of Nix and of subprocesses (pure apart from reading files).

Two questions:

* Did a stage rebuild to the same bytes?  :func:`compare_trees` names the files
  that differ between a stage's output and its rebuild (``<out>.check``), and
  :func:`archive_differences` the members of a tar or zip archive that differ.
* Are exported artifacts what was built?  :func:`verify_artifacts` checks each
  stage directory of ``dist/``: every file against SHA256SUMS (and no unlisted
  file), every attestation's subject against its artifact, and, when a checker
  is given, the signature of SHA256SUMS and of every attestation.
* Is ``dist/`` one release?  Each statement names the artifacts of its input
  stages it was built from; :func:`graph_problems` holds them against the input
  stages' directories (pure), and :func:`check_consistency` says which stages of
  ``dist/`` are stale after a build exported only some.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
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
            members[member.name] = (
                member.type,
                member.mode,
                member.uid,
                member.gid,
                member.uname,
                member.gname,
                int(member.mtime),
                member.linkname,
                hashlib.sha256(data).hexdigest(),
            )
    return members


def _zip_members(path: Path) -> dict[str, tuple[object, ...]]:
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename: (
                info.date_time,
                info.external_attr,
                info.extra,
                hashlib.sha256(archive.read(info)).hexdigest(),
            )
            for info in archive.infolist()
        }


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
    #: Stages whose statements do not match their input stages' files: rebuild these (graph order).
    stale: tuple[str, ...] = ()

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
    #: Per stage directory, what each statement read says the stage was built from.
    records: dict[str, list[provenance.RecordedInputs | None]] = attrs.Factory(dict)


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
    # Each stage checked must have been built from the files its input stages hold in dist/.
    checked = graph_order(
        [directory.name for directory in directories if directory.name in tally.records], _inputs_of(tally.records)
    )
    graph = graph_problems(tally.records, listed_checksums(dist), checked)
    tally.problems += [problem.describe(dist) for problem in graph]
    if tally.unchecked_signatures:
        notes.append(f"{tally.unchecked_signatures} signatures were not checked: pass --allowed-signers and --identity")
    # An input stage left out of the check is not a reason to rebuild anything.
    stale = stale_stages([problem for problem in graph if problem.file or not problem.input_stage], tally.records)
    return ArtifactReport(tally.files, tally.attestations, tally.signatures, tuple(tally.problems), tuple(notes), stale)


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
    if WHEEL_CHECKS in listed:
        tally.problems += upload_check_problems(directory / WHEEL_CHECKS)


#: What the wheel stage writes beside the wheel (nix/tools/stage_tools.py): what was checked and done.
WHEEL_CHECKS = "wheel-checks.json"


def upload_check_problems(record: Path) -> list[str]:
    """A wheel that failed the upload checks (its stage had `upload-check = "warn"`) is not one to publish:
    the index would refuse it.  An unreadable record is the checksum check's to report."""
    try:
        document = json.loads(record.read_bytes())
    except (OSError, ValueError, RecursionError):
        return []
    check = document.get("upload-check") if isinstance(document, dict) else None
    if not isinstance(check, dict) or check.get("passed") is not False:
        return []
    found = check.get("problems")
    problems = "; ".join(str(problem) for problem in found) if isinstance(found, list) and found else "see the record"
    return [
        f"{record}: {document.get('wheel', 'the wheel')} failed the upload checks, which its stage only recorded "
        f'(upload-check = "warn"), so the index would refuse it: {problems}'
    ]


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
    try:
        document = json.loads(attestation.read_bytes())
    except OSError as error:
        tally.problems.append(f"{attestation}: cannot be read ({error.strerror or error})")
        return attestation
    except (ValueError, RecursionError) as error:  # not JSON (or not UTF-8), or nested too deep
        tally.problems.append(f"{attestation}: not valid JSON ({error})")
        return attestation
    tally.problems += [f"{attestation}: {problem}" for problem in provenance.subject_problems(document, name, actual)]
    tally.records.setdefault(directory.name, []).append(provenance.recorded_inputs(document))
    return attestation


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


# --- one release: the stage graph ----------------------------------------------------


@attrs.frozen
class GraphProblem:
    """A stage of ``dist/`` whose statement does not match its input stages' files there."""

    stage: str
    #: Empty when the statement does not say which stages it read.
    input_stage: str = ""
    #: Empty when the input stage's whole directory is absent.
    file: str = ""
    #: The sha256 the statement names for ``file``; empty when it does not name it.
    recorded: str = ""
    #: The sha256 the input stage's SHA256SUMS lists for ``file``; empty when not there.
    present: str = ""

    def describe(self, dist: Path) -> str:
        here = dist / self.stage
        if not self.input_stage:
            return (
                f"{here}: its statements do not name the stages it was built from (an older pyrel's): "
                f"it cannot be checked against them; rebuild {self.stage}"
            )
        if not self.file:
            return (
                f"{here}: built from stage {self.input_stage}, which is not in {dist}: a stage is verified "
                f"with its input stages (add {dist / self.input_stage}, or leave {self.stage} out)"
            )
        built_from = f"{self.input_stage}/{self.file}"
        if not self.present:
            return (
                f"{here}: built from {built_from} (sha256 {self.recorded}), which is not in {dist / self.input_stage}"
            )
        if not self.recorded:
            return (
                f"{dist / self.input_stage / self.file}: not one of the files of {self.input_stage} that "
                f"{self.stage} was built from"
            )
        return (
            f"{here}: built from {built_from} with sha256 {self.recorded}, but "
            f"{dist / self.input_stage / self.file} has sha256 {self.present}"
        )

    def to_json(self) -> dict[str, str]:
        return {
            "stage": self.stage,
            "input-stage": self.input_stage,
            "file": self.file,
            "recorded-sha256": self.recorded,
            "present-sha256": self.present,
        }


def graph_problems(
    records: Mapping[str, Sequence[provenance.RecordedInputs | None]],
    present: Mapping[str, Mapping[str, str]],
    stages: Iterable[str],
) -> list[GraphProblem]:
    """Where the statements of ``stages`` disagree with their input stages' files (pure).

    ``records``: per stage directory, what each of its statements says it was built from
    (None: the statement does not say); ``present``: per stage directory of ``dist/``, the
    files its SHA256SUMS lists and their sha256.  Every input stage must be present and
    hold exactly the files the statement names, with the same sha256.
    """
    problems: dict[GraphProblem, None] = {}  # ordered, without the repeats of a stage's several statements
    for stage in stages:
        for record in records.get(stage, ()):
            if record is None:
                problems[GraphProblem(stage)] = None
                continue
            for input_stage in record.input_stages:
                listed = present.get(input_stage)
                if listed is None:
                    problems[GraphProblem(stage, input_stage)] = None
                    continue
                named = {file: sha256 for name, file, sha256 in record.files if name == input_stage}
                for file in sorted(named.keys() | listed.keys()):
                    if named.get(file) != listed.get(file):
                        problems[GraphProblem(stage, input_stage, file, named.get(file, ""), listed.get(file, ""))] = (
                            None
                        )
    return list(problems)


def stale_stages(
    problems: Iterable[GraphProblem],
    records: Mapping[str, Sequence[provenance.RecordedInputs | None]],
    exported: Iterable[str] = (),
) -> tuple[str, ...]:
    """The stages to rebuild so that ``dist/`` is one release again, in graph order (pure).

    ``exported``: the stages the build that just ran exported.  A stage built before
    them whose inputs changed is stale; when a stage just built does not match an input
    stage in ``dist/`` (not exported by this run), or an input stage is absent, that
    input stage is.  What reads a stale stage is stale with it (it will change).
    """
    fresh = set(exported)
    stale = set()
    for problem in problems:
        if problem.stage not in fresh:
            stale.add(problem.stage)
        if problem.input_stage and (problem.stage in fresh or not problem.file):
            stale.add(problem.input_stage)
    inputs_of = _inputs_of(records)
    grown = True
    while grown:
        readers = {stage for stage, inputs in inputs_of.items() if stage not in fresh and inputs & stale}
        grown = not readers <= stale
        stale |= readers
    return tuple(graph_order(stale, inputs_of))


def _inputs_of(records: Mapping[str, Sequence[provenance.RecordedInputs | None]]) -> dict[str, set[str]]:
    return {
        stage: {name for record in recorded if record is not None for name in record.input_stages}
        for stage, recorded in records.items()
    }


def graph_order(stages: Iterable[str], inputs_of: Mapping[str, Iterable[str]]) -> list[str]:
    """``stages`` with every stage after those it reads (by name where the graph does not order them)."""
    wanted = set(stages)
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(stage: str) -> None:
        if stage in ordered or stage in visiting:
            return
        visiting.add(stage)
        for input_stage in sorted(inputs_of.get(stage, ())):
            visit(input_stage)
        if stage in wanted:
            ordered.append(stage)

    for stage in sorted(wanted):
        visit(stage)
    return ordered


def listed_checksums(dist: Path) -> dict[str, dict[str, str]]:
    """Per stage directory of ``dist`` (those holding SHA256SUMS), the files it lists and their sha256."""
    listed = {}
    for directory in stage_directories(dist):
        try:
            listed[directory.name] = parse_checksums((directory / CHECKSUMS).read_text(errors="replace"), "")[0]
        except OSError:
            continue
    return listed


def read_records(dist: Path) -> dict[str, list[provenance.RecordedInputs | None]]:
    """Per stage directory of ``dist``, what each statement says the stage was built from (unreadable ones left out)."""
    records: dict[str, list[provenance.RecordedInputs | None]] = {}
    for directory in stage_directories(dist):
        for statement in sorted(directory.rglob(f"*{provenance.ATTESTATION_SUFFIX}")):
            try:
                document = json.loads(statement.read_bytes())
            except (OSError, ValueError, RecursionError):
                continue
            records.setdefault(directory.name, []).append(provenance.recorded_inputs(document))
    return records


@attrs.frozen
class Consistency:
    """Whether ``dist/`` is one release: every stage built from the files its input stages hold there."""

    problems: tuple[GraphProblem, ...]
    #: The stages to rebuild, in graph order.
    stale: tuple[str, ...]

    def __bool__(self) -> bool:
        return not self.problems


def check_consistency(dist: Path, exported: Iterable[str] = ()) -> Consistency:
    """Check every stage of ``dist`` against its input stages there; ``exported``: what a build just exported."""
    records = read_records(dist)
    problems = graph_problems(records, listed_checksums(dist), graph_order(records, _inputs_of(records)))
    return Consistency(tuple(problems), stale_stages(problems, records, exported))


def files_to_sign(dist: Path, stages: Iterable[str] = ()) -> list[Path]:
    """What `pyrel sign` signs: each stage's SHA256SUMS and each attestation."""
    targets = []
    for directory in stage_directories(dist, stages):
        if (directory / CHECKSUMS).is_file():
            targets.append(directory / CHECKSUMS)
        targets += sorted(directory.rglob(f"*{provenance.ATTESTATION_SUFFIX}"))
    return targets


__all__ = [
    "ArtifactReport",
    "Consistency",
    "Difference",
    "GraphProblem",
    "SignatureChecker",
    "archive_differences",
    "check_consistency",
    "compare_trees",
    "files_to_sign",
    "graph_order",
    "graph_problems",
    "parse_checksums",
    "stale_stages",
    "verify_artifacts",
]
