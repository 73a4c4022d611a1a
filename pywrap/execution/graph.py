"""The one way from a project, its stages and its lock to the derivations Nix builds.

Every command that needs the stage graph in Nix -- ``build``, ``export``,
``audit``, ``why``, ``verify`` and the lock-time backend probe -- opens it with
:func:`stage_graph`: under the project's lock, it checks the lock is fresh,
fetches the locked artifacts into the store, plans the stages, applies the
project's provider (the Debian entry or the pinned nixpkgs one) and writes the
plan where Nix reads it.  The :class:`StageGraph` it yields evaluates, builds or
asks Nix about exactly that plan, so no two commands can disagree on which
derivation a stage is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import attrs

from pywrap import mutex
from pywrap.adapters import nix
from pywrap.cache import cache_dir
from pywrap.config import source_tree
from pywrap.config.model import FALLBACK_SOURCE_DATE_EPOCH, Project
from pywrap.errors import InstallationError
from pywrap.execution import fetch, plan, recovery, vcs
from pywrap.execution.nixlib import nix_library
from pywrap.files import write_atomically
from pywrap.locking.lockfile import Lock, check_fresh, read_lock
from pywrap.providers.base import provider_for

STATE_DIR = ".pyrel"
PLAN_FILE = "plan.json"


def state_dir(project: Project) -> Path:
    directory = project.root / STATE_DIR
    directory.mkdir(exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written by pyrel: plans and GC roots of the last build\n*\n")
    return directory


@attrs.frozen
class StageGraph:
    """The stages as Nix sees them: one written plan, one entry file, one set of arguments."""

    project: Project
    lock: Lock
    #: The stages asked for and those they read, in build order.
    stages: tuple[str, ...]
    #: The plan as handed to Nix (the provider's data included).
    plan: plan.Plan
    plan_file: Path
    #: The provider's entry file in the Nix library (``default.nix`` or ``nixpkgs.nix``).
    entry: Path
    source_date_epoch: int
    #: In the store; its busybox is every sandbox's /bin/sh.
    bootstrap: fetch.Bootstrap
    #: The project's files the stages see, how they were listed, and what was left out.
    source_tree: source_tree.SourceTree | None = None
    #: In the store; mounted where programs ask for the ELF loader, when the plan gives stages one.
    loader: fetch.Loader | None = None

    @property
    def nix_args(self) -> dict[str, str]:
        return {"planFile": str(self.plan_file), "projectRoot": str(self.project.root)}

    def nix_options(self, options: nix.NixOptions | None = None) -> nix.NixOptions:
        """``options`` for building this plan: with its sandboxes' /bin/sh and ELF loader."""
        loader = self.loader if self.plan.get("loader") else None
        return attrs.evolve(
            options or nix.NixOptions(),
            sandbox_shell=self.bootstrap.shell,
            sandbox_loader=loader.binary if loader else "",
            loader_mount_point=loader.mount_point if loader else "",
        )

    def derivation_name(self, stage: str) -> str:
        return next((planned["derivationName"] for planned in self.plan["stages"] if planned["name"] == stage), stage)

    def instantiate(self, stages: Sequence[str] | None = None) -> dict[str, str]:
        """Each stage's ``.drv`` (evaluated, nothing built)."""
        wanted = list(stages or self.stages)
        return dict(zip(wanted, nix.instantiate(self.entry, wanted, self.nix_args), strict=True))

    def built_outputs(self, stages: Sequence[str] | None = None) -> dict[str, str]:
        """The output of each stage that is valid in the store now."""
        return nix.built_outputs(self.entry, list(stages or self.stages), self.nix_args)

    def build(
        self,
        stages: Sequence[str],
        options: nix.NixOptions | None = None,
        *,
        out_link: Path,
        check: bool = False,
        on_log_line: Callable[[str], None] | None = None,
    ) -> dict[str, str]:
        """Build ``stages`` in one nix-build; each stage's output path."""
        paths = nix.build(
            self.entry,
            list(stages),
            self.nix_args,
            self.nix_options(options),
            out_link=out_link,
            check=check,
            on_log_line=on_log_line,
        )
        return dict(zip(stages, paths, strict=True))

    def stage_inputs(self, stage: str) -> list[str]:
        """What the stage's sandbox is given, as the Nix library computes it."""
        evaluated = nix.evaluate_json(self.entry, f"{stage}-inputs", self.nix_args)
        if not isinstance(evaluated, list):
            raise InstallationError(f"the Nix library returned no input list for stage '{stage}'")
        return [str(path) for path in evaluated]


