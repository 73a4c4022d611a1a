"""One pyrel at a time where it matters: per project, and per download cache.

``pyrel lock``, ``build`` and ``export`` take ``<project>/.pyrel/lock``: two runs
on the same project would otherwise race on ``pyrel.lock.toml``, the plan and
``dist/``.  Fetching (and the apt state of ``pyrel lock``) takes
``<cache>/.lock``, shared by every project of the user.  The second run waits,
saying who holds the lock; ``--lock-timeout`` makes it give up instead.
Always take the project lock before the cache lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from pywrap.errors import BusyError

PROJECT_LOCK = "lock"
CACHE_LOCK = ".lock"
_POLL_SECONDS = 0.2
#: The locks this thread holds: flock is per open file, so taking one again would wait for itself.
_THREAD = threading.local()


def _owner_file(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".owner")


def _holder(lock_path: Path) -> str:
    try:
        text = _owner_file(lock_path).read_text().strip()
    except OSError:
        return "another pyrel run"
    return f"pyrel (pid {text})" if text else "another pyrel run"


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for_lock(descriptor: int, timeout: float | None) -> bool:
    """Poll until the lock is ours (True) or ``timeout`` seconds have passed (False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not _try_lock(descriptor):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


@contextmanager
def held(
    lock_path: Path,
    what: str,
    *,
    timeout: float | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Iterator[None]:
    """Hold ``lock_path``; wait for it (forever, or ``timeout`` seconds), saying why.

    An advisory ``flock`` on the file: the kernel drops it when the process
    ends, however it ends, so a killed run never leaves the lock taken.
    Re-entrant within a thread: a step that holds the lock (``pyrel build``)
    can call one that takes it too (the stage graph).
    """
    key = lock_path.resolve()
    held_here: set[Path] = _THREAD.__dict__.setdefault("held", set())
    if key in held_here:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(descriptor):
            limit = "" if timeout is None else f" (giving up after {timeout:g} s)"
            progress(f"waiting for {_holder(lock_path)}, which is using {what}{limit}")
            started = time.monotonic()
            if not _wait_for_lock(descriptor, timeout):
                raise BusyError(
                    f"{what} is in use by {_holder(lock_path)}; gave up after {time.monotonic() - started:.0f} s",
                    hint=f"wait for the other run to finish, or raise --lock-timeout (the lock is {lock_path})",
                )
        try:
            _owner_file(lock_path).write_text(f"{os.getpid()}\n")
            held_here.add(key)
            yield
        finally:
            held_here.discard(key)
            _owner_file(lock_path).unlink(missing_ok=True)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def project_lock(
    root: Path, *, timeout: float | None = None, progress: Callable[[str], None] = lambda message: None
) -> AbstractContextManager[None]:
    state = root / ".pyrel"
    state.mkdir(parents=True, exist_ok=True)
    if not (state / ".gitignore").exists():
        (state / ".gitignore").write_text("# written by pyrel: plans and GC roots of the last build\n*\n")
    return held(state / PROJECT_LOCK, f"the project {root}", timeout=timeout, progress=progress)


def cache_lock(
    cache: Path, *, timeout: float | None = None, progress: Callable[[str], None] = lambda message: None
) -> AbstractContextManager[None]:
    return held(cache / CACHE_LOCK, f"the download cache {cache}", timeout=timeout, progress=progress)


def timeout_from_env() -> float | None:
    """``PYREL_LOCK_TIMEOUT`` (seconds), the default of ``--lock-timeout``; unset: wait."""
    value = os.environ.get("PYREL_LOCK_TIMEOUT", "").strip()
    try:
        return float(value) if value else None
    except ValueError:
        return None
