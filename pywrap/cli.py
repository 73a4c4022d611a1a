"""The `pyrel` command: a thin typer layer over the one-way flow.

Domain errors become an exit code here and nowhere else.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from pywrap import logger
from pywrap.adapters import nix, run
from pywrap.config import load_project
from pywrap.errors import PyrelError

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
    if as_json:
        logger.out.print_json(json.dumps({
            "schema-version": 1,
            "seconds": round(elapsed, 3),
            "stages": [
                {
                    "stage": result.stage,
                    "status": result.status.value,
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
        return
    for result in results:
        closure = result.closure
        summary = (f"{closure.package_count} packages, {logger.human_bytes(closure.bytes)}"
                   if closure else "?")
        logger.out.print(f"[bold]stage {result.stage}[/bold]: {result.status.value} — closure {summary}")
        for output in result.outputs:
            logger.out.print(f"  dist/{result.stage}/{output.name}  sha256 {output.sha256}  "
                             f"{logger.human_bytes(output.size)}")
    logger.out.print(f"done in {elapsed:.2f} s")


if __name__ == "__main__":
    app()
