"""Ctrl-C, kill -9 and a second pyrel at once: the cache, the store and dist/ stay consistent.

pyrel is stopped at deterministic points through its test hook
(``PYREL_TEST_PAUSE_AT=fetch|build|export``, see pywrap/testhooks.py): it
announces the pause, writes a marker file and sleeps; the test then sends
SIGINT or SIGKILL.  Afterwards no temporary file may remain where a user looks
(dist/, the cache, .pyrel/) once the next run is done, dist/ must hold a whole
release (old or new, matching its SHA256SUMS), and the next run must succeed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

PACKAGES = Path(__file__).resolve().parent.parent / "packages"
PAUSE_TIMEOUT = 180


def _pyrel(project: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pywrap", *args, "-C", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def _finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def _wait_for(marker: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + PAUSE_TIMEOUT
    while not marker.exists():
        if process.poll() is not None:
            _, stderr = process.communicate()
            raise AssertionError(f"pyrel ended before pausing (exit {process.returncode}):\n{stderr}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("pyrel never reached the pause")
        time.sleep(0.05)


def _temporary_files(*directories: Path) -> list[Path]:
    found = []
    for directory in directories:
        if directory.is_dir():
            found += [
                path
                for path in directory.rglob("*")
                if path.name.startswith((".fetch-", "pyrel-add-", "pyrel-bootstrap-"))
                or ".new-" in path.name
                or path.name.endswith(".old")
                or (path.parent.name == ".tmp")
                or (
                    path.name.startswith(".")
                    and path.name.count(".") >= 2
                    and path.parent.name in (".pyrel", "closures")
                )
            ]
    return found


def _whole_release(stage_dir: Path) -> str:
    """The stage's exported output, after checking every file against SHA256SUMS."""
    sums = (stage_dir / "SHA256SUMS").read_text().splitlines()
    for line in sums:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((stage_dir / name).read_bytes()).hexdigest() == digest
    assert [line.split("  ", 1)[1] for line in sums] == ["slow.txt"]
    return (stage_dir / "slow.txt").read_text()


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("interrupt") / "interrupt"
    shutil.copytree(PACKAGES / "interrupt", project)
    process = _pyrel(project, "lock", "--json", env={})
    code, stdout, stderr = _finish(process)
    assert code == 0, stderr
    report = json.loads(stdout)  # `pyrel lock --json`, as the README documents it
    assert report["schema-version"] == 1 and report["kind"] == "pyrel-lock" and report["project"]
    [stage] = report["stages"]
    assert stage["name"] == "slow" and stage["python-lock"] is None and stage["wheels"] == []
    assert any(name.startswith("python3") for name in stage["debian-packages"])
    assert str(project / "pyrel.lock.toml") in report["written"]
    return project


@pytest.fixture
def project(locked: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "interrupt"
    shutil.copytree(locked, copy, ignore=shutil.ignore_patterns("dist", ".pyrel"))
    code, _, stderr = _finish(_pyrel(copy, "build", "slow", env={}))
    assert code == 0, stderr
    (copy / "nonce.txt").write_text(f"{uuid.uuid4().hex}\n")  # the next build is a new derivation
    return copy


@pytest.mark.parametrize(
    ("step", "signal_number"),
    [
        pytest.param(step, number, id=f"{step}-{name}")
        for step in ("fetch", "build", "export")
        for name, number in (("SIGINT", signal.SIGINT), ("SIGKILL", signal.SIGKILL))
    ]
    + [pytest.param("build", signal.SIGTERM, id="build-SIGTERM")],
)
def test_an_interrupted_run_leaves_everything_consistent_and_the_next_run_continues(
    project: Path, tmp_path: Path, step: str, signal_number: int
) -> None:
    old = _whole_release(project / "dist" / "slow")
    new = (project / "nonce.txt").read_text()
    cache = tmp_path / "cache"
    store: list[str] = []
    if step == "fetch":
        # An empty cache and an empty store (a chroot store): pyrel must download the locked .debs again.
        # (With only the cache empty, every artifact is still valid in the machine's store: nothing to fetch.)
        shutil.rmtree(cache, ignore_errors=True)
        store = ["--store", str(tmp_path / "store")]
    else:
        shutil.copytree(
            Path(os.environ.get("PYREL_CACHE_DIR", Path.home() / ".cache" / "pyrel")),
            cache,
            symlinks=True,
            ignore=shutil.ignore_patterns(".lock", ".tmp", "test-sdists"),
        )
    marker = tmp_path / "paused"
    env = {"PYREL_CACHE_DIR": str(cache), "PYREL_TEST_PAUSE_AT": step, "PYREL_TEST_PAUSE_FILE": str(marker)}
    process = _pyrel(project, "build", "slow", *store, env=env)
    _wait_for(marker, process)
    process.send_signal(signal_number)
    code, _, stderr = _finish(process)
    assert code != 0
    assert f"TEST HOOK: pausing at {step}" in stderr

    # Right after the kill: dist/ holds a whole release, the old one; the cache holds no partial artifact.
    assert _whole_release(project / "dist" / "slow") == old
    for artifact in (cache / "artifacts").rglob("*"):
        if artifact.is_file() and not any(part.startswith(".fetch-") for part in artifact.parts):
            assert hashlib.sha256(artifact.read_bytes()).hexdigest() == artifact.parent.name
    if signal_number != signal.SIGKILL:  # Ctrl-C and kill (SIGTERM) clean up at once
        assert _temporary_files(project / "dist", cache, project / ".pyrel") == []

    code, _, stderr = _finish(_pyrel(project, "build", "slow", *store, env={"PYREL_CACHE_DIR": str(cache)}))
    assert code == 0, stderr
    assert _whole_release(project / "dist" / "slow") == new
    assert _temporary_files(project / "dist", cache, project / ".pyrel") == []


def test_two_runs_at_once_take_turns(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "paused"
    first = _pyrel(
        project,
        "build",
        "slow",
        env={"PYREL_TEST_PAUSE_AT": "export", "PYREL_TEST_PAUSE_FILE": str(marker), "PYREL_TEST_PAUSE_SECONDS": "3"},
    )
    _wait_for(marker, first)
    impatient = _finish(_pyrel(project, "build", "slow", "--lock-timeout", "0.5", env={}))
    second = _pyrel(project, "build", "slow", env={})
    first_code, _, first_err = _finish(first)
    second_code, _, second_err = _finish(second)
    assert first_code == 0, first_err
    assert second_code == 0, second_err
    assert "waiting for pyrel (pid" in second_err and "which is using the project" in second_err
    assert impatient[0] == 12 and "is in use by pyrel (pid" in impatient[2]
    assert _whole_release(project / "dist" / "slow") == (project / "nonce.txt").read_text()
    assert _temporary_files(project / "dist", project / ".pyrel") == []
