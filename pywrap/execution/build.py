"""Execute: lock -> fetch -> plan -> nix-build -> export, one stage graph per run.

Stage outcomes are data (:class:`Result`); the CLI reduces them to an exit code.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pywrap import logger, mutex, testhooks
from pywrap.adapters import nix, nixcache
from pywrap.adapters.run import tail
from pywrap.config.model import SOURCE_STAGE, WHEEL_STAGE, Project, Stage, in_config_terms
from pywrap.config.source_tree import SourceTree
from pywrap.errors import BuildError, CommandFailed, LockError, PyrelError
from pywrap.execution import closure, export, plan, recovery, system_needs
from pywrap.execution.graph import StageGraph, stage_graph, state_dir
from pywrap.files import write_atomically
from pywrap.locking.lockfile import LOCK_FILE, Lock, read_lock
from pywrap.progress import NixLog

if TYPE_CHECKING:
    from pywrap.execution import hermeticity


class Status(enum.Enum):
    SUCCESS = "success"
    FAILED = "failed"
    ABORTED = "aborted"


@attrs.frozen
class Result:
    stage: str
    status: Status
    reason: str = ""
    duration: float = 0.0
    store_path: str = ""
    outputs: tuple[export.ExportedFile, ...] = ()
    closure: closure.ClosureSummary | None = None
    log_tail: str = ""
    #: What the failed log shows the stage reaching for outside its sandbox (pywrap.execution.hermeticity).
    violations: tuple[hermeticity.Violation, ...] = ()
    #: The .drv that built ``store_path``, when this run learned it (the provenance names it).
    derivation: str = ""
    #: What the user must know about a stage that built (a Sphinx stage's `intersphinx = false`).
    notices: tuple[str, ...] = ()
    #: What to try about a failure besides its violations (an old release's ``exclude-newer``).
    hint: str = ""
    #: (``<input stage>/<file>``, sha256) of every artifact of the input stages this output was built from.
    inputs: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return self.status is Status.SUCCESS


@attrs.frozen
class Outcome:
    """One build run: each stage's result, and the lock and source date it built from (for the provenance)."""

    results: tuple[Result, ...]
    lock: Lock
    source_date_epoch: int
    #: What Nix mounted into every sandbox besides the declared inputs (``--option sandbox-paths``).
    sandbox_paths: tuple[str, ...] = ()
    #: The project's files the stages built from, how they were listed, and what was left out.
    source_tree: SourceTree | None = None


def locked_stages(project: Project, lock: Lock, progress: Callable[[str], None]) -> list[str]:
    """Every stage, less those the user skipped (said out loud)."""
    skipped = lock.skipped_stages()
    for name, reason in skipped.items():
        if name not in project.skip_stages:  # skipped once, by an older pyrel or an older skip-stages
            raise LockError(
                f"{LOCK_FILE} is stale: stage '{name}' is locked as skipped ({reason}), and "
                f"{project.config_file.name} does not skip it",
                hint="run `pyrel lock` to lock it",
            )
        progress(f"stage '{name}' is not built: {reason}")
    return [name for name in project.stage_names if name not in skipped]


def build(
    project: Project,
    stage_names: Sequence[str] | None,
    *,
    dist: Path,
    options: nix.NixOptions | None = None,
    check: bool = False,
    progress: Callable[[str], None] = lambda message: None,
    lock_timeout: float | None = None,
) -> Outcome:
    """Build the stages in one nix-build (Nix schedules and caches the graph), then export.

    ``stage_names`` None: every stage the lock holds (:func:`locked_stages`).
    A stage that fails leaves its dist/ directory as it was; stages that built
    are exported; stages reading a failed one are recorded as aborted.
    Holds the project's lock (``.pyrel/lock``) throughout: a second run waits,
    and the lock files are read once, under it.
    """
    timeout = lock_timeout if lock_timeout is not None else mutex.timeout_from_env()
    with mutex.project_lock(project.root, timeout=timeout, progress=progress):
        started = time.monotonic()
        recovery.clean_dist(dist)
        recovery.clean_state(state_dir(project))
        lock = None
        if stage_names is None:
            lock = read_lock(project.root)
            stage_names = locked_stages(project, lock, progress)
        # Else only the stages built, and those they read, have their pylocks parsed.
        with stage_graph(
            project, stage_names, lock=lock, progress=progress, lock_timeout=timeout, caches=options
        ) as graph:
            outcome = _build_graph(
                graph,
                list(stage_names),
                dist=dist,
                options=graph.nix_options(options),
                check=check,
                progress=progress,
                started=started,
            )
            return attrs.evolve(outcome, results=with_stage_notices(project, outcome.results))


