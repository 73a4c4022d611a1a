"""`pyrel ci github`, `pyrel export`, `pyrel keygen`: a thin typer layer over
:mod:`pywrap.release.ci` and :mod:`pywrap.release.binary_cache`, registered on the main
app by :func:`register`.  Errors are reported by the main app's group, like every command's."""

from pathlib import Path
from typing import Annotated

import typer

from pywrap import logger
from pywrap.cli.options import ProjectOption
from pywrap.cli.reporting import open_project
from pywrap.config.model import PyrelPin
from pywrap.errors import ConfigError, OutOfDateError

ci_app = typer.Typer(help="Generate CI workflows from the stage graph.", no_args_is_help=True)


@ci_app.command()
def github(
    project_dir: ProjectOption = Path("."),
    check: Annotated[
        bool,
        typer.Option(
            help=f"Write nothing; exit {OutOfDateError.exit_code} if the committed workflow is out of date "
            "with the configuration."
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(help="The workflow file (default: <project>/.github/workflows/release.yml).", dir_okay=False),
    ] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(
            help="Pin an action: NAME=OWNER/REPO@SHA (checkout, upload-artifact, download-artifact, nix-installer, "
            "pypi-publish, attest-build-provenance)."
        ),
    ] = None,
    runs_on: Annotated[str | None, typer.Option(help="The runner label (default: ubuntu-latest).")] = None,
) -> None:
    """Write .github/workflows/release.yml (one job per stage, `needs` mirroring the stage inputs) and
    .github/pyrel-requirements.txt (the pyrel every job installs, pinned by hash)."""
    from pywrap.files import write_atomically
    from pywrap.release import ci

    project = open_project(project_dir)
    overrides = dict(ci.parse_action_override(text) for text in action or [])
    config = ci.ci_config(ci.project_ci_table(project), project.config_file, overrides=overrides, runs_on=runs_on)
    flow = ci.workflow(project, config)
    _check_pyrel_wheel(project.root, project.config_file, flow.pyrel)
    files = [
        (output or project.root / ci.WORKFLOW_PATH, ci.render(flow)),
        (project.root / ci.REQUIREMENTS_PATH, ci.requirements(flow)),
    ]
    for target, rendered in files:
        committed = target.read_text(encoding="utf-8") if target.is_file() else None
        if check:
            if ci.out_of_date(rendered, committed):
                state = "missing" if committed is None else "out of date with the configuration"
                raise OutOfDateError(f"{target} is {state}", hint="run `pyrel ci github` and commit the result")
            logger.out.print(f"{target} is up to date")
            continue
        if committed != rendered:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, rendered.encode())
        logger.out.print(f"wrote {target}")


def _check_pyrel_wheel(root: Path, config_file: Path, pin: PyrelPin) -> None:
    """A wheel committed to the repository is checked now, not first on the runner (pip checks it there too)."""
    if not pin.wheel or pin.wheel.startswith("https://"):
        return
    from pywrap.digest import file_sha256

    wheel = root / pin.wheel
    if not wheel.is_file():
        raise ConfigError(
            f"{config_file}: the pyrel wheel '{pin.wheel}' is not in the project",
            hint="commit the wheel you reviewed at that path",
        )
    actual = file_sha256(wheel)
    if actual != pin.sha256:
        raise ConfigError(
            f"{config_file}: {wheel} has sha256 {actual}, not the pinned {pin.sha256}",
            hint="pin the hash of the wheel you reviewed; a changed wheel is refused by pip too",
        )


def export_command(
    stages: Annotated[list[str], typer.Argument(help="Stages whose outputs to export, or 'all'.")],
    to: Annotated[str, typer.Option("--to", help="The binary cache: file:///dir, s3://bucket, ... (Nix's URLs).")],
    project_dir: ProjectOption = Path("."),
    secret_key: Annotated[
        Path | None,
        typer.Option(
            help="Sign with this secret key (from `pyrel keygen`); unsigned caches are refused by `--from`.",
            dir_okay=False,
        ),
    ] = None,
    store: Annotated[str | None, typer.Option(help="The Nix store the stages were built in.")] = None,
) -> None:
    """Copy built stage outputs and their closures to a Nix binary cache, signed."""
    from pywrap.adapters import nixcache
    from pywrap.release import binary_cache

    if store:
        nixcache.use_store(store)
    project = open_project(project_dir)
    wanted = list(project.stage_names) if stages == ["all"] else stages
    report = binary_cache.export(project, wanted, to, secret_key_file=secret_key, progress=logger.step)
    for stage, path in report.stages:
        logger.out.print(f"stage {stage}: {path}", markup=False)
    logger.out.print(
        f"copied {len(report.closure)} store paths to {report.store_url}" + ("" if secret_key else " (unsigned)"),
        markup=False,
    )


def keygen_command(
    name: Annotated[str, typer.Argument(help="The key's name, e.g. release-cache-1 (shown in signatures).")],
    output: Annotated[Path, typer.Option(help="Directory for NAME.sec and NAME.pub.", file_okay=False)] = Path("."),
) -> None:
    """Make a binary-cache signing key pair (nix-store --generate-binary-cache-key)."""
    from pywrap.adapters import nixcache

    public = nixcache.generate_key(name, output / f"{name}.sec", output / f"{name}.pub")
    logger.out.print(f"secret key: {output / f'{name}.sec'} (keep it secret)\npublic key: {public}", markup=False)


def register(app: typer.Typer) -> None:
    """Add `export`, `keygen` and `ci github` to the main app (which reports their errors)."""
    app.add_typer(ci_app, name="ci")
    app.command(name="export")(export_command)
    app.command(name="keygen")(keygen_command)
