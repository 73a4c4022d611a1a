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


#: `git describe` as the VCS version plugins call it (setuptools-scm, hatch-vcs, pdm-backend): the
#: nearest tag that holds a digit, the distance to it and the commit, always in the long form. The commit
#: is written out whole: git's default abbreviation grows with the number of objects, which a copy of
#: part of the history has fewer of.
DESCRIBE = ("describe", "--tags", "--long", "--abbrev=40", "--match", "*[0-9]*")
#: What of the host's configuration could shape the copy pyrel makes is set here: no hooks, no reflog, no
#: automatic gc, packs written on one thread. The user's and system configuration still apply otherwise:
#: `safe.directory`, which lets a user read a checkout another user owns (CI containers), lives there.
_PLAIN = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.logAllRefUpdates=false",
    "-c",
    "fetch.writeCommitGraph=false",
    "-c",
    "gc.auto=0",
    # One thread makes the same pack of the same objects (what the stage's input hashes), run after run
    # (see repack: it applies to packs made here, not to the one a fetch receives).
    "-c",
    "pack.threads=1",
)


def _git(directory: Path, *args: str, what: str, check: bool = True) -> str | None:
    env = {"GIT_TERMINAL_PROMPT": "0"}
    result = run(["git", *_PLAIN, "-C", str(directory), *args], what=what, check=check, env=env)
    text = result.stdout.strip()
    return text if result.returncode == 0 else None


def top_level(root: Path) -> Path | None:
    """The work tree's top directory, or None outside git."""
    text = _git(root, "rev-parse", "--show-toplevel", what="git rev-parse", check=False)
    return Path(text) if text else None


def describe(repository: Path) -> str | None:
    """``<tag>-<distance>-g<commit>`` for HEAD (see DESCRIBE), or None when no tag is reachable."""
    return _git(repository, *DESCRIBE, "HEAD", what="git describe", check=False) or None


def current_branch(root: Path) -> str | None:
    """The branch HEAD is on, or None for a detached HEAD."""
    text = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", what="git symbolic-ref", check=False)
    return text or None


def tags_merged_since(root: Path, tag: str) -> list[str]:
    """Tags on the commits from ``tag`` to HEAD, ``tag`` included."""
    text = _git(root, "tag", "--merged", "HEAD", "--contains", f"refs/tags/{tag}", what="git tag") or ""
    return [line for line in text.splitlines() if line]


def init_metadata_repository(destination: Path) -> None:
    """An empty repository at ``destination``/.git, without sample hooks or a description."""
    _git(destination.parent, "init", "--quiet", "--template=", str(destination), what="git init")


def fetch_history(repository: Path, source: Path, refspecs: list[str], depth: int | None) -> None:
    """Fetch ``refspecs`` of the repository at ``source`` into ``repository``: ``depth`` commits, or all
    (``--unshallow`` where an earlier fetch left ``repository`` shallow)."""
    shallow = (repository / ".git" / "shallow").is_file()
    deepen = [f"--depth={depth}"] if depth else (["--unshallow"] if shallow else [])
    _git(
        repository,
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--update-head-ok",
        *deepen,
        source.resolve().as_uri(),
        *refspecs,
        what="git fetch",
    )


def repack(repository: Path) -> None:
    """One pack of every object, its deltas found again on one thread: the same objects give the same bytes.

    The pack a fetch receives is the other side's (``git upload-pack`` runs without this process's
    configuration, so on several threads), which differs run after run.
    """
    _git(repository, "repack", "-a", "-d", "-f", "-q", "--no-write-bitmap-index", what="git repack")


def point_head(repository: Path, branch: str | None, commit: str) -> None:
    """HEAD names ``branch`` (already fetched), or is detached at ``commit``."""
    if branch:
        _git(repository, "symbolic-ref", "HEAD", f"refs/heads/{branch}", what="git symbolic-ref")
    else:
        _git(repository, "update-ref", "--no-deref", "HEAD", commit, what="git update-ref")


def is_shallow(root: Path) -> bool:
    """The repository holds only part of its history (a shallow clone, such as CI's one-commit checkout)."""
    return _git(root, "rev-parse", "--is-shallow-repository", what="git rev-parse", check=False) == "true"