#: Said by every build of a Sphinx stage that opted out of pinned inventories.
INTERSPHINX_OFF = (
    "intersphinx = false: Sphinx loaded no other project's inventory, so cross-references to other "
    "projects' documentation are plain text, not links"
)


#: Said by every build of a wheel stage with upload-check = "warn".
UPLOAD_CHECK_WARN = (
    'upload-check = "warn": what an upload would refuse the wheel for is recorded in wheel-checks.json, '
    "not enforced; `pyrel verify --artifacts` refuses to publish a wheel that failed the checks"
)


def stage_notices(stage: Stage) -> tuple[str, ...]:
    notices: list[str] = []
    if stage.sphinx_dir is not None and not stage.intersphinx:
        notices.append(INTERSPHINX_OFF)
    if stage.warns_on_upload_check:
        notices.append(UPLOAD_CHECK_WARN)
    return tuple(notices)


def with_stage_notices(project: Project, results: Sequence[Result]) -> tuple[Result, ...]:
    """Each stage that ran with what its configuration makes worth saying; a stage that never ran
    (aborted: an input failed) loaded nothing to speak of."""
    return tuple(
        result
        if result.status is Status.ABORTED
        else attrs.evolve(result, notices=(*stage_notices(project.stage(result.stage)), *result.notices))
        for result in results
    )