@contextmanager
def stage_graph(
    project: Project,
    stage_names: Sequence[str],
    *,
    progress: Callable[[str], None] = lambda message: None,
    lock_timeout: float | None = None,
    lock: Lock | None = None,
    check_lock: bool = True,
    plan_file: Path | None = None,
    caches: nix.NixOptions | None = None,
) -> Iterator[StageGraph]:
    """The stage graph of ``stage_names`` and the stages they read, held under the project's lock.

    ``lock``: the lock, if the caller read it under the project's lock; else it
    is read here (only the pylocks of these stages).  It must be fresh unless
    ``check_lock`` is false: a lock being made (the lock-time probe).
    ``plan_file``: where to write the plan (default ``.pyrel/plan.json``).
    ``caches``: the build's options, whose substituters are asked for missing artifacts first.
    The project lock is held until the block ends, so no other run rewrites the
    plan while Nix reads it.
    """
    with mutex.project_lock(project.root, timeout=lock_timeout, progress=progress):
        ordered = [stage.name for stage in plan.stage_order(project, stage_names)]
        if lock is None:
            lock = read_lock(project.root, stages=set(ordered))
        if check_lock:
            check_fresh(project, lock, ordered)
        nix.check_available()
        with ThreadPoolExecutor(max_workers=1) as background:
            # git lists the source tree while Nix checks its store for the locked artifacts.
            tree = background.submit(_source_tree, project)
            git = background.submit(_git_metadata, project, ordered)
            with mutex.cache_lock(cache_dir(), timeout=lock_timeout, progress=progress):
                recovery.clean_cache(cache_dir())
                origins = fetch.Origins(
                    project.debian_archive, *((caches.substituters, caches.trusted_public_keys) if caches else ())
                )
                report = fetch.fetch(lock, ordered, progress, origins)
            files, epoch = tree.result()
        stage_plan = plan.make_plan(
            project,
            lock,
            ordered,
            bootstrap=report.bootstrap,
            source_files=files.files,
            source_date_epoch=epoch,
            loader=report.loader,
            git_metadata=git.result(),
        )
        provider = provider_for(project)
        planned = provider.apply(stage_plan, project)
        target = plan_file or state_dir(project) / PLAN_FILE
        write_plan(target, planned)
        yield StageGraph(
            project,
            lock,
            tuple(ordered),
            planned,
            target,
            nix_library() / provider.entry,
            epoch,
            report.bootstrap,
            files,
            report.loader,
        )


def _source_tree(project: Project) -> tuple[source_tree.SourceTree, int]:
    """The files a stage builds from (with what was left out), and the date its archives carry."""
    files = source_tree.list_source_tree(project.root, source_tree.generated_files(project))
    epoch = source_tree.source_date_epoch(project.root, project.source_date_epoch, FALLBACK_SOURCE_DATE_EPOCH)
    return files, epoch


def _git_metadata(project: Project, stages: Sequence[str]) -> Path | None:
    """The project's git metadata, when a stage of ``stages`` reads it (``git = true``)."""
    if not any(project.stage(name).git for name in stages):
        return None
    return vcs.prepare(project.root, state_dir(project)).path


def write_plan(path: Path, stage_plan: plan.Plan) -> None:
    """Write the plan in one rename (a reader sees the old plan or the new one), if it changed."""
    data = json.dumps(stage_plan, indent=1, sort_keys=True).encode()
    if not path.is_file() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
