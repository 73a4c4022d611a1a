"""The validated project model: frozen attrs classes, no raw dicts past here."""

from __future__ import annotations

import shlex
from pathlib import Path

import attrs

from pywrap.config.archive import ArchiveConfig

SOURCE_STAGE = "source"
#: Built from the source stage's sdist (PyPA's sdist -> wheel route); docs and test install it.
WHEEL_STAGE = "wheel"
DOCS_STAGE = "docs"
TEST_STAGE = "test"
#: The command of the built-in wheel stage (nix/tools/stage_tools.py): the lock-time probe's wheel
#: answer goes to the stages that run it, and the plan gives them the platform tag.
WHEEL_COMMAND = 'python "$pyrelTools/stage_tools.py" wheel'
#: Its flag for `upload-check = "warn"`: what an upload would refuse is recorded, not enforced.
WARN_UPLOAD_CHECK = "--upload-check warn"
#: The command of pyrel's Sphinx runner (nix/tools/stage_tools.py): `pyrel lock` pins the intersphinx
#: inventories of the stages that run it, and it hands Sphinx the pinned copies.
DOCS_COMMAND = 'python "$pyrelTools/stage_tools.py" docs'
FALLBACK_SOURCE_DATE_EPOCH = 315532800  # 1980-01-01, the earliest time zip can store

#: PEP 517: a project without [build-system] is built by setuptools' legacy backend.
PEP517_DEFAULT_REQUIRES = ("setuptools>=40.8.0",)
PEP517_DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"

#: The GitHub Actions the release workflow uses (`pyrel ci github`), each pinned by commit SHA.
CI_ACTIONS = (
    "checkout",
    "upload-artifact",
    "download-artifact",
    "nix-installer",
    "pypi-publish",
    "attest-build-provenance",
)
#: Where `[tool.pyrel.ci.publish]` may upload (their upload URLs are in resources/ci.toml).
PUBLISH_REPOSITORIES = ("pypi", "testpypi")
#: The archive of a nixpkgs revision; `url` in the pin overrides it (a mirror).
NIXPKGS_DEFAULT_URL = "https://github.com/NixOS/nixpkgs/archive/{rev}.tar.gz"


def in_config_terms(text: str, config_name: str) -> str:
    """``text`` with pyrel's tables as ``config_name`` spells them: advice names ``[tool.pyrel.stages.X]``
    and ``[tool.pyrel.ci.publish]``, which a pyrel.toml writes ``[stages.X]`` and ``[ci.publish]`` (and
    ``[tool.pyrel]`` is its top)."""
    if config_name == "pyproject.toml":
        return text
    return text.replace("[tool.pyrel.", "[").replace("[tool.pyrel]", f"the top of {config_name}")


@attrs.frozen
class Budget:
    packages: int | None = None
    bytes: int | None = None


@attrs.frozen
class BuildSystem:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()
    declared: bool = True  # False when PEP 517's setuptools default applies


@attrs.frozen
class Stage:
    name: str
    python: bool
    system: tuple[str, ...]
    requires: tuple[str, ...]
    requires_file: str
    inputs: tuple[str, ...]
    run: tuple[str, ...]
    outputs: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    budget: Budget = Budget()
    #: Needs a C compiler: gcc, libc headers and Python's headers join its system packages.
    compiler: bool = False
    #: Gets the project's git metadata (HEAD, the history back to the nearest tag, the tags) as
    #: `.git` in its source tree, and git: what VCS plugins read (pywrap.execution.vcs).
    git: bool = False
    #: A file in the stage's output holding its commands' exit status (tests
    #: record failures there so their report is still exported).
    status_file: str = ""
    #: Found in the project rather than declared: `pyrel lock` may skip it (with
    #: the reason recorded) when its requirements cannot be pinned.
    implicit: bool = False
    #: Debian packages (names or fnmatch patterns) cut from the stage's Depends
    #: closure, with everything only they pulled in; the lock records what went.
    system_exclude: tuple[str, ...] = ()
    #: A Sphinx stage's `intersphinx`: False builds without other projects' inventories (their
    #: cross-references stay plain text) instead of pinning them at lock time.
    intersphinx: bool = True

    @property
    def builds_wheel(self) -> bool:
        """Its commands build the project's wheel from the sdist (the built-in wheel stage's runner)."""
        return any(command.startswith(WHEEL_COMMAND) for command in self.run)

    @property
    def warns_on_upload_check(self) -> bool:
        """It builds the wheel with `upload-check = "warn"`: the upload checks' problems are only recorded."""
        return any(command.startswith(WHEEL_COMMAND) and WARN_UPLOAD_CHECK in command for command in self.run)

    @property
    def only_builds_wheel(self) -> bool:
        """Its commands are only the built-in wheel runner's: it reads the sdist (its input), never the
        project's tree, and writes its wheel already normalized."""
        return bool(self.run) and all(command.startswith(WHEEL_COMMAND) for command in self.run)

    @property
    def sphinx_dir(self) -> str | None:
        """The Sphinx source directory of pyrel's docs runner among its commands (``--sphinx-dir``), or None."""
        for command in self.run:
            if command.startswith(DOCS_COMMAND):
                try:
                    words = shlex.split(command)
                except ValueError:
                    return None
                if "--sphinx-dir" in words[:-1]:
                    return words[words.index("--sphinx-dir") + 1]
        return None