def _build_graph(
    graph: StageGraph,
    stage_names: list[str],
    *,
    dist: Path,
    options: nix.NixOptions,
    check: bool,
    progress: Callable[[str], None],
    started: float,
) -> Outcome:
    project, lock = graph.project, graph.lock
    # Stages read but not asked for are built too, not exported; their outputs are named in the
    # statements of the stages that read them.  Under --check only the stages asked for are rebuilt.
    read_only = [name for name in graph.stages if name not in stage_names]
    progress(f"building {', '.join(stage_names)} in the Nix sandbox")
    failure: BuildError | None = None
    nix_log = NixLog()
    stage_of_derivation = {graph.derivation_name(name): name for name in stage_names}
    # Names the Debian package behind a missing tool, library or header; reads the suite's Contents index
    # only if a finding needs it.
    packages = system_needs.archive_lookup(project, lock, progress)
    # A stage's closure, computed from its .drv while Nix builds it (its inputs are valid by then).
    side_closures: dict[str, Future[closure.DerivationClosure | None]] = {}
    with ThreadPoolExecutor(max_workers=1) as side:
        try:
            with logger.live_build(nix_log) as refresh:

                def on_line(line: str) -> None:
                    started = nix_log.feed(line)
                    if started is not None:
                        testhooks.pause("build")
                        name = stage_of_derivation.get(started.name)
                        if name is not None and name not in side_closures:
                            side_closures[name] = side.submit(closure.derivation_closure, lock, name, started.drv)
                    refresh()

                outputs = graph.build(
                    [*stage_names, *([] if check else read_only)],
                    options,
                    out_link=state_dir(project) / "result",
                    check=check,
                    on_log_line=on_line,
                )
        except BuildError as exc:
            failure = exc
            outputs = graph.built_outputs([*stage_names, *read_only])
    if check and read_only and failure is None:
        outputs = {**outputs, **graph.built_outputs(read_only)}
    duration = time.monotonic() - started
    failed = _failed_stages(failure.log_tail, graph) if failure else set()
    if check and failure is not None:
        # --check: a stage whose rebuild differs still has its old, valid output;
        # it must fail, not be exported as if it had been confirmed.
        outputs = {name: path for name, path in outputs.items() if name not in failed}
    results = []
    artifacts: dict[str, tuple[export.ExportedFile, ...]] = {}  # each stage's artifacts, as read or exported
    for name in stage_names:
        stage = project.stage(name)
        if name not in outputs:
            upstream = sorted(set(_upstream(project, name)) & failed)
            if upstream and name not in failed:
                results.append(Result(name, Status.ABORTED, f"input stage {', '.join(upstream)} failed"))
            else:
                from pywrap.execution import hermeticity  # only a failed stage's log is read for violations

                own_log = nix_log.log_of(graph.derivation_name(name))
                log_tail = tail(own_log, 60) if own_log else (failure.log_tail if failure else "")
                reason = (
                    (
                        "not reproducible: the rebuild differs from the previous build (`pyrel verify` names the "
                        "files); dist/ was not changed"
                    )
                    if check and NONDETERMINISM in (failure.log_tail if failure else "")
                    else "the build failed in the sandbox; dist/ was not changed"
                )
                results.append(
                    Result(
                        name,
                        Status.FAILED,
                        reason,
                        duration,
                        log_tail=log_tail,
                        violations=system_needs.named_violations(
                            hermeticity.classify(
                                own_log or log_tail,
                                name,
                                project.name,
                                project.extras,
                                lambda path: hermeticity.program_interpreter(str(nixcache.real_path(path))),
                            ),
                            name,
                            packages,
                            _stage_packages(lock, name),
                        ),
                        notices=system_needs.failure_notices(
                            own_log or log_tail, name, packages, _stage_packages(lock, name)
                        ),
                    )
                )
            continue
        store_path = outputs[name]
        # A stage that reached for the network fails even where its commands succeeded (Sphinx only warns
        # when it cannot download an intersphinx inventory): what it built is not a release.
        own_log = nix_log.log_of(graph.derivation_name(name))
        network = _network_findings(graph, name, store_path, own_log)
        # In a chroot store (`--store DIR`) the output's files live under DIR.
        exported = (
            []
            if network and not stage.status_file
            else export.export_stage(nixcache.real_path(store_path), stage.outputs, dist, name)
        )
        artifacts[name] = tuple(exported)
        inputs = _input_artifacts(project, name, outputs, artifacts)
        summary, derivation = _closure(
            graph,
            name,
            store_path,
            built=nix_log.derivation_path(graph.derivation_name(name)),
            side=side_closures.get(name),
        )
        status, reason = Status.SUCCESS, ""
        violations: tuple[hermeticity.Violation, ...] = ()
        if stage.status_file:
            status, reason, violations = recorded_result(
                nixcache.real_path(store_path), stage.status_file, name, project.name, project.extras
            )
        if network:
            status = Status.FAILED
            reason = reason or (
                "its log shows it reaching for the network, which its sandbox does not have: a "
                "hermeticity violation, not a release; "
                + ("its report was exported" if stage.status_file else "dist/ was not changed")
            )
            violations = (*violations, *(found for found in network if found not in violations))
        # A step that missed a header, a library or a tool is said even when the stage succeeded.
        needs = state_dir(project) / "needs" / f"{Path(store_path).name}.json"
        notices = system_needs.remembered_notices(
            needs,
            own_log,
            name,
            packages,
            _stage_packages(lock, name),
            functools.partial(nix.read_log, derivation or ""),
        )
        if name == SOURCE_STAGE and graph.source_tree is not None and graph.source_tree.sdist:
            notices += _sdist_losses(project, dist / name, exported, graph.source_tree)
        results.append(
            Result(
                stage=name,
                status=status,
                reason=reason,
                duration=duration,
                store_path=store_path,
                outputs=tuple(exported),
                closure=summary,
                violations=system_needs.named_violations(violations, name, packages, _stage_packages(lock, name)),
                derivation=derivation or "",
                notices=notices if status is Status.SUCCESS else (),
                inputs=inputs,
            )
        )
    results = [_explained_failure(graph, result) if result.status is Status.FAILED else result for result in results]
    results = [in_config_file_terms(result, project.config_file.name) for result in results]
    return Outcome(tuple(results), lock, graph.source_date_epoch, options.sandbox_paths, graph.source_tree)


