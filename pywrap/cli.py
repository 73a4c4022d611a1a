"""The `pyrel` command: a thin typer layer over the one-way flow.

Domain errors become an exit code here and nowhere else.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from pywrap import logger
from pywrap.adapters import nix, run
from pywrap.config import load_project
from pywrap.errors import PyrelError

if TYPE_CHECKING:
    from pywrap.build import Result

app = typer.Typer(
    name="pyrel",
    help="Hermetic, audited release builds for Python projects, one Nix sandbox per stage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ProjectOption = Annotated[
    Path, typer.Option("--project", "-C", help="The project's root directory.", file_okay=False)
]


class _State:
    debug = False


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every command pyrel runs.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    run.VERBOSE = verbose
    _State.debug = debug


def _fail(error: PyrelError) -> NoReturn:
    if _State.debug:
        traceback.print_exception(error)
    logger.error(str(error))
    raise typer.Exit(error.exit_code)


@app.command()
def lock(
    project_dir: ProjectOption = Path("."),
    refresh: Annotated[bool, typer.Option(help="Refresh the Debian package lists first.")] = False,
) -> None:
    """Resolve and pin every dependency of every stage, by sha256."""
    from pywrap import locker  # python-debian and uv: only needed to lock

    try:
        project = load_project(project_dir)
        logger.step(f"locking {', '.join(project.stage_names)} of {project.name}")
        new_lock, pylocks = locker.create_lock(project, refresh=refresh, progress=logger.step)
        written = locker.write_lock_files(project.root, new_lock, pylocks)
    except PyrelError as error:
        _fail(error)
    for stage in new_lock.stages:
        logger.step(f"stage {stage.name}: {len(stage.system)} Debian packages, "
                    f"python lock {stage.python_lock or '(none)'}")
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
) -> None:
    """Build stages in Nix's sandbox and export their outputs to dist/<stage>/."""
    from pywrap import build as executor

    started = time.monotonic()
    try:
        project = load_project(project_dir)
        wanted = list(project.stage_names) if stages == ["all"] else stages
        options = nix.NixOptions(substituters=tuple(substituter or ()), max_jobs=max_jobs)
        results = executor.build(
            project, wanted, dist=dist or project.root / "dist", options=options, check=check,
            progress=logger.step,
        )
    except PyrelError as error:
        _fail(error)
    elapsed = time.monotonic() - started
    failures = [result for result in results if not result]
    if as_json:
        logger.out.print_json(json.dumps({
            "schema-version": 1,
            "seconds": round(elapsed, 3),
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
                }
                for result in results
            ],
        }))
    else:
        _print_results(results, dist or project.root / "dist", elapsed)
    if failures:
        for result in failures:
            logger.error(f"stage '{result.stage}' {result.status.value}: {result.reason}")
            if result.log_tail:
                logger.console.print("--- last lines of the build log ---\n" + result.log_tail,
                                     markup=False, highlight=False)
        raise typer.Exit(1)


def _print_results(results: list[Result], dist: Path, elapsed: float) -> None:
    for result in results:
        closure = result.closure
        summary = f" — closure {closure.package_count} packages, {logger.human_bytes(closure.bytes)}" if closure else ""
        logger.out.print(f"[bold]stage {result.stage}[/bold]: {result.status.value}{summary}")
        for output in result.outputs:
            logger.out.print(f"  {dist.name}/{result.stage}/{output.name}  sha256 {output.sha256}  "
                             f"{logger.human_bytes(output.size)}", markup=False)
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
    from pywrap import audit as auditing
    from pywrap import report as reporting
    from pywrap.model import FALLBACK_SOURCE_DATE_EPOCH
    from pywrap.source import source_date_epoch

    try:
        project = load_project(project_dir)
        target = output or project.root / "dist" / "audit"
        _, result = auditing.collect(project, stages or list(project.stage_names), progress=logger.step)
        previous = baseline or (target / reporting.REPORT_JSON)
        old = auditing.AuditReport.from_json(json.loads(previous.read_text())) if previous.is_file() else None
        diffs = auditing.diff_reports(old, result) if old is not None else []
        violations = auditing.check_budgets(result, diffs)
        epoch = source_date_epoch(project.root, project.source_date_epoch, FALLBACK_SOURCE_DATE_EPOCH)
        written = reporting.write_reports(target, result, dist=project.root / "dist", source_date_epoch=epoch,
                                          diffs=diffs if baseline else (),
                                          violations=[v.describe() for v in violations])
    except (OSError, ValueError) as error:
        _fail(PyrelError(f"cannot read the baseline {baseline}: {error}"))
    except PyrelError as error:
        _fail(error)
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
        _fail(auditing.budget_error(violations))


@app.command()
def why(
    package: Annotated[str, typer.Argument(help="A Debian package or a wheel, by name.")],
    project_dir: ProjectOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Which stages pull a package in, and through which chain."""
    from pywrap import audit as auditing

    try:
        project = load_project(project_dir)
        lock_data, result = auditing.collect(project, list(project.stage_names), progress=logger.step)
        answers = auditing.why(result, project, lock_data, package)
        if not answers:
            raise PyrelError(f"no stage of {project.name} pulls in '{package}'",
                             hint="`pyrel audit` lists every stage's packages")
    except PyrelError as error:
        _fail(error)
    if as_json:
        logger.out.print_json(json.dumps([answer.to_json() for answer in answers]))
        return
    for answer in answers:
        logger.out.print(f"[bold]{answer.stage}[/bold] ({', '.join(answer.closures)}): "
                         f"{' -> '.join(answer.chain)}  [dim]{answer.component.id}; {answer.reason}[/dim]")


if __name__ == "__main__":
    app()
