"""The `pyrel` command: a thin typer layer over the one-way flow.

Commands raise :class:`~pywrap.errors.PyrelError`; :class:`~pywrap.cli.reporting.PyrelGroup`
turns it into a message and an exit code, for every command, in one place.  No
``from __future__ import annotations``: typer reads every command's annotations on each
run, and evaluating them once at import costs less than typer evaluating them as strings.
The release commands (`ci github`, `export`, `keygen`) live in
:mod:`pywrap.cli.release_commands`, registered here; both take their shared options from
:mod:`pywrap.cli.options`.
"""

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pywrap import logger
from pywrap.adapters import nix, run
from pywrap.cli import release_commands
from pywrap.cli.options import LockTimeoutOption, ProjectOption
from pywrap.cli.reporting import PyrelGroup, exit_code_help, open_project
from pywrap.config.model import Project, in_config_terms

if TYPE_CHECKING:
    from pywrap.config.source_tree import SourceTree
    from pywrap.execution.build import Result
    from pywrap.locking.lockfile import Lock
    from pywrap.release.reproduce import StageCheck

app = typer.Typer(
    name="pyrel",
    help="Hermetic, audited release builds for Python projects, one Nix sandbox per stage.",
    epilog=(
        "Quickstart, in your project's root: `pyrel doctor` (can this machine build hermetically?), "
        "`pyrel lock` (pin every stage's dependencies by sha256), `pyrel build all` (build each stage "
        "in its own sandbox, export to dist/<stage>/), `pyrel audit` (what each stage saw). "
        "Stages are configured in \\[tool.pyrel] of pyproject.toml or in pyrel.toml; the README has the "
        "reference.\n\n" + exit_code_help()
    ),
    cls=PyrelGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every command pyrel runs.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    # --debug is read by PyrelGroup, which reports the errors of every command.
    run.VERBOSE = verbose
    from pywrap.execution.recovery import interrupt_on_sigterm

    interrupt_on_sigterm()


@app.command()
def lock(
    project_dir: ProjectOption = Path("."),
    refresh: Annotated[bool, typer.Option(help="Download the Debian indexes again, cached or not.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was locked as JSON (schema-version 1).")] = False,
    lock_timeout: LockTimeoutOption = None,
) -> None:
    """Resolve and pin every dependency of every stage, by sha256."""
    from pywrap import mutex
    from pywrap.cache import cache_dir
    from pywrap.locking import resolver  # python-debian and uv, only needed to lock

    timeout = lock_timeout if lock_timeout is not None else mutex.timeout_from_env()
    project = open_project(project_dir)
    with (
        mutex.project_lock(project.root, timeout=timeout, progress=logger.step),
        mutex.cache_lock(cache_dir(), timeout=timeout, progress=logger.step),
    ):
        logger.step(f"locking {', '.join(project.stage_names)} of {project.name}")
        for warning in unplanned_tests(project):
            logger.warning(in_config_terms(warning, project.config_file.name))
        new_lock, pylocks = resolver.create_lock(project, refresh=refresh, progress=logger.step)
        written = resolver.write_lock_files(project.root, new_lock, pylocks)
    if as_json:
        logger.out.print_json(json.dumps(lock_report(project.name, new_lock, written)))
        return
    for stage in new_lock.stages:
        cut = f" (system-exclude cut {len(stage.trimmed)})" if stage.trimmed else ""
        inventories = f", {len(stage.inventories)} intersphinx inventories" if stage.inventories else ""
        logger.step(
            f"stage {stage.name}: {len(stage.system)} Debian packages{cut}, "
            f"python lock {stage.python_lock or '(none)'}{inventories}"
        )
    for path in written:
        logger.out.print(f"wrote {path}")


@app.command(name="build")
def build_command(
    stages: Annotated[list[str], typer.Argument(help="Stages to build, or 'all'.")],
    project_dir: ProjectOption = Path("."),
    dist: Annotated[Path | None, typer.Option(help="Export directory (default: <project>/dist).")] = None,
    check: Annotated[
        bool, typer.Option(help="Rebuild and compare with the previous build (nix-build --check).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    substituter: Annotated[list[str] | None, typer.Option(help="A binary cache Nix may use (repeatable).")] = None,
    max_jobs: Annotated[str | None, typer.Option(help="Passed to nix-build --max-jobs.")] = None,
    builders: Annotated[str | None, typer.Option(help="Nix remote builders (nix-build --builders).")] = None,
    from_cache: Annotated[
        list[str] | None,
        typer.Option("--from", help="A binary cache to substitute from, signatures required (repeatable)."),
    ] = None,
    trusted_key: Annotated[
        list[str] | None,
        typer.Option(help="A public key (name:base64, or a .pub file) the --from caches are signed with."),
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="The Nix store to build in (a directory: a local chroot store).")
    ] = None,
    lock_timeout: LockTimeoutOption = None,
    tag: Annotated[
        str | None,
        typer.Option(help="Release this tag: refuse a dirty tree or a tag not at HEAD; recorded in the provenance."),
    ] = None,
) -> None:
    """Build stages in Nix's sandbox and export their outputs to dist/<stage>/."""
    import datetime
    from concurrent.futures import Future, ThreadPoolExecutor

    from pywrap.execution import build as executor
    from pywrap.release import attest, source_state

    started = time.monotonic()
    started_on = datetime.datetime.now(datetime.UTC)
    project = open_project(project_dir)
    export_dir = dist or project.root / "dist"
    with ThreadPoolExecutor(max_workers=1) as background:
        source: Future[source_state.SourceInfo] = Future()
        if tag is None:
            # Nothing to refuse: the commit and the tree's state as the build starts are only recorded,
            # so git answers on the side while the build goes on.
            source = background.submit(source_state.source_info, project, export_dir)
        else:  # a dirty tree or a misplaced tag is refused before anything is built
            source.set_result(source_state.source_info(project, export_dir, tag))
        options = nix.NixOptions(substituters=tuple(substituter or ()), max_jobs=max_jobs, builders=builders)
        options = _scale_out(options, from_cache, trusted_key, store)
        outcome = executor.build(
            project,
            None if stages == ["all"] else stages,
            dist=export_dir,
            options=options,
            check=check,
            progress=logger.step,
            lock_timeout=lock_timeout,
        )
        attest.attest_results(
            project,
            outcome,
            export_dir,
            source=source.result(),
            started_on=started_on,
            substituters=options.substituters,
        )
    results = outcome.results
    elapsed = time.monotonic() - started
    failures = [result for result in results if not result]
    consistency = _consistency(
        export_dir, [result.stage for result in results if result.outputs], project_dir=project_dir, dist=dist
    )
    if as_json:
        logger.out.print_json(
            json.dumps(
                {
                    "schema-version": 1,
                    "seconds": round(elapsed, 3),
                    "source": outcome.source_tree.to_json() if outcome.source_tree else None,
                    "stages": [
                        {
                            "stage": result.stage,
                            "status": result.status.value,
                            "reason": result.reason,
                            "store-path": result.store_path,
                            "closure": {
                                "packages": result.closure.package_count if result.closure else None,
                                "bytes": result.closure.bytes if result.closure else None,
                            },
                            "outputs": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in result.outputs],
                            "hermeticity-violations": [violation.to_json() for violation in result.violations],
                            "notices": list(result.notices),
                            "hint": result.hint,
                        }
                        for result in results
                    ],
                    "consistency": consistency,
                }
            )
        )
    else:
        if outcome.source_tree is not None:
            _print_source_tree(outcome.source_tree)
        _print_results(results, export_dir, elapsed)
        _print_consistency(consistency, export_dir)
    if failures:
        for result in failures:
            logger.error(
                f"stage '{result.stage}' {result.status.value}: {result.reason}"
                + (f"\n  hint: {result.hint}" if result.hint else "")
            )
            if result.violations:
                from pywrap.execution.hermeticity import describe

                logger.console.print(
                    describe(list(result.violations)),
                    style="bold yellow",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            if result.log_tail:
                logger.console.print(
                    "--- last lines of the build log ---\n" + result.log_tail,
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
        raise typer.Exit(1)


def _consistency(export_dir: Path, exported: list[str], *, project_dir: Path, dist: Path | None) -> dict[str, object]:
    """Whether dist/ is still one release after this build, and the command that makes it one (`--json`'s
    ``consistency``): a stage left in dist/ that was built from other input files than dist/ holds is stale."""
    import shlex

    from pywrap.release import verify as verifying

    found = verifying.check_consistency(export_dir, exported)
    shown = _shown(export_dir)
    where = [
        *(["-C", str(project_dir)] if project_dir != Path(".") else []),
        *(["--dist", str(dist)] if dist is not None else []),
    ]
    return {
        "consistent": bool(found),
        "stale": list(found.stale),
        "problems": [problem.describe(shown) for problem in found.problems],
        "rebuild": shlex.join(["pyrel", "build", *found.stale, *where]) if found.stale else None,
    }


def _shown(path: Path) -> Path:
    """``path`` as the user would write it: relative when it is under the working directory."""
    try:
        return path.absolute().relative_to(Path.cwd())
    except ValueError:
        return path


def _print_consistency(consistency: dict[str, object], export_dir: Path) -> None:
    stale, problems = consistency["stale"], consistency["problems"]
    if consistency["consistent"] or not isinstance(stale, list) or not isinstance(problems, list):
        return
    verb = "is" if len(stale) == 1 else "are"
    logger.console.print(
        f"warning: {_shown(export_dir)} is not one release: {', '.join(stale)} {verb} stale "
        "(built from other files than their input stages hold there; `pyrel verify --artifacts` "
        "refuses it)",
        style="bold yellow",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for problem in problems:
        logger.console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    logger.console.print(
        f"  rebuild them: {consistency['rebuild']}", style="bold yellow", markup=False, highlight=False, soft_wrap=True
    )


def _scale_out(
    options: nix.NixOptions, caches: list[str] | None, keys: list[str] | None, store: str | None
) -> nix.NixOptions:
    if not (caches or keys or store):
        return options  # the usual build: no binary cache module to load
    from pywrap.adapters import nixcache
    from pywrap.release import binary_cache

    if store:
        nixcache.use_store(store)
    return binary_cache.cache_options(options, caches or [], [binary_cache.read_key(key) for key in keys or []])


def _all_stages(project: Project) -> list[str]:
    """Every stage, less those `pyrel lock` had to skip (said out loud)."""
    from pywrap.execution.build import locked_stages
    from pywrap.locking.lockfile import read_lock

    return locked_stages(project, read_lock(project.root), logger.step)


def _print_source_tree(tree: "SourceTree") -> None:
    """One step line (which list, how many files), then every entry left out and why."""
    logger.step(tree.describe())
    for entry in tree.excluded:
        logger.console.print(f"  {entry.path}: {entry.reason}", markup=False, highlight=False, soft_wrap=True)


def _print_results(results: "Sequence[Result]", dist: Path, elapsed: float) -> None:
    for result in results:
        closure = result.closure
        summary = f" — closure {closure.package_count} packages, {logger.human_bytes(closure.bytes)}" if closure else ""
        logger.out.print(f"[bold]stage {result.stage}[/bold]: {result.status.value}{summary}")
        for notice in result.notices:
            logger.console.print(
                f"  warning: {notice}", style="bold yellow", markup=False, highlight=False, soft_wrap=True
            )
        for output in result.outputs:
            logger.out.print(
                f"  {dist.name}/{result.stage}/{output.name}  sha256 {output.sha256}  "
                f"{logger.human_bytes(output.size)}",
                markup=False,
            )
            if output.name.startswith("sphinx-") and output.name.endswith(".log") and output.size:
                warnings = (dist / result.stage / output.name).read_text(errors="replace").splitlines()
                logger.console.print(f"  Sphinx reported {len(warnings)} warning lines:", style="yellow")
                for line in warnings[:30]:
                    logger.console.print(f"    {line}", markup=False, highlight=False)
    logger.out.print(f"done in {elapsed:.2f} s")


@app.command()
def audit(
    stages: Annotated[list[str] | None, typer.Argument(help="Stages to audit (default: all).")] = None,
    project_dir: ProjectOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (schema-version 1).")] = False,
    check: Annotated[bool, typer.Option(help="Exit 8 if a stage's closure is over its budget.")] = False,
    baseline: Annotated[
        Path | None, typer.Option(help="An earlier audit.json: show what was added, removed, changed.", dir_okay=False)
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Report directory (default: <project>/dist/audit).")] = None,
) -> None:
    """Count each stage's sandbox and supply-chain closure; write the report, HTML page and SBOMs."""
    from pywrap.audit import closures as auditing
    from pywrap.audit import report as reporting
    from pywrap.config.model import FALLBACK_SOURCE_DATE_EPOCH
    from pywrap.config.source_tree import source_date_epoch

    project = open_project(project_dir)
    target = output or project.root / "dist" / "audit"
    previous = baseline or (target / reporting.REPORT_JSON)  # the last report, if no baseline is given
    # Read before the (slow) collection: a baseline that is not an audit report fails at once.
    old = auditing.AuditReport.read(previous) if baseline or previous.is_file() else None
    _, result = auditing.collect(project, stages or _all_stages(project), progress=logger.step)
    diffs = auditing.diff_reports(old, result) if old is not None else []
    violations = auditing.check_budgets(result, diffs)
    epoch = source_date_epoch(project.root, project.source_date_epoch, FALLBACK_SOURCE_DATE_EPOCH)
    written = reporting.write_reports(
        target,
        result,
        dist=project.root / "dist",
        source_date_epoch=epoch,
        diffs=diffs if baseline else (),
        violations=[v.describe() for v in violations],
    )
    if as_json:
        document = result.to_json()
        if baseline:
            document["baseline-diff"] = [diff.to_json() for diff in diffs]
        logger.out.print_json(json.dumps(document))
    else:
        logger.out.print(reporting.summary_table(result))
        if baseline:
            logger.out.print(reporting.diff_table(diffs))
        logger.out.print(f"wrote {len(written)} files to {target}")
    if check and violations:
        raise auditing.budget_error(violations)


@app.command()
def why(
    package: Annotated[str, typer.Argument(help="A Debian package or a wheel, by name.")],
    project_dir: ProjectOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Which stages pull a package in, and through which chain."""
    from pywrap.audit import closures as auditing
    from pywrap.errors import NoSuchPackageError

    project = open_project(project_dir)
    lock_data, result = auditing.collect(project, _all_stages(project), progress=logger.step)
    answers = auditing.why(result, project, lock_data, package)
    if not answers:
        raise NoSuchPackageError(
            f"no stage of {project.name} pulls in '{package}'", hint="`pyrel audit` lists every stage's packages"
        )
    if as_json:
        logger.out.print_json(json.dumps([answer.to_json() for answer in answers]))
        return
    for answer in answers:
        logger.out.print(
            f"[bold]{answer.stage}[/bold] ({', '.join(answer.closures)}): "
            f"{' -> '.join(answer.chain)}  [dim]{answer.component.id}; {answer.reason}[/dim]"
        )


@app.command()
def verify(
    stages: Annotated[list[str] | None, typer.Argument(help="Stages to check (default: all).")] = None,
    project_dir: ProjectOption = Path("."),
    artifacts: Annotated[
        Path | None,
        typer.Option(
            help="Check exported artifacts instead of rebuilding: SHA256SUMS, attestations, signatures.",
            file_okay=False,
        ),
    ] = None,
    allowed_signers: Annotated[
        Path | None,
        typer.Option(
            help="ssh-keygen allowed_signers file: every SHA256SUMS and attestation must be signed.", dir_okay=False
        ),
    ] = None,
    identity: Annotated[str | None, typer.Option(help="The signer's identity in the allowed_signers file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    substituter: Annotated[list[str] | None, typer.Option(help="A binary cache Nix may use (repeatable).")] = None,
) -> None:
    """Rebuild stages: "reproducible" or "differs" (exit 10). --artifacts: check sums, signatures (exit 11)."""
    if artifacts is not None:
        _verify_artifacts(artifacts, stages or (), allowed_signers, identity, as_json=as_json)
    else:
        _verify_rebuilds(project_dir, stages, substituter or (), as_json=as_json)


def _verify_artifacts(
    artifacts: Path, stages: Sequence[str], allowed_signers: Path | None, identity: str | None, *, as_json: bool
) -> None:
    from pywrap.errors import UsageError, VerificationError
    from pywrap.release import signing
    from pywrap.release import verify as verifying

    if (allowed_signers is None) != (identity is None):
        raise UsageError("--allowed-signers and --identity go together")
    checker = signing.ssh_checker(allowed_signers, identity) if allowed_signers and identity else None
    report = verifying.verify_artifacts(artifacts, stages, check_signature=checker)
    if as_json:
        logger.out.print_json(
            json.dumps(
                {
                    "schema-version": 1,
                    "ok": bool(report),
                    "files": report.checked_files,
                    "attestations": report.checked_attestations,
                    "signatures": report.checked_signatures,
                    "problems": list(report.problems),
                    "notes": list(report.notes),
                    "stale": list(report.stale),
                }
            )
        )
    else:
        logger.out.print(
            f"checked {report.checked_files} files, {report.checked_attestations} attestations, "
            f"{report.checked_signatures} signatures in {artifacts}"
        )
        for note in report.notes:
            logger.step(note)
    if not report:
        hint = (
            f"{artifacts} mixes stages of different builds: rebuild them with `pyrel build {' '.join(report.stale)}`"
            if report.stale
            else None
        )
        raise VerificationError(
            f"{len(report.problems)} problems in {artifacts}:\n  " + "\n  ".join(report.problems), hint=hint
        )


def _verify_rebuilds(
    project_dir: Path, stages: list[str] | None, substituters: Sequence[str], *, as_json: bool
) -> None:
    from pywrap.errors import NotReproducibleError
    from pywrap.release import reproduce

    project = open_project(project_dir)
    options = nix.NixOptions(substituters=tuple(substituters))
    checks = reproduce.check_stages(project, stages or _all_stages(project), options=options, progress=logger.step)
    if as_json:
        logger.out.print_json(json.dumps({"schema-version": 1, "stages": [check.to_json() for check in checks]}))
    else:
        _print_checks(checks)
    if any(check.verdict is reproduce.Verdict.FAILED for check in checks):
        raise typer.Exit(1)
    differing = [check.stage for check in checks if not check]
    if differing:
        raise NotReproducibleError(
            f"not reproducible: {', '.join(differing)}",
            hint="the files named above differ between two builds of the same derivation",
        )


def _print_checks(checks: "Sequence[StageCheck]") -> None:
    from pywrap.adapters import diffoscope

    for check in checks:
        logger.out.print(f"[bold]stage {check.stage}[/bold]: {check.verdict.value}")
        for difference in check.differences:
            logger.out.print(f"  {difference.describe()}", markup=False)
        for name, members in check.members:
            for member in members:
                logger.out.print(f"    {name} :: {member.describe()}", markup=False)
        for name, text in check.diffoscope:
            logger.out.print(f"  --- diffoscope {name} ---\n{text}", markup=False, highlight=False)
        if check.differences and not diffoscope.available():
            logger.out.print("  (diffoscope is not installed: install it for a detailed report)")
        if check.reason:
            logger.out.print(f"  {check.reason}", markup=False)


@app.command()
def sign(
    dist: Annotated[
        Path | None, typer.Argument(help="Export directory (default: <project>/dist).", file_okay=False)
    ] = None,
    key: Annotated[
        Path, typer.Option(help="SSH private key (or a public key held by ssh-agent).", dir_okay=False)
    ] = Path("~/.ssh/id_ed25519"),
    project_dir: ProjectOption = Path("."),
    stage: Annotated[list[str] | None, typer.Option(help="Sign only this stage (repeatable).")] = None,
) -> None:
    """Sign each stage's SHA256SUMS and every attestation with an SSH key (<file>.sig, namespace "pyrel")."""
    from pywrap.release import signing

    written = signing.sign_dist(dist or project_dir / "dist", key.expanduser(), stage or ())
    for path in written:
        logger.out.print(f"wrote {path}")


def unplanned_tests(project: Project) -> list[str]:
    """Said at lock: a project with a suite inside its package, which no test stage runs (it is not found)."""
    from pywrap.config import discovery
    from pywrap.config.model import TEST_STAGE

    if TEST_STAGE in project.stage_names or project.build_system is None:
        return []
    found = discovery.package_test_dirs(project.root)
    if not found:
        return []
    return [
        f"no test stage: the tests in {', '.join(found)} are inside the package, and pyrel's test stage runs a "
        "tests/, test/ or testing/ tree, or test modules at the top or in src/, against the installed wheel; "
        "they are not run. Declare [tool.pyrel.stages.test] with the command that runs them against the "
        "installed wheel (its `run`), or move them to a tests/ tree"
    ]


def lock_report(project_name: str, new_lock: "Lock", written: list[Path]) -> dict[str, object]:
    """`pyrel lock --json` (schema-version 1, kind "pyrel-lock")."""
    return {
        "schema-version": 1,
        "kind": "pyrel-lock",
        "project": project_name,
        "suite": new_lock.suite,
        "architecture": new_lock.architecture,
        "python": new_lock.python_full_version,
        "stages": [
            {
                "name": stage.name,
                "debian-packages": list(stage.system),
                "trimmed": list(stage.trimmed),
                "python-lock": stage.python_lock or None,
                "wheels": [
                    {"name": wheel.name, "version": wheel.version, "sha256": wheel.sha256} for wheel in stage.wheels
                ],
                "inventories": [
                    {"name": entry.name, "url": entry.url, "target": entry.target, "sha256": entry.sha256}
                    for entry in stage.inventories
                ],
            }
            for stage in new_lock.stages
        ],
        "written": [str(path) for path in written],
    }


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON (schema-version 1).")] = False,
) -> None:
    """Check that this machine can build hermetically (Nix, its sandbox, the store, Debian, pip); say what to fix."""
    from pywrap.execution import doctor as checks
    from pywrap.execution.nixlib import nix_library

    expression = nix_library() / "doctor" / "sandbox.nix"
    found = checks.run_checks(expression, progress=logger.step if not as_json else lambda message: None)
    broken = [check for check in found if check.level is checks.Level.ERROR]
    if as_json:
        logger.out.print_json(json.dumps(checks.to_json(found)))
    else:
        style = {checks.Level.OK: "green", checks.Level.WARNING: "yellow", checks.Level.ERROR: "bold red"}
        for check in found:
            logger.out.print(f"[{style[check.level]}]{check.level.value:>7}[/]  [bold]{check.name}[/bold]: ", end="")
            logger.out.print(check.detail, markup=False, highlight=False)
            if check.fix and check.level is not checks.Level.OK:
                logger.out.print(f"         fix: {check.fix}", markup=False, highlight=False)
    if broken:
        if not as_json:
            logger.error(f"{len(broken)} check(s) failed: {', '.join(check.name for check in broken)}")
        raise typer.Exit(1)


release_commands.register(app)  # `export`, `keygen`, `ci github`

if __name__ == "__main__":
    app()
