"""Which files of the project a stage sees as its source tree.

In a git work tree: the files git tracks (what a release is made of).
Elsewhere: every file minus the usual ignores.  Symlinks are kept as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

from pywrap.adapters import git
from pywrap.errors import ConfigError

IGNORED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".pyrel", "dist", "build", "__pycache__", ".venv", "venv",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", ".eggs",
})
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
PYREL_FILES = frozenset({"result"})


def _walk(root: Path) -> list[str]:
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in IGNORED_DIRS and not d.endswith(IGNORED_SUFFIXES)
                            and not d.startswith("result"))
        for name in sorted(names):
            path = os.path.join(directory, name)
            if name.endswith(IGNORED_SUFFIXES) or (name.startswith("result") and os.path.islink(path)):
                continue
            files.append(os.path.relpath(os.path.join(directory, name), root))
    return files


def source_files(root: Path) -> list[str]:
    if git.is_work_tree(root):
        files = [name for name in git.tracked_files(root) if os.path.lexists(root / name)]
    else:
        files = _walk(root)
    if not files:
        raise ConfigError(f"{root}: the project has no source files to build")
    return files


def source_date_epoch(root: Path, configured: int | None, fallback: int) -> int:
    """The configured value, else the last commit's date, else the fixed fallback."""
    if configured is not None:
        return configured
    if git.is_work_tree(root):
        committed = git.last_commit_time(root)
        if committed is not None:
            return committed
    return fallback
