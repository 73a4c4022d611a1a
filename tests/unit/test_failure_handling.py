"""Interruptions, full disks, damaged caches and concurrent runs, without Nix."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from pywrap import mutex
from pywrap.errors import BusyError, ExportError, FetchError
from pywrap.execution import export, fetch, recovery
from pywrap.locking.lockfile import Lock, WheelEntry

CONTENT = b"the wheel's bytes"
WHEEL = WheelEntry(
    name="demo",
    version="1.0",
    filename="demo-1.0-py3-none-any.whl",
    url="file:///nowhere/demo-1.0-py3-none-any.whl",
    sha256=hashlib.sha256(CONTENT).hexdigest(),
    size=len(CONTENT),
)
LOCK = Lock(
    provider="debian",
    suite="bookworm",
    architecture="amd64",
    python_version="3.11",
    python_full_version="3.11.2",
    glibc="2.36",
    bootstrap=(),
    packages=(),
    stages=(),
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYREL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fake registry client: counts downloads, writes the right bytes."""
    calls: list[str] = []

    def download(artifact: WheelEntry, lock: Lock, scratch: Path, origins: object) -> Path:
        calls.append(artifact.filename)
        path = scratch / artifact.filename
        path.write_bytes(CONTENT)
        return path

    monkeypatch.setattr(fetch, "_download", download)
    return calls


def test_a_corrupted_cache_entry_is_detected_by_hash_and_fetched_again(cache: Path, downloads: list[str]) -> None:
    cached = fetch.ensure_cached(WHEEL, LOCK)
    assert downloads == [WHEEL.filename]
    assert fetch.ensure_cached(WHEEL, LOCK) == cached and len(downloads) == 1  # a good entry is reused
    cached.write_bytes(b"flipped bits")
    assert fetch.ensure_cached(WHEEL, LOCK) == cached
    assert len(downloads) == 2
    assert cached.read_bytes() == CONTENT


