"""A malformed baseline, lock, pylock or attestation is an error naming the file, never a traceback.

Each is read directly and through the `pyrel` command (typer's runner, in process).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given
from typer.testing import CliRunner, Result

from pywrap.audit import closures as audit
from pywrap.audit.report import REPORT_JSON
from pywrap.cli.app import app
from pywrap.errors import BaselineError, LockError, VerificationError
from pywrap.execution.export import CHECKSUMS
from pywrap.locking.lockfile import LOCK_FILE, read_lock, read_pylock
from pywrap.release import attest, provenance, verify
from tests.conftest import copy_example
from tests.unit.test_audit import make_report
from tests.unit.test_fuzz import LOCK, PYLOCK, SETTINGS, mutated

GOOD_REPORT: dict[str, Any] = make_report().to_json()


def _pyrel(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _reported(result: Result, code: int, *words: str) -> str:
    """The run ended in error ``code``, its message holds ``words``, and nothing escaped as a traceback."""
    text = " ".join(result.output.split())
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "error:" in text
    for word in words:
        assert word in text
    return text


# --- the audit baseline -----------------------------------------------------------------


def _damaged(change: str) -> Any:
    report = copy.deepcopy(GOOD_REPORT)
    stage = report["stages"][0]
    if change == "no-derivation":
        del stage["derivation"]
    elif change == "stages-not-a-list":
        report["stages"] = {"source": stage}
    elif change == "size-a-string":
        stage["sandbox"]["store-paths"][0]["size"] = "100 MB"
    elif change == "budget-a-string":
        stage["budget"] = {"packages": "25"}
    elif change == "component-not-an-object":
        stage["supply-chain"]["components"][0] = "deb:libc6"
    elif change == "depends-a-string":
        stage["sandbox"]["components"][0]["depends"] = "libc6"
    elif change == "built-a-string":
        stage["built"] = "yes"
    elif change == "a-list":
        return [report]
    elif change == "older-schema":
        report["schema-version"] = 0
    return report


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("no-derivation", "'stages[0].derivation' is missing"),
        ("stages-not-a-list", "'stages' must be an array"),
        ("size-a-string", "'stages[0].sandbox.store-paths[0].size' must be an integer or null"),
        ("budget-a-string", "'stages[0].budget.packages' must be an integer or null"),
        ("component-not-an-object", "'stages[0].supply-chain.components[0]' is not a JSON object"),
        ("depends-a-string", "'stages[0].sandbox.components[0].depends' must be an array"),
        ("built-a-string", "'stages[0].built' must be true or false"),
        ("a-list", "not a JSON object"),
        ("older-schema", "not a pyrel audit report of schema version"),
    ],
)
def test_a_baseline_of_the_wrong_shape_names_the_file_and_the_key(tmp_path: Path, change: str, words: str) -> None:
    baseline = tmp_path / "old.json"
    baseline.write_text(json.dumps(_damaged(change)))
    with pytest.raises(BaselineError) as caught:
        audit.AuditReport.read(baseline)
    assert str(baseline) in caught.value.message and words in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (None, "no such file"),
    ],
)
def test_a_baseline_that_is_not_json_names_the_file(tmp_path: Path, content: bytes | None, words: str) -> None:
    baseline = tmp_path / "old.json"
    if content is not None:
        baseline.write_bytes(content)
    with pytest.raises(BaselineError, match=words) as caught:
        audit.AuditReport.read(baseline)
    assert str(baseline) in caught.value.message


def test_a_good_baseline_reads_back(tmp_path: Path) -> None:
    baseline = tmp_path / "old.json"
    baseline.write_text(json.dumps(GOOD_REPORT))
    assert audit.AuditReport.read(baseline) == make_report()


@SETTINGS
@given(mutated(GOOD_REPORT))
def test_a_baseline_that_reads_can_be_compared(document: dict[str, Any]) -> None:
    # What the audit does with a baseline: read it, diff it, check the budgets against it.
    try:
        old = audit.AuditReport.from_json(document)
    except BaselineError:
        return
    new = make_report()
    audit.check_budgets(new, audit.diff_reports(old, new))


def test_pyrel_audit_with_a_baseline_of_the_wrong_shape(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    baseline = tmp_path / "bad.json"
    baseline.write_text(json.dumps({"kind": "pyrel-audit", "schema-version": 1, "stages": [{"name": "source"}]}))
    _reported(
        _pyrel("audit", "-C", str(project), "--baseline", str(baseline)),
        BaselineError.exit_code,
        str(baseline),
        "'stages[0].derivation' is missing",
    )


def test_pyrel_audit_with_a_baseline_that_is_not_json(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    baseline = tmp_path / "bad.json"
    baseline.write_text("{")
    _reported(
        _pyrel("audit", "-C", str(project), "--baseline", str(baseline)),
        BaselineError.exit_code,
        str(baseline),
        "not valid JSON",
    )
    _reported(
        _pyrel("audit", "-C", str(project), "--baseline", str(tmp_path / "gone.json")),
        BaselineError.exit_code,
        str(tmp_path / "gone.json"),
        "no such file",
    )


def test_pyrel_audit_with_a_damaged_previous_report(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    previous = project / "dist" / "audit" / REPORT_JSON
    previous.parent.mkdir(parents=True)
    previous.write_text(json.dumps({"kind": "pyrel-audit", "schema-version": 1}))
    _reported(_pyrel("audit", "-C", str(project)), BaselineError.exit_code, str(previous), "'stages' is missing")


# --- pyrel.lock.toml and the pylocks ----------------------------------------------------


def _write_lock(root: Path, document: dict[str, Any]) -> Path:
    path = root / LOCK_FILE
    path.write_text(tomli_w.dumps(document))
    return path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda lock: lock.pop("debian"), "'debian' is missing or not a dict"),
        (
            lambda lock: lock["debian"]["packages"][0].update(size="1000"),
            "'debian.packages[0].size' is missing or not a",
        ),
        (lambda lock: lock["debian"].update(python="three"), "'debian.python' = 'three' is not a version"),
        (lambda lock: lock["debian"].update(glibc="2.36.1"), "'debian.glibc' = '2.36.1' is not a version"),
        (lambda lock: lock["stages"].update(source=["a"]), "'stages.source' must be a table"),
        (lambda lock: lock["stages"]["source"].update(system="libc6"), "'stages.source.system' is missing or not a"),
        (lambda lock: lock.update({"lock-version": 2}), "lock-version 2 is not 1"),
    ],
)
def test_a_lock_of_the_wrong_shape_names_the_file_and_the_key(tmp_path: Path, change: Any, words: str) -> None:
    document = copy.deepcopy(LOCK)
    change(document)
    _write_lock(tmp_path, document)
    with pytest.raises(LockError) as caught:
        read_lock(tmp_path)
    assert LOCK_FILE in caught.value.message and words in caught.value.message


def test_a_lock_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).mkdir()
    with pytest.raises(LockError, match=f"cannot read {tmp_path / LOCK_FILE}"):
        read_lock(tmp_path)


def _with_pylock(root: Path, text: str) -> Path:
    """A lock whose stage 'source' pins ``text`` as its pylock (with its true sha256)."""
    pylock = root / "pylock.source.toml"
    pylock.write_text(text)
    document = copy.deepcopy(LOCK)
    document["stages"]["source"].update(
        {"python-lock": pylock.name, "python-lock-sha256": hashlib.sha256(text.encode()).hexdigest()}
    )
    _write_lock(root, document)
    return pylock


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('lock-version = "1.0"\npackages = 5\n', "'packages' must be an array of tables"),
        ('lock-version = "1.0"\npackages = [5]\n', "every entry of 'packages' must be a table"),
        ('lock-version = "1.0"\n[[packages]]\nname = 3\n', "a package has no name"),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "build"\nversion = 1\n',
            "the version of 'build' must be a string",
        ),
        ('lock-version = "1.0"\n[[packages]]\nname = "build"\nwheels = "build.whl"\n', "must be an array of tables"),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "build"\nwheels = [{ url = "x/build-1-py3-none-any.whl" }]\n',
            "has no sha256 hash",
        ),
        ('lock-version = "2.0"\n', "unsupported lock-version"),
        ("lock-version = ", "not a valid PEP 751 lock"),
    ],
)
def test_a_pylock_of_the_wrong_shape_names_the_file(tmp_path: Path, text: str, words: str) -> None:
    pylock = _with_pylock(tmp_path, text)
    with pytest.raises(LockError) as caught:
        read_lock(tmp_path)
    assert str(pylock) in caught.value.message and words in caught.value.message


def test_a_pylock_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(LockError, match=f"cannot read {tmp_path}"):
        read_pylock(tmp_path, "3.11", "x86_64-manylinux_2_36")  # a directory
    good = tmp_path / "pylock.source.toml"
    good.write_text(tomli_w.dumps(PYLOCK))
    assert [wheel.name for wheel in read_pylock(good, "3.11", "x86_64-manylinux_2_36")] == ["build"]


def test_pyrel_with_a_lock_of_the_wrong_shape(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    document = copy.deepcopy(LOCK)
    del document["debian"]["packages"][0]["sha256"]
    _write_lock(project, document)
    _reported(
        _pyrel("why", "libc6", "-C", str(project)),
        LockError.exit_code,
        LOCK_FILE,
        "'debian.packages[0].sha256' is missing",
    )


def test_pyrel_with_a_pylock_of_the_wrong_shape(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    pylock = _with_pylock(project, 'lock-version = "1.0"\n[[packages]]\nname = "build"\nwheels = 7\n')
    _reported(
        _pyrel("why", "build", "-C", str(project)),
        LockError.exit_code,
        str(pylock),
        "the wheels of 'build' must be an array of tables",
    )


# --- attestations (pyrel verify --artifacts) --------------------------------------------


def _dist(root: Path, attestation: bytes | None) -> tuple[Path, Path]:
    """``dist/source`` with one artifact, its SHA256SUMS line and ``attestation`` as its statement."""
    stage = root / "dist" / "source"
    stage.mkdir(parents=True)
    artifact = stage / "demo-1.0.tar.gz"
    artifact.write_bytes(b"the sdist")
    digest = hashlib.sha256(b"the sdist").hexdigest()
    (stage / CHECKSUMS).write_text(f"{digest}  {artifact.name}\n")
    statement = stage / provenance.attestation_name(artifact.name)
    if attestation is not None:
        statement.write_bytes(attestation)
    return root / "dist", statement


@pytest.mark.parametrize(
    ("attestation", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"[]", "is not a JSON object"),
        (
            json.dumps(
                {"_type": provenance.STATEMENT_TYPE, "predicateType": provenance.PREDICATE_TYPE, "subject": 5}
            ).encode(),
            "has no subject",
        ),
        (
            json.dumps(
                {
                    "_type": provenance.STATEMENT_TYPE,
                    "predicateType": provenance.PREDICATE_TYPE,
                    "subject": [{"name": "demo-1.0.tar.gz", "digest": "sha256:00"}],
                }
            ).encode(),
            "has sha256 None",
        ),
    ],
)
def test_a_malformed_attestation_is_a_verification_error_naming_it(
    tmp_path: Path, attestation: bytes, words: str
) -> None:
    dist, statement = _dist(tmp_path, attestation)
    report = verify.verify_artifacts(dist)
    assert not report and any(
        problem.startswith(f"{statement}: ") and words in problem for problem in report.problems
    ), report.problems
    assert not attest._attested(statement, hashlib.sha256(b"the sdist").hexdigest(), "/nix/store/x-out")
    text = _reported(_pyrel("verify", "--artifacts", str(dist)), VerificationError.exit_code, str(statement))
    assert words in text


def test_an_attestation_that_cannot_be_read_is_a_problem_naming_it(tmp_path: Path) -> None:
    dist, statement = _dist(tmp_path, None)
    statement.mkdir()  # not a file: missing, as far as verify is concerned
    report = verify.verify_artifacts(dist)
    assert any(problem.startswith(f"{statement}: missing") for problem in report.problems)
    assert not attest._attested(statement, "0" * 64, "/nix/store/x-out")


@SETTINGS
@given(
    mutated(
        {
            "_type": provenance.STATEMENT_TYPE,
            "predicateType": provenance.PREDICATE_TYPE,
            "subject": [{"name": "demo-1.0.tar.gz", "digest": {"sha256": "0" * 64}}],
            "predicate": {},
        }
    )
)
def test_any_attestation_is_checked_without_an_exception(document: dict[str, Any]) -> None:
    assert isinstance(provenance.subject_problems(document, "demo-1.0.tar.gz", "0" * 64), list)