@attrs.frozen
class Action:
    """A GitHub Action of the release workflow."""

    name: str  # one of CI_ACTIONS
    uses: str  # owner/repo@sha
    version: str = ""  # the release the sha was taken from, shown as a comment


@attrs.frozen
class PyrelPin:
    """``[tool.pyrel.ci.pyrel]``: the pyrel every job of the release workflow installs, and how it is pinned.

    Exactly one form: a wheel (a path in the repository or an https URL) with its sha256; a git
    repository at a full commit; or ``checkout``, the project being pyrel itself (installed from the
    commit the workflow builds).
    """

    wheel: str = ""
    sha256: str = ""
    git: str = ""
    rev: str = ""
    checkout: bool = False


@attrs.frozen
class Publish:
    """``[tool.pyrel.ci.publish]``: upload the source and wheel stages' artifacts by Trusted Publishing."""

    repository: str  # one of PUBLISH_REPOSITORIES
    environment: str  # the GitHub environment the publishing job runs in (PyPI's publisher names it)
    repository_url: str = ""  # testpypi: its upload URL, from the user (the action's default is the main index)


@attrs.frozen
class CISettings:
    """``[tool.pyrel.ci]`` as declared: ``None`` or empty where ``resources/ci.toml``'s default applies.

    :mod:`pywrap.release.ci` lays it over those defaults and the command line's overrides.
    """

    runs_on: str | None = None
    actions: tuple[Action, ...] = ()
    #: A binary cache the jobs substitute from: both set or both empty.
    cache_url: str = ""
    cache_public_key: str = ""
    #: None: not declared (only pyrel's own project has a default, its checkout).
    pyrel: PyrelPin | None = None
    publish: Publish | None = None
    #: A job attests the source and wheel artifacts with GitHub's artifact attestations.
    attest: bool = False


@attrs.frozen
class NixpkgsPin:
    """The nixpkgs of the ``nixpkgs`` provider: a revision and its tarball's sha256, or a local tree."""

    rev: str = ""
    sha256: str = ""
    url: str = ""
    path: str = ""  # absolute, when a local tree replaces the tarball

    def to_plan(self) -> dict[str, str]:
        if self.path:
            return {"path": self.path}
        return {"url": self.url or NIXPKGS_DEFAULT_URL.format(rev=self.rev), "sha256": self.sha256}


@attrs.frozen
class Project:
    root: Path
    config_file: Path
    name: str
    requires_python: str | None
    build_system: BuildSystem | None
    provider: str
    debian_suite: str | None
    source_date_epoch: int | None
    stages: tuple[Stage, ...]
    #: Resolve Python requirements as of this date (uv's --exclude-newer): how a
    #: release manager rebuilds an old release with the tools of its day.
    exclude_newer: str | None = None
    #: The project's extras ([project.optional-dependencies]) and the distributions each
    #: requires (normalized names): what a failed stage's hint may point to.
    extras: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: [tool.pyrel.ci]: what `pyrel ci github` renders the workflow from.
    ci: CISettings = CISettings()
    #: The pinned nixpkgs: always set when ``provider`` is "nixpkgs", else only if declared.
    nixpkgs: NixpkgsPin | None = None
    #: debian-mirror, debian-keyring and debian-snapshot as [tool.pyrel] sets them (pywrap.config.archive).
    debian_archive: ArchiveConfig = attrs.field(factory=ArchiveConfig)
    #: `skip-stages`: stages the user chose not to lock or build (recorded in the lock as skipped).
    skip_stages: tuple[str, ...] = ()

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)
