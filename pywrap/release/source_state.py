"""Input verification: before a tagged release is built, the tree is what the tag says.

``pyrel build --tag vX.Y.Z`` refuses a work tree with changes (``git status
--porcelain`` not empty) and a tag that does not point at HEAD, the first
thing CPython's release workflow checks.  Without ``--tag`` nothing is refused;
the commit and whether the tree was clean are still recorded in the provenance.

What does *not* make a tree dirty: pyrel's own files, which are generated and
never part of what a stage builds from -- ``pyrel.lock.toml`` and
``pylock.<stage>.toml`` (they carry registry URLs, so they are not committed;
their sha256 digests go into the provenance instead), ``.pyrel/`` and the
export directory (``dist/``).  Everything else counts, untracked files
included: a file someone forgot to ``git add`` is a release bug too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

import attrs

from pywrap.adapters import git
from pywrap.config.model import Project
from pywrap.config.source_tree import generated_files
from pywrap.errors import InputVerificationError

STATE_DIR = ".pyrel"


@attrs.frozen
class SourceInfo:
    """What the release was built from, as recorded in its provenance."""

    commit: str | None = None
    tag: str | None = None
    dirty: bool | None = None  # None outside git
    remote: str | None = None


def ignored_paths(project: Project, dist: Path) -> tuple[frozenset[str], tuple[str, ...]]:
    """pyrel's own files and directories (relative to the project root), which never make a tree dirty."""
    directories = [STATE_DIR]
    # An export directory outside the project is not in its status.
    with contextlib.suppress(ValueError):
        directories.append(dist.resolve().relative_to(project.root.resolve()).as_posix())
    return generated_files(project), tuple(directories)


def dirty_entries(entries: Iterable[str], files: frozenset[str], directories: Iterable[str]) -> list[str]:
    """The ``git status --porcelain`` entries ("XY path") that are not pyrel's own files."""
    prefixes = tuple(directory.rstrip("/") + "/" for directory in directories)
    dirty = []
    for entry in entries:
        path = entry[3:]
        if path in files or path.startswith(prefixes) or f"{path}/".startswith(prefixes):
            continue
        dirty.append(entry)
    return dirty


def source_info(project: Project, dist: Path, tag: str | None = None) -> SourceInfo:
    """The commit (and tag) being built; with ``tag``, refuse a dirty tree or a tag not at HEAD."""
    if not git.is_work_tree(project.root):
        if tag is not None:
            raise InputVerificationError(
                f"{project.root} is not a git work tree, so it cannot be checked against tag '{tag}'",
                hint="build a tagged release from a clone of the repository, or drop --tag",
            )
        return SourceInfo()
    commit = git.head_commit(project.root)
    files, directories = ignored_paths(project, dist)
    dirty = dirty_entries(git.status_porcelain(project.root), files, directories)
    remote = git.remote_url(project.root)
    if tag is None:
        return SourceInfo(commit=commit, dirty=bool(dirty), remote=remote)
    if dirty:
        shown = "\n  ".join(dirty[:20]) + (f"\n  ... and {len(dirty) - 20} more" if len(dirty) > 20 else "")
        raise InputVerificationError(
            f"refusing to build release {tag}: the work tree of {project.root} has changes "
            f"(git status --porcelain):\n  {shown}",
            hint="commit or stash them (pyrel's lock files, .pyrel/ and dist/ do not count)",
        )
    tagged = git.tag_commit(project.root, tag)
    if tagged is None:
        raise InputVerificationError(
            f"refusing to build release {tag}: there is no tag '{tag}'",
            hint=f"create it with `git tag {tag}` on the commit to release",
        )
    if tagged != commit:
        raise InputVerificationError(
            f"refusing to build release {tag}: the tag points at {tagged[:12]}, HEAD is {(commit or 'unborn')[:12]}",
            hint=f"check out the tag (`git checkout {tag}`) or move it to the commit you mean to release",
        )
    return SourceInfo(commit=commit, tag=tag, dirty=False, remote=remote)
