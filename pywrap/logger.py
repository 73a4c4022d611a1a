"""All of pyrel's terminal output goes through here (rich on a TTY, plain text otherwise)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from pywrap.progress import BuildDisplay, NixLog

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def step(message: str) -> None:
    console.print(f"[dim]pyrel:[/dim] {escape(message)}")


def error(message: str) -> None:
    # The message is plain text: "[tool.pyrel.stages.x]" must not be read as markup.
    console.print(f"[bold red]error:[/bold red] {escape(message)}", markup=True, soft_wrap=True)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table  # not loaded by the commands that print no table

    rendered = Table(title=title, title_justify="left")
    for column in columns:
        rendered.add_column(column)
    for row in rows:
        rendered.add_row(*row)
    out.print(rendered)


def is_tty() -> bool:
    return sys.stderr.isatty()


@contextmanager
def live_build(log: NixLog) -> Iterator[Callable[[], None]]:
    """Draw nix-build's progress from ``log`` while the block runs (only on a TTY).

    Yields the function to call after feeding ``log`` a line.
    """
    display = BuildDisplay(console, log)
    with display.shown():
        yield display.update
