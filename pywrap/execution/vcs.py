"""The project's git metadata, for the stages whose build reads the version (or the file list) from git.

A build backend with a VCS plugin (setuptools-scm, hatch-vcs, pdm-backend's
``scm`` source, meson-python's ``meson dist``, ...) asks git: the nearest tag,
the distance to it, the commit, whether the tree is dirty, the tracked files.
The stage's source tree is the files git tracks, without ``.git``.  For such a
stage (``git = true``, the source stage's default when the build requires a
VCS plugin), pyrel copies the part of the history those questions read into
a repository of its own, ``.pyrel/git/<commit>``:

* HEAD's commit and its ancestors back to the nearest tag that holds a digit
  (``git describe --tags --long --match '*[0-9]*'``, what the plugins run), the
  tags on that range, and the branch HEAD is on (a detached HEAD stays
  detached);
* the whole history when no such tag exists (the plugins then count every
  commit), or when the shallow copy describes HEAD otherwise than the project
  does (a merge from before the tag): the copy is checked, never assumed;
* nothing else: no remote, no hooks, no configuration, no reflog; and repacked on one thread, so that
  the same history gives the same bytes (the stage's input, by its hash).

A shallow clone (CI's one-commit checkout) is refused unless HEAD is at a tag: the distance to a tag
beyond its boundary, or the count of all commits, would be wrong, and so would the version.

The stage copies it to ``.git`` in its source tree and builds the index from
HEAD (``nix/builders/stage.sh``), so a tracked file changed in the work tree
makes the tree dirty there as it is on the host.  The repository is a declared
input of the stage's derivation, counted in its closure.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import attrs

from pywrap.adapters import git
from pywrap.errors import CommandFailed, ConfigError, InputVerificationError

#: Under the project's state directory (``.pyrel``), one repository per commit.
GIT_DIR = "git"


@attrs.frozen
class GitMetadata:
    """A repository holding what the VCS plugins read, and how much history it holds."""

    path: Path  # the repository's ``.git`` directory
    commit: str
    describe: str | None  # ``<tag>-<distance>-g<commit>``, or None without a tag
    shallow: bool


def prepare(root: Path, state: Path) -> GitMetadata:
    """The metadata of the work tree at ``root``, made under ``state`` (or found there, made before)."""
    top = git.top_level(root)
    if top is None or top.resolve() != root.resolve():
        raise ConfigError(
            f"{root}: a stage has git = true, but the project is not the top of a git work tree",
            hint="the VCS plugins read the repository the project is the root of; set git = false and give "
            "the version another way (SETUPTOOLS_SCM_PRETEND_VERSION in the stage's env)",
        )
    commit = git.head_commit(root)
    if commit is None:
        raise ConfigError(
            f"{root}: a stage has git = true, but the repository has no commit yet",
            hint="commit the project, or set git = false",
        )
    described = git.describe(root)
    if git.is_shallow(root) and history_depth(described) != 1:
        raise InputVerificationError(
            f"{root}: the repository is a shallow clone, and HEAD is not at a tag: the version a VCS plugin "
            "reads from it (the distance to the nearest tag, or the count of all commits) would be wrong",
            hint="fetch the whole history with its tags (`git fetch --unshallow --tags`; in GitHub Actions, "
            "actions/checkout with fetch-depth: 0, which `pyrel ci github` writes for such a stage)",
        )
    branch = git.current_branch(root)
    target = state.resolve() / GIT_DIR / f"{commit}-{_key(described, branch)}"
    if (target / ".git" / "HEAD").is_file():
        return GitMetadata(target / ".git", commit, described, (target / ".git" / "shallow").is_file())
    for stale in (state / GIT_DIR).glob("*"):
        shutil.rmtree(stale, ignore_errors=True)
    building = target.with_name(target.name + ".partial")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    head_ref = f"refs/heads/{branch}" if branch else "refs/pyrel/head"
    tag = tag_of(described)
    refspecs = [f"+HEAD:{head_ref}"]
    if tag is not None:
        refspecs += [f"+refs/tags/{name}:refs/tags/{name}" for name in git.tags_merged_since(root, tag)]
    git.init_metadata_repository(building)
    try:
        git.fetch_history(building, root, refspecs, depth=history_depth(described))
    except CommandFailed as exc:
        if "dubious ownership" not in (exc.completed.stderr or ""):
            raise
        # git reads a repository another user owns only where the user's configuration says so; copying it
        # checks its .git directory (a checkout's own path, which CI tools name, is not enough there).
        raise InputVerificationError(
            f"{root}: git refuses to copy the history of this repository, which another user owns",
            hint=f"if you trust it: git config --global --add safe.directory {root.resolve() / '.git'}",
        ) from exc
    git.point_head(building, branch, commit)
    if history_depth(described) is not None and git.describe(building) != described:
        git.fetch_history(building, root, refspecs, depth=None)  # a shallow copy that says otherwise: all of it
    if git.describe(building) != described:
        raise ConfigError(
            f"{root}: pyrel's copy of the git history describes HEAD as {git.describe(building)!r}, "
            f"the project as {described!r}",
            hint="report this to pyrel with the output of `git log --graph --oneline`; set git = false meanwhile",
        )
    git.repack(building)
    building.rename(target)
    return GitMetadata(target / ".git", commit, described, (target / ".git" / "shallow").is_file())


def tag_of(described: str | None) -> str | None:
    """The tag of ``<tag>-<distance>-g<commit>`` (tags may hold dashes)."""
    if described is None:
        return None
    return described.rsplit("-", 2)[0]


def history_depth(described: str | None) -> int | None:
    """How many commits the copy needs: back to the tag (``distance + 1``), or all of them (None)."""
    if described is None:
        return None
    distance = described.rsplit("-", 2)[1]
    return int(distance) + 1


def _key(described: str | None, branch: str | None) -> str:
    return hashlib.sha256(f"{described}\0{branch}".encode()).hexdigest()[:16]