def in_config_file_terms(result: Result, config_name: str) -> Result:
    """The result's advice with the tables as ``config_name`` spells them: the findings and notices name
    ``[tool.pyrel.stages.X]``, which a pyrel.toml writes ``[stages.X]`` (and ``[tool.pyrel]`` is its top)."""
    if config_name == "pyproject.toml":
        return result

    def spelled(text: str) -> str:
        return in_config_terms(text, config_name)

    return attrs.evolve(
        result,
        reason=spelled(result.reason),
        hint=spelled(result.hint),
        notices=tuple(spelled(notice) for notice in result.notices),
        violations=tuple(
            attrs.evolve(violation, explanation=spelled(violation.explanation)) for violation in result.violations
        ),
    )


def _sdist_losses(
    project: Project, directory: Path, exported: Sequence[export.ExportedFile], tree: SourceTree
) -> tuple[str, ...]:
    """The notice of an unpacked sdist whose rebuilt sdist lacks some of its files (see sdist_losses)."""
    from pywrap.config.source_tree import generated_files
    from pywrap.execution import sdist_losses

    own = {*generated_files(project), project.config_file.relative_to(project.root).as_posix()}
    for output in exported:
        if output.name.endswith(".tar.gz"):
            members = sdist_losses.sdist_members(directory / output.name)
            lost = sdist_losses.lost_files(members, tree.files, own)
            if lost:
                return (sdist_losses.losses_notice(lost),)
    return ()


def _stage_packages(lock: Lock, stage: str) -> tuple[str, ...]:
    """The Debian packages of the stage's root (a missing file one of them ships is not one to add)."""
    try:
        return lock.entry(stage).system
    except PyrelError:
        return ()


#: What the wheel stage's runner (nix/tools/stage_tools.py) says of a wheel an upload would refuse.
UPLOAD_REFUSED = "would be refused on upload"
UPLOAD_CHECK_HINT = (
    "the wheel's metadata is the build backend's, written from the project's configuration: fix the field or "
    "the README named above there; a field the backend itself writes wrongly needs a newer release of it (raise "
    "its bound in [build-system] requires, or move exclude-newer). To build and test a release already on the "
    'index, set upload-check = "warn" in [tool.pyrel.stages.wheel]: the problems are then recorded in '
    "wheel-checks.json, and `pyrel verify --artifacts` refuses to publish the wheel"
)


def _explained_failure(graph: StageGraph, result: Result) -> Result:
    """A failed stage's result with what pyrel can say of the failure: a wheel the upload checks refused
    (built, then refused), else the exclude-newer hint of an old release."""
    if result.stage == WHEEL_STAGE and UPLOAD_REFUSED in result.log_tail:
        reason = "the wheel built, but an upload would refuse it (the checks of `twine check`); dist/ was not changed"
        return attrs.evolve(result, reason=reason, hint=UPLOAD_CHECK_HINT)
    return attrs.evolve(result, hint=_old_release_hint(graph, result.stage))


def _old_release_hint(graph: StageGraph, stage: str) -> str:
    """`exclude-newer` at the source's date, when the failed stage's wheels are newer than its source."""
    from pywrap.execution import old_release

    project = graph.project
    try:
        wheels = graph.lock.entry(stage).wheels
    except PyrelError:
        return ""
    table = "[tool.pyrel]" if project.config_file.name == "pyproject.toml" else project.config_file.name
    return old_release.exclude_newer_hint(
        stage, wheels, graph.source_date_epoch, exclude_newer=project.exclude_newer, table=table
    )


