"""Which files of the project a stage sees as its source tree.

In a git work tree: the files git tracks (what a release is made of).
Elsewhere: every file under the project, less only what is provably not
source.  Nothing is dropped for its name deep in the tree (CPython's
``Lib/venv/``, pip's ``operations/build/``, a ``tests/results/`` are source):

* everywhere: pyrel's own state (``.pyrel/``, its lock files and their
  temporaries) and bytecode (``__pycache__/``, ``*.pyc``);
* in a project's work tree: version-control data at any depth (``.git``,
  ``.hg``, ``.svn``, ...); ``dist/``, ``build/`` and Nix's ``result*``
  out-links at the root only; a virtualenv, known by its ``pyvenv.cfg``; a
  tool's cache, known by a ``CACHEDIR.TAG`` (pytest, mypy, ruff write one) or
  by a ``.gitignore`` that ignores the whole directory (``*``: git would never
  list it either); tox's work directory, known by its environments'
  ``.tox-info.json`` (tox 4) or ``.tox-config1`` (tox 3), since tox writes no
  tag; conda environments (``conda-meta/history``); installed npm packages
  (``node_modules`` with npm's, yarn's or pnpm's own state file); setuptools'
  ``.eggs`` (its README) and ``*.egg-info`` (its ``PKG-INFO``);
* an unpacked sdist (``PKG-INFO`` at its root) is a release already: it keeps
  every file it shipped (its ``*.egg-info``, a ``build/``, even the ``.tox``
  or a submodule's ``.git`` file some sdists carry), less bytecode and pyrel's
  own state (``.pyrel/``, its lock files, and the ``dist/<stage>/`` directories
  pyrel exported there, known by their ``SHA256SUMS``).

:func:`list_source_tree` says which list it used, how many files, and every
entry it left out with the reason; ``pyrel build`` prints that.  Symlinks are
kept as they are (a link to a directory is one entry, never followed).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import attrs

from pywrap.adapters import git
from pywrap.config.model import Project
from pywrap.errors import ConfigError
from pywrap.locking.lockfile import LOCK_FILE, pylock_name

#: Directories the discovery heuristics do not search (the loader's look for C sources).  The source
#: listing itself never drops a directory for its name alone: see :func:`list_source_tree`.
IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".pyrel",
        "dist",
        "build",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "node_modules",
        ".eggs",
    }
)

#: ``origin`` of a listing: the files git tracks, or a walk of the directory.
GIT = "git"
WALKED = "walked"

#: Version-control data, at any depth: directories, and the files some systems keep instead
#: (a worktree's or submodule's ``.git`` file, Fossil's checkout database).
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".pijul"})
VCS_FILES = frozenset({".git", ".fslckout", "_FOSSIL_"})
BYTECODE_SUFFIXES = (".pyc", ".pyo")
#: https://bford.info/cachedir/: the file must start with exactly this.
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
#: The file each installer of npm packages keeps in ``node_modules`` (npm 7+, yarn 1, pnpm, yarn 2+).
NODE_MODULES_STATE = (".package-lock.json", ".yarn-integrity", ".modules.yaml", ".yarn-state.yml")
#: The first words of the README setuptools writes into ``.eggs``.
EGGS_README = b"This directory contains eggs that were downloaded by setuptools"
#: The first line of the .gitignore pyrel writes into its state directory.
PYREL_STATE_MARK = b"# written by pyrel"


@attrs.frozen
class Excluded:
    """An entry of the tree left out of the source: ``path`` relative to the root (a directory ends in /)."""

    path: str
    kind: str  # vcs | pyrel | bytecode | build-output | nix-out-link | virtualenv | cache | tox | conda |
    #            node-modules | eggs | egg-info | not-a-file | missing | submodule
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind, "reason": self.reason}


@attrs.frozen
class SourceTree:
    """The files a stage builds from, and how they were found."""

    origin: str  # GIT or WALKED
    files: tuple[str, ...]
    excluded: tuple[Excluded, ...] = ()
    #: The root holds PKG-INFO: an unpacked sdist, which keeps every file it shipped.
    sdist: bool = False

    @property
    def count(self) -> int:
        return len(self.files)

    def describe(self) -> str:
        """One line: how many files, from which list, how many entries left out."""
        if self.origin == GIT:
            where = "the files git tracks"
        elif self.sdist:
            where = "every file of the unpacked sdist (PKG-INFO at its root; no git work tree)"
        else:
            where = "every file under the project (no git work tree)"
        left_out = f"; {len(self.excluded)} left out:" if self.excluded else ""
        files = "1 file" if self.count == 1 else f"{self.count} files"
        return f"source tree: {files}, {where}{left_out}"

    def to_json(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "sdist": self.sdist,
            "files": self.count,
            "excluded": [entry.to_json() for entry in self.excluded],
        }


def generated_files(project: Project) -> frozenset[str]:
    """pyrel's own lock files: never part of what a stage builds from.

    A project that commits them (or has no git) would otherwise ship them in
    its sdist, and every re-lock would rebuild every stage.
    """
    return frozenset({LOCK_FILE, *(pylock_name(name) for name in project.stage_names)})


def source_files(root: Path, generated: frozenset[str] = frozenset()) -> list[str]:
    """The files of :func:`list_source_tree`."""
    return list(list_source_tree(root, generated).files)


def list_source_tree(root: Path, generated: frozenset[str] = frozenset()) -> SourceTree:
    """The project's source files (relative to ``root``, sorted), and every entry left out with its reason.

    ``generated``: pyrel's lock files (:func:`generated_files`), never part of the source.
    """
    tree = _tracked(root, generated) if git.is_work_tree(root) else _Walk(root, generated).run()
    if not tree.files:
        left_out = "".join(f"\n  {entry.path}: {entry.reason}" for entry in tree.excluded[:20])
        raise ConfigError(
            f"{root}: the project has no source files to build" + (f"; left out:{left_out}" if left_out else "")
        )
    return tree


def _tracked(root: Path, generated: frozenset[str]) -> SourceTree:
    files: list[str] = []
    excluded: list[Excluded] = []
    for name in git.tracked_files(root):
        if name in generated:
            excluded.append(Excluded(name, "pyrel", "pyrel's lock file (git tracks it; it is never source)"))
            continue
        try:
            mode = os.lstat(root / name).st_mode
        except FileNotFoundError:
            excluded.append(Excluded(name, "missing", "git tracks it, but it is not in the work tree (deleted)"))
            continue
        if stat.S_ISDIR(mode):
            # A gitlink: `git ls-files` does not list a submodule's files.
            excluded.append(
                Excluded(
                    name + "/",
                    "submodule",
                    "a git submodule: git does not list its files, so none of them is part of the source",
                )
            )
            continue
        files.append(name)
    return SourceTree(GIT, tuple(sorted(files)), tuple(excluded))


class _Walk:
    """Every file under ``root`` less what is provably not source (see the module's docstring)."""

    def __init__(self, root: Path, generated: frozenset[str]) -> None:
        self.root = root
        self.generated = generated
        self.sdist = (root / "PKG-INFO").is_file()
        self.files: list[str] = []
        self.excluded: list[Excluded] = []

    def run(self) -> SourceTree:
        pending = [""]
        while pending:
            self._visit(pending.pop(), pending)
        return SourceTree(
            WALKED, tuple(sorted(self.files)), tuple(sorted(self.excluded, key=lambda e: e.path)), self.sdist
        )

    def _visit(self, relative: str, pending: list[str]) -> None:
        directory = os.path.join(self.root, relative) if relative else str(self.root)
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            raise ConfigError(f"{directory}: cannot list the project's files ({exc.strerror or exc})") from exc
        if relative:
            found = self._directory(relative, directory, {entry.name for entry in entries})
            if found is not None:
                kind, reason = found
                self.excluded.append(Excluded(relative + "/", kind, reason))
                return
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = not is_link and entry.is_dir(follow_symlinks=False)
                is_file = is_link or entry.is_file(follow_symlinks=False)
            except OSError as exc:
                raise ConfigError(f"{entry.path}: cannot read it ({exc.strerror or exc})") from exc
            if is_dir:
                pending.append(path)
                continue
            if not is_file:
                self.excluded.append(
                    Excluded(
                        path,
                        "not-a-file",
                        "neither a file, a directory nor a symlink (a socket or a FIFO): Nix cannot copy it",
                    )
                )
                continue
            found = self._file(path, entry.name, is_link, at_root=not relative)
            if found is None:
                self.files.append(path)
            else:
                self.excluded.append(Excluded(path, *found))

    def _file(self, path: str, name: str, is_link: bool, *, at_root: bool) -> tuple[str, str] | None:
        if path in self.generated:
            return "pyrel", "pyrel's lock file"
        if at_root and any(name.startswith(f".{generated}.") for generated in self.generated):
            return "pyrel", "pyrel's temporary file (a lock file's write, interrupted)"
        if name.endswith(BYTECODE_SUFFIXES):
            return "bytecode", "bytecode"
        if name in VCS_FILES and not self.sdist:  # tomlkit's sdist ships a submodule's .git file
            return "vcs", "version-control data"
        if at_root and is_link and not self.sdist and name.startswith("result"):
            target = os.readlink(os.path.join(self.root, path))
            if target.startswith(_store_dir() + "/"):
                return "nix-out-link", f"a Nix out-link (a symlink to {target})"
        return None

    def _directory(self, path: str, directory: str, names: set[str]) -> tuple[str, str] | None:
        name = os.path.basename(path)
        at_root = "/" not in path
        if name == ".pyrel" and (at_root or _starts_with(os.path.join(directory, ".gitignore"), PYREL_STATE_MARK)):
            return "pyrel", "pyrel's own state (plans, GC roots, the project lock)"
        if name == "__pycache__":
            return "bytecode", "bytecode (__pycache__)"
        if self.sdist:
            return self._sdist_directory(path, directory, names)
        if name in VCS_DIRS or (name == "CVS" and {"Root", "Entries"} <= names):
            return "vcs", "version-control data"
        if at_root and name == "dist":
            return "build-output", "build output at the project's root (pyrel and build frontends write dist/)"
        if at_root and name == "build":
            return "build-output", "build output at the project's root (setuptools and others write build/)"
        return _tool_directory(name, directory, names)

    def _sdist_directory(self, path: str, directory: str, names: set[str]) -> tuple[str, str] | None:
        """In an unpacked sdist only pyrel's own exports are left out of ``dist/``, nothing else."""
        parent, _, name = path.rpartition("/")
        if parent != "dist":
            return None
        if "SHA256SUMS" in names:
            return "pyrel", "a stage's outputs pyrel exported (SHA256SUMS)"
        if name == "audit" and "audit.json" in names:
            return "pyrel", "pyrel's audit report"
        if name.startswith(".") and (".new-" in name or name.endswith(".old")):
            return "pyrel", "pyrel's leftovers of an interrupted export"
        return None


def _tool_directory(name: str, directory: str, names: set[str]) -> tuple[str, str] | None:
    """A directory a tool made and marked as its own (an environment, a cache), at any depth."""
    if "pyvenv.cfg" in names:
        return "virtualenv", "a virtualenv (pyvenv.cfg)"
    if "CACHEDIR.TAG" in names and _starts_with(os.path.join(directory, "CACHEDIR.TAG"), CACHEDIR_SIGNATURE):
        return "cache", "a cache directory (CACHEDIR.TAG)"
    if ".gitignore" in names and _ignores_everything(os.path.join(directory, ".gitignore")):
        return "cache", "a tool's scratch directory (its own .gitignore ignores everything in it: '*')"
    if names & {".tox-info.json", ".tox-config1"}:
        return "tox", "a tox environment (.tox-info.json / .tox-config1)"
    if name == ".tox" and _holds_tox_environment(directory, names):
        return "tox", "tox's work directory (its environments hold .tox-info.json / .tox-config1)"
    if "conda-meta" in names and os.path.isfile(os.path.join(directory, "conda-meta", "history")):
        return "conda", "a conda environment (conda-meta/history)"
    if name == "node_modules" and names.intersection(NODE_MODULES_STATE):
        marker = sorted(names.intersection(NODE_MODULES_STATE))[0]
        return "node-modules", f"installed npm packages (node_modules/{marker})"
    if name == ".eggs" and _starts_with(os.path.join(directory, "README.txt"), EGGS_README):
        return "eggs", "eggs setuptools downloaded (.eggs/README.txt)"
    if name.endswith(".egg-info") and "PKG-INFO" in names:
        return "egg-info", "setuptools' generated metadata (egg-info with PKG-INFO; setuptools writes it anew)"
    return None


def _store_dir() -> str:
    return os.environ.get("NIX_STORE_DIR", "/nix/store").rstrip("/")


def _starts_with(path: str, prefix: bytes) -> bool:
    try:
        with open(path, "rb") as stream:
            return stream.read(len(prefix)) == prefix
    except OSError:
        return False


def _ignores_everything(path: str) -> bool:
    """A .gitignore whose only pattern is ``*`` (pytest, mypy, ruff, uv and pyrel write one)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            lines = [line.strip() for line in stream.read(4096).splitlines()]
    except OSError:
        return False
    patterns = [line for line in lines if line and not line.startswith("#")]
    return patterns == ["*"]


def _holds_tox_environment(directory: str, names: set[str]) -> bool:
    return any(
        os.path.isfile(os.path.join(directory, child, marker))
        for child in sorted(names)
        for marker in (".tox-info.json", ".tox-config1")
    )


def source_date_epoch(root: Path, configured: int | None, fallback: int) -> int:
    """The configured value, else the last commit's date, else the fixed fallback."""
    if configured is not None:
        return configured
    if git.is_work_tree(root):
        committed = git.last_commit_time(root)
        if committed is not None:
            return committed
    return fallback
