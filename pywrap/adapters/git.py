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


def head_commit(root: Path) -> str | None:
    """The commit HEAD names, or None (no commits yet)."""
    result = run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False)
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


def tag_commit(root: Path, tag: str) -> str | None:
    """The commit a tag points at (annotated tags peeled), or None when there is no such tag."""
    result = run(
        ["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"], check=False
    )
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


def status_porcelain(root: Path) -> list[str]:
    """`git status --porcelain` entries below ``root`` ("XY path"), paths relative to ``root``.

    Untracked files are listed one by one (``--untracked-files=all``); ignored ones are not.
    """
    prefix = run(["git", "-C", str(root), "rev-parse", "--show-prefix"], what="git rev-parse").stdout.strip()
    result = run(
        ["git", "-C", str(root), "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", "."],
        what="git status",
    )
    entries: list[str] = []
    fields = iter(result.stdout.split("\0"))
    for field in fields:
        if not field:
            continue
        code, path = field[:2], field[3:]
        if code[0] in "RC":
            next(fields, None)  # a rename's second field is its old name
        entries.append(f"{code} {path.removeprefix(prefix)}")
    return entries


def remote_url(root: Path, remote: str = "origin") -> str | None:
    result = run(["git", "-C", str(root), "remote", "get-url", remote], check=False)
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None
