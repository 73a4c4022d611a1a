"""Which files of the project a stage sees as its source tree.

In a git work tree: the files git tracks (what a release is made of).
Elsewhere: every file minus the usual ignores (an unpacked sdist keeps its
*.egg-info).  Symlinks are kept as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

from pywrap.adapters import git
from pywrap.config.model import Project
from pywrap.errors import ConfigError
from pywrap.locking.lockfile import LOCK_FILE, pylock_name

IGNORED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".pyrel", "dist", "build", "__pycache__", ".venv", "venv",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", ".eggs",
})
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def _walk(root: Path) -> list[str]:
    # An unpacked sdist (PKG-INFO at its root) is a release already: its
    # *.egg-info belongs to it (setuptools rebuilds the same file list from
    # its SOURCES.txt when no VCS lists the files).
    ignored_suffixes = (".pyc", ".pyo") if (root / "PKG-INFO").is_file() else IGNORED_SUFFIXES
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in IGNORED_DIRS and not d.endswith(ignored_suffixes)
                            and not d.startswith("result"))
        for name in sorted(names):
            path = os.path.join(directory, name)
            if name.endswith(ignored_suffixes) or (name.startswith("result") and os.path.islink(path)):
                continue
            files.append(os.path.relpath(os.path.join(directory, name), root))
    return files


def generated_files(project: Project) -> frozenset[str]:
    """pyrel's own lock files: never part of what a stage builds from.

    A project that commits them (or has no git) would otherwise ship them in
    its sdist, and every re-lock would rebuild every stage.
    """
    return frozenset({LOCK_FILE, *(pylock_name(name) for name in project.stage_names)})


def source_files(root: Path, generated: frozenset[str] = frozenset()) -> list[str]:
    if git.is_work_tree(root):
        files = [name for name in git.tracked_files(root) if os.path.lexists(root / name)]
    else:
        files = _walk(root)
    files = [name for name in files if name not in generated]
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
