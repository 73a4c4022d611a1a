"""Staying consistent when pyrel is interrupted, and saying so in plain words when a disk fills.

Every write pyrel makes goes to a temporary name beside its target and is
swapped in with one rename, so a run killed at any point (SIGINT or SIGKILL)
leaves the old file or the new one, never half of one.  What such a run can
leave behind is temporary names; the next run, holding the same lock, removes
them before it starts (:func:`clean_dist`, :func:`clean_cache`, :func:`clean_state`).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    False when the platform or file system cannot; the caller falls back.
    """
    import ctypes  # only an export that replaces a stage needs it

    try:
        # The process's own symbols, libc's among them: no search for the library.
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first))


def swap_in(staging: Path, target: Path, previous: Path) -> None:
    """Make ``staging`` the new ``target``; the old target ends at ``previous`` (removed by the caller).

    With an atomic exchange ``target`` always exists, old or new.  Without one,
    there is a moment between two renames when only ``previous`` holds it; a
    later :func:`clean_dist` puts it back if the run dies right there.
    """
    if target.exists() and exchange(staging, target):
        shutil.rmtree(staging)  # now the old release; killed here, clean_dist finishes it
        return
    if previous.exists():
        shutil.rmtree(previous)
    if target.exists():
        os.replace(target, previous)
    try:
        os.replace(staging, target)
    except OSError:
        if previous.exists():
            os.replace(previous, target)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_dist(dist: Path) -> list[Path]:
    """Remove what an interrupted export left in ``dist/``; restore a stage caught between renames."""
    if not dist.is_dir():
        return []
    removed = []
    for entry in sorted(dist.iterdir()):
        name = entry.name
        if not name.startswith("."):
            continue
        if name.endswith(".old"):
            stage = dist / name[1 : -len(".old")]
            if not stage.exists():
                os.replace(entry, stage)  # the old release, taken out and never replaced
                continue
        elif ".new-" not in name:
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def clean_cache(cache: Path) -> list[Path]:
    """Remove scratch directories of interrupted downloads and store additions (``.tmp/*``)."""
    removed = []
    temporary = cache / ".tmp"
    if temporary.is_dir():
        for entry in temporary.iterdir():
            _remove(entry)
            removed.append(entry)
    return removed


def clean_state(state: Path) -> list[Path]:
    """Remove temporary files of interrupted atomic writes in ``.pyrel/`` (``.<name>.<random>``)."""
    removed: list[Path] = []
    if not state.is_dir():
        return removed
    for directory in (state, state / "closures"):
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            # write_atomically's temporary names: ".<target name>.<random>"
            if entry.name.startswith(".") and entry.name.count(".") >= 2 and entry.is_file():
                _remove(entry)
                removed.append(entry)
    return removed


def scratch_dir(cache: Path) -> Path:
    """Where fetching keeps temporary files: inside the cache, so a killed run's leftovers are found."""
    path = cache / ".tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def plain_os_error(exc: OSError, doing: str) -> str:
    """An OSError as the user should read it; a full disk says so and what to do."""
    if exc.errno == errno.ENOSPC:
        return (
            f"the disk is full: no space left on the device while {doing}. Free some space "
            "(e.g. `nix-collect-garbage`, or remove old dist/ and cache files) and run pyrel again; "
            "nothing half-written was kept"
        )
    if exc.errno == errno.EDQUOT:
        return f"the disk quota is exhausted while {doing}: free some space and run pyrel again"
    return f"{doing} failed: {exc.strerror or exc}"


def interrupt_on_sigterm() -> None:
    """Treat ``kill`` (SIGTERM) like Ctrl-C, so the same clean-up runs (a running nix-build is stopped,
    temporary files are removed).  Only from the main thread, where Python delivers signals."""
    import signal
    import threading

    def interrupt(signal_number: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
