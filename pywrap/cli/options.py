"""Options more than one command takes, shared by :mod:`pywrap.cli.app` and :mod:`pywrap.cli.release_commands`."""

from pathlib import Path
from typing import Annotated

import typer

ProjectOption = Annotated[Path, typer.Option("--project", "-C", help="The project's root directory.", file_okay=False)]

#: --lock-timeout: how long to wait for another pyrel run on the same project or cache.
LockTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--lock-timeout",
        metavar="SECONDS",
        help="Give up after waiting this long for another pyrel run on the same project or download cache "
        "(default: wait; or PYREL_LOCK_TIMEOUT).",
    ),
]
