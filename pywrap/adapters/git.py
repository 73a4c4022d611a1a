"""Thin adapter: what pyrel asks git about the project."""

from __future__ import annotations

import shutil
from pathlib import Path

from pywrap.adapters.run import run


def is_work_tree(root: Path) -> bool:
    if shutil.which("git") is None:
        return False
    result = run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"], check=False)
    return result.returncode == 0 and result.stdout.strip() == "true"


def tracked_files(root: Path) -> list[str]:
    """Files git tracks below ``root`` (relative to it), including staged new files."""
    result = run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--", "."], what="git ls-files")
    return [name for name in result.stdout.split("\0") if name]


def last_commit_time(root: Path) -> int | None:
    result = run(["git", "-C", str(root), "log", "-1", "--format=%ct"], check=False)
    text = result.stdout.strip()
    return int(text) if result.returncode == 0 and text.isdigit() else None
