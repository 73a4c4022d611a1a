"""Verification (pure): tampering with an artifact, SHA256SUMS or an attestation is named; tree diffs."""

from __future__ import annotations

import datetime
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from pywrap.release import provenance, verify
from pywrap.release.reproduce import parse_check_log
from pywrap.release.source_state import SourceInfo

ARTIFACT = "hello-1.0.tar.gz"


def _context() -> provenance.BuildContext:
    moment = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    return provenance.BuildContext(
        project="hello",
        invocation_id="i",
        started_on=moment,
        finished_on=moment,
        builder_id=provenance.DEFAULT_BUILDER_ID,
        pyrel_version="0",
        nix_version="2.8.0",
        source=SourceInfo(),
    )


def _dist(tmp_path: Path) -> Path:
    """A dist/ as `pyrel build` writes it: one stage, one artifact, its statement and SHA256SUMS."""
    stage = tmp_path / "dist" / "source"
    stage.mkdir(parents=True)
    data = b"pretend this is an sdist"
    (stage / ARTIFACT).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (stage / "SHA256SUMS").write_text(f"{digest}  {ARTIFACT}\n")
    document = provenance.statement(
        artifact=ARTIFACT,
        sha256=digest,
        stage="source",
        context=_context(),
        dependencies=[],
        derivation=None,
        output=None,
    )
    (stage / provenance.attestation_name(ARTIFACT)).write_text(provenance.dumps(document))
    return tmp_path / "dist"


def _flip_one_byte(path: Path, offset: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_an_untouched_dist_verifies(tmp_path: Path) -> None:
    report = verify.verify_artifacts(_dist(tmp_path))
    assert report and report.checked_files == 1 and report.checked_attestations == 1


def test_one_changed_byte_of_an_artifact_is_detected(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    _flip_one_byte(dist / "source" / ARTIFACT)
    report = verify.verify_artifacts(dist)
    assert not report
    assert any(problem.startswith(f"{dist / 'source' / ARTIFACT}: sha256") for problem in report.problems)
    # The attestation's subject no longer matches either.
    assert any(problem.startswith(str(dist / "source" / f"{ARTIFACT}.intoto.json")) for problem in report.problems)


@pytest.mark.parametrize("offset", [0, 63, 66])  # in the digest; its last hex digit; in the file name
def test_one_changed_byte_of_sha256sums_is_detected(tmp_path: Path, offset: int) -> None:
    dist = _dist(tmp_path)
    _flip_one_byte(dist / "source" / "SHA256SUMS", offset)
    report = verify.verify_artifacts(dist)
    assert not report
    assert any("SHA256SUMS" in problem for problem in report.problems), report.problems


def test_a_changed_attestation_subject_is_detected(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    attestation = dist / "source" / f"{ARTIFACT}.intoto.json"
    text = attestation.read_text()
    digest = hashlib.sha256((dist / "source" / ARTIFACT).read_bytes()).hexdigest()
    attestation.write_text(text.replace(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1")))
    [problem] = verify.verify_artifacts(dist).problems
    assert problem.startswith(f"{attestation}: subject")


def test_a_corrupt_or_missing_attestation_is_detected(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    attestation = dist / "source" / f"{ARTIFACT}.intoto.json"
    _flip_one_byte(attestation, 0)  # '{' -> 'z'
    [problem] = verify.verify_artifacts(dist).problems
    assert problem.startswith(f"{attestation}: not valid JSON")
    attestation.unlink()
    [problem] = verify.verify_artifacts(dist).problems
    assert problem.startswith(f"{attestation}: missing")


def test_an_added_file_is_detected(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    (dist / "source" / "evil.sh").write_text("curl | sh\n")
    [problem] = verify.verify_artifacts(dist).problems
    assert problem == f"{dist / 'source' / 'evil.sh'}: not listed in {dist / 'source' / 'SHA256SUMS'}"


def test_signatures_are_required_and_checked_when_a_checker_is_given(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    signed = verify.files_to_sign(dist)
    assert [path.name for path in signed] == ["SHA256SUMS", f"{ARTIFACT}.intoto.json"]
    for path in signed:
        path.with_name(path.name + ".sig").write_text(hashlib.sha256(path.read_bytes()).hexdigest())

    def checker(signature: Path, data: Path) -> str | None:
        good = signature.read_text() == hashlib.sha256(data.read_bytes()).hexdigest()
        return None if good else "incorrect signature"

    assert verify.verify_artifacts(dist, check_signature=checker).checked_signatures == 2
    unchecked = verify.verify_artifacts(dist)
    assert unchecked and "2 signatures were not checked" in unchecked.notes[0]
    attestation = dist / "source" / f"{ARTIFACT}.intoto.json"
    attestation.write_text(attestation.read_text().replace('"hello"', '"hellp"'))  # subject untouched
    [problem] = verify.verify_artifacts(dist, check_signature=checker).problems
    assert problem == f"{attestation}: bad signature {ARTIFACT}.intoto.json.sig: incorrect signature"
    (dist / "source" / "SHA256SUMS.sig").unlink()
    problems = verify.verify_artifacts(dist, check_signature=checker).problems
    assert any(problem.startswith(f"{dist / 'source' / 'SHA256SUMS.sig'}: missing") for problem in problems)


def test_compare_trees_names_the_differing_files(tmp_path: Path) -> None:
    first, second = tmp_path / "out", tmp_path / "out.check"
    for root, noise in ((first, "1"), (second, "2")):
        (root / "sub").mkdir(parents=True)
        (root / "same.txt").write_text("same")
        (root / "sub" / "noise.txt").write_text(noise)
    (second / "extra").write_text("")
    differences = verify.compare_trees(first, second)
    assert [difference.path for difference in differences] == ["extra", "sub/noise.txt"]
    assert differences[1].reason.startswith("content differs")


def _tar(mtime: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in ("a.txt", "b.txt"):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = 1, mtime if name == "b.txt" else 0
            archive.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


def test_archive_differences_name_the_members(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    (tmp_path / "1" / "x.tar.gz").write_bytes(_tar(1))
    (tmp_path / "2" / "x.tar.gz").write_bytes(_tar(2))
    found = verify.archive_differences(tmp_path / "1" / "x.tar.gz", tmp_path / "2" / "x.tar.gz")
    assert found == [verify.Difference("b.txt", "mtime differ")]
    (tmp_path / "1" / "x.txt").write_text("")
    assert verify.archive_differences(tmp_path / "1" / "x.txt", tmp_path / "1" / "x.txt") is None


def test_nix_check_log_is_parsed() -> None:
    log = (
        "checking outputs of '/nix/store/aaa-p-noisy.drv'...\n"
        "note: keeping build directory '/tmp/nix-build-p-noisy.drv-0'\n"
        "error: derivation '/nix/store/aaa-p-noisy.drv' may not be deterministic: output "
        "'/nix/store/bbb-p-noisy' differs from '/nix/store/bbb-p-noisy.check'\n"
    )
    differing, kept = parse_check_log(log)
    assert differing == {"/nix/store/bbb-p-noisy": "/nix/store/bbb-p-noisy.check"}
    assert kept == ["/tmp/nix-build-p-noisy.drv-0"]