def test_a_full_disk_while_fetching_is_a_fetch_error_in_plain_words(
    cache: Path, downloads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(source: object, destination: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("pywrap.execution.fetch.os.replace", full)
    with pytest.raises(FetchError) as caught:
        fetch.ensure_cached(WHEEL, LOCK)
    assert "the disk is full" in str(caught.value) and "demo 1.0" in str(caught.value)
    assert caught.value.exit_code == 4
    leftovers = [path for path in cache.rglob("*") if path.is_file()]
    assert leftovers == []  # nothing half-written stays in the cache


def _store_output(tmp_path: Path, content: bytes = b"sdist") -> Path:
    output = tmp_path / "store-output"
    output.mkdir(exist_ok=True)
    (output / "demo-1.0.tar.gz").write_bytes(content)
    return output


def test_a_full_disk_while_exporting_is_an_export_error_and_dist_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "dist"
    export.export_stage(_store_output(tmp_path, b"old"), ["*.tar.gz"], dist, "source")

    def full(source: object, destination: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("pywrap.execution.export.shutil.copyfile", full)
    with pytest.raises(ExportError) as caught:
        export.export_stage(_store_output(tmp_path, b"new"), ["*.tar.gz"], dist, "source")
    assert "the disk is full" in str(caught.value)
    assert caught.value.exit_code == 7
    assert (dist / "source" / "demo-1.0.tar.gz").read_bytes() == b"old"
    assert sorted(path.name for path in dist.iterdir()) == ["source"]


def test_export_swaps_the_whole_directory_at_once(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    export.export_stage(_store_output(tmp_path, b"old"), ["*.tar.gz"], dist, "source")
    export.export_stage(_store_output(tmp_path, b"new"), ["*.tar.gz"], dist, "source")
    assert (dist / "source" / "demo-1.0.tar.gz").read_bytes() == b"new"
    assert sorted(path.name for path in dist.iterdir()) == ["source"]


def test_exchange_swaps_two_directories(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "x").write_text("a")
    (second / "x").write_text("b")
    if not recovery.exchange(first, second):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here; swap_in falls back to two renames")
    assert (first / "x").read_text() == "b" and (second / "x").read_text() == "a"


def test_leftovers_of_an_interrupted_run_are_cleaned(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "source").mkdir(parents=True)
    (dist / ".source.new-abc123").mkdir()
    (dist / ".source.new-abc123" / "half.tar.gz").write_bytes(b"half")
    (dist / ".docs.old").mkdir()  # killed between the two renames of the fallback: docs is only here
    (dist / ".docs.old" / "docs.tar.gz").write_bytes(b"docs")
    (dist / ".hidden-by-user").write_text("kept")
    recovery.clean_dist(dist)
    assert sorted(path.name for path in dist.iterdir()) == [".hidden-by-user", "docs", "source"]
    assert (dist / "docs" / "docs.tar.gz").read_bytes() == b"docs"

    cache = tmp_path / "cache"
    scratch = cache / ".tmp" / ".fetch-xyz"
    scratch.mkdir(parents=True)
    (scratch / "partial.deb").write_bytes(b"part")
    (cache / ".tmp" / "pyrel-add-1").mkdir(parents=True)
    (cache / "artifacts" / "ab" / "abcdef").mkdir(parents=True)
    (cache / "artifacts" / "ab" / "abcdef" / "good.deb").write_bytes(b"good")
    recovery.clean_cache(cache)
    assert [path.name for path in cache.rglob("*") if path.is_file()] == ["good.deb"]

    state = tmp_path / ".pyrel"
    (state / "closures").mkdir(parents=True)
    (state / "plan.json").write_text("{}")
    (state / ".plan.json.k2j3h4").write_text("{")
    (state / "closures" / ".x.json.abc").write_text("{")
    (state / ".gitignore").write_text("*\n")
    recovery.clean_state(state)
    assert sorted(path.name for path in state.rglob("*") if path.is_file()) == [".gitignore", "plan.json"]


def test_a_second_run_waits_for_the_first_and_says_why(tmp_path: Path) -> None:
    messages: list[str] = []
    order: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with mutex.project_lock(tmp_path):
            order.append("first in")
            first_holds.set()
            time.sleep(0.5)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    first_holds.wait()
    with mutex.project_lock(tmp_path, progress=messages.append):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
    assert len(messages) == 1 and "waiting for pyrel (pid" in messages[0] and str(tmp_path) in messages[0]
    assert (tmp_path / ".pyrel" / ".gitignore").is_file()


def test_a_second_run_gives_up_after_the_timeout(tmp_path: Path) -> None:
    with mutex.project_lock(tmp_path):
        done: list[BusyError] = []

        def second() -> None:
            try:
                with mutex.project_lock(tmp_path, timeout=0.3):
                    pass
            except BusyError as error:
                done.append(error)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    [error] = done
    assert "is in use by pyrel (pid" in str(error) and "--lock-timeout" in str(error)
    assert error.exit_code == 12


def test_the_lock_timeout_default_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYREL_LOCK_TIMEOUT", "2.5")
    assert mutex.timeout_from_env() == 2.5
    monkeypatch.setenv("PYREL_LOCK_TIMEOUT", "")
    assert mutex.timeout_from_env() is None


def test_failed_tests_are_explained_from_their_own_log(tmp_path: Path) -> None:
    # python-dateutil's tests import six, an undeclared requirement: pytest.log shows it, the build log does not.
    from pywrap.execution.build import Status, recorded_result

    (tmp_path / "exit-code").write_text("2\n")
    (tmp_path / "pytest.log").write_text("ERROR tests/test_tz.py\nE   ModuleNotFoundError: No module named 'six'\n")
    status, reason, violations = recorded_result(tmp_path, "exit-code", "test")
    assert status is Status.FAILED and reason == "exit status 2"
    assert [(v.kind, v.evidence) for v in violations] == [
        ("undeclared-import", "E   ModuleNotFoundError: No module named 'six'")
    ]
    (tmp_path / "exit-code").write_text("0\n")
    assert recorded_result(tmp_path, "exit-code", "test") == (Status.SUCCESS, "", ())


def test_a_build_nix_ran_without_its_sandbox_is_a_sandbox_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A daemon that does not trust the user ignores pyrel's settings; the stage's builder then
    # sees the host and refuses (nix/builders/stage.sh): pyrel says why and how to fix it, exit 6.
    from pywrap.adapters import nix
    from pywrap.adapters.run import Completed
    from pywrap.errors import CommandFailed, SandboxError

    stderr = (
        "warning: ignoring the client-specified setting 'sandbox', because it is a restricted setting "
        "and you are not a trusted user\n"
        "warning: ignoring the client-specified setting 'sandbox-paths', because it is a restricted "
        "setting and you are not a trusted user\n"
        "pyrel: not in Nix's sandbox: the host's /usr is visible, so this stage refuses to run\n"
        "error: builder for '/nix/store/aaa-demo-source.drv' failed with exit code 1\n"
    )

    def failing(argv: list[str], **kwargs: object) -> Completed:
        raise CommandFailed(Completed(tuple(argv), 1, "", stderr), "nix-build")

    monkeypatch.setattr(nix, "run", failing)
    monkeypatch.setattr(nix, "nix_build_path", lambda: "nix-build")
    with pytest.raises(SandboxError, match="Nix ignored pyrel's settings: sandbox, sandbox-paths") as info:
        nix.build(tmp_path / "default.nix", ["source"], {}, nix.NixOptions(), out_link=tmp_path / "result")
    assert info.value.exit_code == 6
    assert "trusted-users" in (info.value.hint or "")


def test_every_build_sets_the_sandboxes_mounts_itself() -> None:
    from pywrap.adapters import nix

    flags = nix.NixOptions().flags()
    # Nothing from nix.conf's sandbox-paths (an unpinned /bin/sh, host files): with no shell, none at all.
    assert flags[flags.index("sandbox-paths") + 1] == ""
    flags = nix.NixOptions(sandbox_shell="/nix/store/aaa-pyrel-bootstrap-busybox/bin/busybox").flags()
    assert flags[flags.index("sandbox-paths") + 1] == "/bin/sh=/nix/store/aaa-pyrel-bootstrap-busybox/bin/busybox"


def test_in_a_chroot_store_the_shell_is_mounted_from_where_its_file_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from pywrap.adapters import nix

    monkeypatch.setenv("NIX_REMOTE", "/tmp/store2")
    options = nix.NixOptions(sandbox_shell="/nix/store/aaa-pyrel-bootstrap-busybox/bin/busybox")
    assert options.sandbox_paths == ("/bin/sh=/tmp/store2/nix/store/aaa-pyrel-bootstrap-busybox/bin/busybox",)


def test_advice_names_the_tables_as_the_config_file_spells_them() -> None:
    from pywrap.execution.build import Result, Status, in_config_file_terms
    from pywrap.execution.hermeticity import Violation

    advice = "add 'coreutils' to [tool.pyrel.stages.test].system; or skip-stages in [tool.pyrel]"
    result = Result(
        "test", Status.FAILED, reason=advice, hint=advice, notices=(advice,),
        violations=(Violation("undeclared-tool", advice, "sh: printenv: not found"),),
    )  # fmt: skip
    assert in_config_file_terms(result, "pyproject.toml") == result
    spelled = in_config_file_terms(result, "pyrel.toml")
    expected = "add 'coreutils' to [stages.test].system; or skip-stages in the top of pyrel.toml"
    assert spelled.reason == spelled.hint == spelled.notices[0] == spelled.violations[0].explanation == expected
    assert spelled.violations[0].evidence == "sh: printenv: not found"
