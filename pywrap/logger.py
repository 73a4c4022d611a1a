"""All of pyrel's terminal output goes through here (rich on a TTY, plain text otherwise).

rich is imported only when something is drawn on a terminal (or a table is
printed): a run whose output is captured or piped (CI, scripts, a no-op
rebuild timed by a benchmark) writes plain text and never pays for it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from pywrap.progress import BuildDisplay, NixLog

if TYPE_CHECKING:
    from rich.console import Console

#: rich's markup tags (rich.markup.RE_TAGS), with the backslashes that may escape them.
_MARKUP_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")
_ESCAPABLE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text: str) -> str:
    """``text`` as rich markup that shows it verbatim (rich.markup.escape, without loading rich)."""
    text = _ESCAPABLE.sub(lambda match: f"{match.group(1)}{match.group(1)}\\{match.group(2)}", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def strip_markup(markup: str) -> str:
    """What rich prints for ``markup`` without styles (rich.markup.render's text): tags dropped,
    escaped brackets kept."""
    pieces = []
    position = 0
    for match in _MARKUP_TAG.finditer(markup):
        escapes = match.group(1)
        pieces.append(markup[position : match.start()].replace("\\[", "["))
        backslashes, escaped = divmod(len(escapes), 2)
        pieces.append("\\" * backslashes)
        if escaped:  # an escaped tag is text
            pieces.append(match.group(0)[len(escapes) :])
        position = match.end()
    pieces.append(markup[position:].replace("\\[", "["))
    return "".join(pieces)


class Output:
    """One of pyrel's two streams: rich on a terminal, plain text otherwise.

    The stream is looked up on each call (tests and typer's runner swap it).
    """

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._rich: Console | None = None

    @property
    def file(self) -> IO[str]:
        return sys.stderr if self._stderr else sys.stdout

    @property
    def is_terminal(self) -> bool:
        """As rich decides it: TTY_COMPATIBLE, then FORCE_COLOR, then whether the stream is a TTY."""
        compatible = os.environ.get("TTY_COMPATIBLE", "")
        if compatible in ("0", "1"):
            return compatible == "1"
        if "FORCE_COLOR" in os.environ:
            return os.environ["FORCE_COLOR"] != ""
        try:
            return self.file.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def rich(self) -> Console:
        if self._rich is None:
            from rich.console import Console

            # No emoji codes: ":name:" in a path or a message stays as it is, as in plain text.
            self._rich = Console(stderr=self._stderr, highlight=False, emoji=False)
        return self._rich

    def print(
        self,
        renderable: Any = "",
        *,
        markup: bool = True,
        style: str | None = None,
        end: str = "\n",
        highlight: bool | None = None,
        soft_wrap: bool | None = None,
    ) -> None:
        if isinstance(renderable, str) and not self.is_terminal:
            self.file.write((strip_markup(renderable) if markup else renderable) + end)
            self.file.flush()
            return
        self.rich.print(renderable, markup=markup, style=style, end=end, highlight=highlight, soft_wrap=soft_wrap)

    def print_json(self, text: str) -> None:
        """``text`` (JSON) indented; coloured on a terminal."""
        if self.is_terminal:
            self.rich.print_json(text)
            return
        self.file.write(json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n")
        self.file.flush()


console = Output(stderr=True)
out = Output(stderr=False)


def step(message: str) -> None:
    console.print(f"[dim]pyrel:[/dim] {escape(message)}")


def warning(message: str) -> None:
    console.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}", markup=True, soft_wrap=True)


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


@contextmanager
def live_build(log: NixLog) -> Iterator[Callable[[], None]]:
    """Draw nix-build's progress from ``log`` while the block runs (only on a terminal).

    Yields the function to call after feeding ``log`` a line.
    """
    if not console.is_terminal:
        yield lambda: None
        return
    display = BuildDisplay(console.rich, log)
    with display.shown():
        yield display.update