#: Bytes of a log file read for network attempts (its end: a long test log's summary is there).
LOG_LIMIT = 4 << 20


def _network_findings(
    graph: StageGraph, stage: str, store_path: str, own_log: str
) -> tuple[hermeticity.Violation, ...]:
    """What a built stage's logs show it reaching for on the network: the build log when this run built it, and
    the log files among its outputs (Sphinx's warnings, pytest.log).  Remembered per output
    (``.pyrel/findings/``): a later run that finds the output built fails it again."""
    from pywrap.execution import hermeticity

    output = nixcache.real_path(store_path)
    logs = [own_log, *(_log_tail(path) for path in sorted(output.glob("*.log")) if path.is_file())]
    found = hermeticity.network_attempts("\n".join(logs), stage)
    record = state_dir(graph.project) / "findings" / f"{Path(store_path).name}.json"
    if found:
        record.parent.mkdir(exist_ok=True)
        write_atomically(record, json.dumps([violation.to_json() for violation in found]).encode())
    elif record.is_file():
        try:
            found = [hermeticity.Violation(**entry) for entry in json.loads(record.read_text())]
        except (ValueError, TypeError):
            record.unlink()
    return tuple(found)


def _log_tail(path: Path) -> str:
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - LOG_LIMIT))
        return stream.read().decode("utf-8", "replace")


#: What Nix 2.8 says when `--check` finds a rebuild that differs.
NONDETERMINISM = "may not be deterministic"


def _input_artifacts(
    project: Project, name: str, outputs: dict[str, str], artifacts: dict[str, tuple[export.ExportedFile, ...]]
) -> tuple[tuple[str, str], ...]:
    """(``<input stage>/<file>``, sha256) of the artifacts of every stage ``name`` reads.

    Those exported in this run as exported; the others read from their store output
    (``artifacts`` remembers them for the next stage that reads them).
    """
    inputs = []
    for input_stage in project.stage(name).inputs:
        if input_stage not in artifacts and input_stage in outputs:
            artifacts[input_stage] = tuple(
                export.output_files(nixcache.real_path(outputs[input_stage]), project.stage(input_stage).outputs)
            )
        inputs += [(f"{input_stage}/{file.name}", file.sha256) for file in artifacts.get(input_stage, ())]
    return tuple(inputs)


def _upstream(project: Project, name: str) -> list[str]:
    return [stage.name for stage in plan.stage_order(project, [name]) if stage.name != name]


def _recorded_status(store_output: Path, status_file: str) -> tuple[Status, str]:
    """A stage that records its commands' status (tests) succeeded only if it says 0."""
    try:
        code = int((store_output / status_file).read_text().strip())
    except (OSError, ValueError):
        return Status.FAILED, f"the stage wrote no exit status to {status_file}"
    if code == 0:
        return Status.SUCCESS, ""
    junit = store_output / "junit.xml"
    if junit.is_file():
        return Status.FAILED, junit_summary(junit, code)
    if code == 5:
        return Status.FAILED, "no tests were collected (pytest exit 5)"
    return Status.FAILED, f"exit status {code}"


#: The reports a stage that records its status writes beside it (the built-in test stage's pytest log).
RECORDED_LOGS = ("pytest.log",)


def recorded_result(
    store_output: Path,
    status_file: str,
    stage: str,
    project: str = "",
    extras: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> tuple[Status, str, tuple[hermeticity.Violation, ...]]:
    """The recorded status, and what the failed commands' own log shows them reaching for.

    Tests that reach outside the sandbox fail in their report (pytest.log), not in the build log.
    """
    status, reason = _recorded_status(store_output, status_file)
    if status is not Status.FAILED:
        return status, reason, ()
    from pywrap.execution import hermeticity

    for name in RECORDED_LOGS:
        try:
            log = (store_output / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return status, reason, tuple(hermeticity.classify(log, stage, project, extras))
    return status, reason, ()


def junit_summary(path: Path, exit_status: int, limit: int = 20) -> str:
    """Why the tests failed, from the junit report and pytest.log beside it: the files pytest could not
    collect when it stopped there, else 'X of Y tests failed' (Y the test cases) and the failing ids."""
    from pywrap.execution import test_report

    try:
        report = test_report.read_junit(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        return f"exit status {exit_status}: the junit report is not valid XML"
    try:
        log = (path.parent / "pytest.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        log = ""
    return test_report.summary(exit_status, report, log, limit)


def _closure(
    graph: StageGraph,
    stage: str,
    store_path: str,
    *,
    built: str | None,
    side: Future[closure.DerivationClosure | None] | None = None,
) -> tuple[closure.ClosureSummary, str | None]:
    """The stage's sandbox closure, and the derivation that built the output if known.

    Cached per output path, which fixes every input.  ``built``: the .drv this
    run's nix-build built under the stage's name, if it built one; ``side``: its
    closure, computed while it built.
    """
    cache = state_dir(graph.project) / "closures" / f"{Path(store_path).name}.json"
    if cache.is_file():
        try:
            cached = json.loads(cache.read_text())
            return closure.ClosureSummary.from_json(cached), cached.get("derivation")
        except (ValueError, KeyError, TypeError, AttributeError):
            cache.unlink()
    summary, derivation = _side_closure(side, store_path)
    if summary is None:
        # The inputs of the derivation that built this very output: exact, and no
        # second evaluation that could see a source tree changed in the meantime.
        derivation, inputs = _derivation_inputs(store_path, built)
        if inputs is None:
            inputs = graph.stage_inputs(stage)
        try:
            summary = closure.stage_closure(graph.lock, stage, inputs)
        except CommandFailed:
            # An input is no longer in the store (collected since that build): count what is left.
            summary = closure.stage_closure(graph.lock, stage, sorted(nix.valid_paths(inputs)))
    cache.parent.mkdir(exist_ok=True)
    write_atomically(cache, json.dumps({**summary.to_json(), "derivation": derivation}).encode())
    return summary, derivation


def _side_closure(
    side: Future[closure.DerivationClosure | None] | None, store_path: str
) -> tuple[closure.ClosureSummary | None, str | None]:
    """What the side computation found, if it was of the derivation that built ``store_path``."""
    if side is None:
        return None, None
    try:
        found = side.result()
    except PyrelError:  # a store query failed: the caller asks again, and reports what fails then
        return None, None
    if found is None or store_path not in found.outputs:
        return None, None
    return found.summary, found.derivation


def _derivation_inputs(store_path: str, built: str | None) -> tuple[str | None, list[str] | None]:
    """The derivation of ``store_path`` and its sandbox's inputs, read from the .drv files.

    The one this run built if it names ``store_path`` as an output, else the one the store
    records (one query).  No inputs when its file is gone (collected) or unreadable.
    """
    if built is not None:
        derivation = nix.read_derivation(built)
        if derivation is not None and store_path in derivation.outputs.values():
            return built, nix.sandbox_inputs(derivation)
    recorded = nix.deriver(store_path)
    derivation = nix.read_derivation(recorded) if recorded else None
    return recorded, (nix.sandbox_inputs(derivation) if derivation else None)


def _failed_stages(log: str, graph: StageGraph) -> set[str]:
    """Stages Nix reports as failed ("builder for ... failed") or, with --check, as differing."""
    failed = set()
    for stage in graph.plan["stages"]:
        drv = re.escape(f"-{stage['derivationName']}.drv'")
        if re.search(rf"error: (builder for|derivation) '[^']*{drv} (failed|may not be deterministic)", log):
            failed.add(stage["name"])
    return failed
