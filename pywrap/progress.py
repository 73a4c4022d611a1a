"""Progress of a long build: Nix's ``--log-format internal-json`` stream, read and rendered.

nix-build writes one ``@nix {json}`` line per event on stderr (the stream
nix-output-monitor reads): ``start``/``stop`` of activities (a build of one
derivation is type 105 with the .drv path in ``fields``), ``result`` lines
(type 101: one line of a builder's log) and ``msg`` (errors, notices).
:class:`NixLog` folds the stream into per-derivation logs and a plain-text log
equal in substance to what nix-build prints without the flag; it is pure.
:class:`BuildDisplay` is the one place that draws it (rich, only on a TTY).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

PREFIX = "@nix "
ACTIVITY_BUILD = 105
RESULT_BUILD_LOG_LINE = 101
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DRV = re.compile(r"/nix/store/[0-9a-z]{32}-(.+)\.drv")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@attrs.define
class BuildActivity:
    drv: str
    started: float
    lines: list[str] = attrs.Factory(list)
    finished: float | None = None

    @property
    def name(self) -> str:
        match = _DRV.search(self.drv)
        return match.group(1) if match else self.drv


@attrs.define
class NixLog:
    """What a nix-build run said so far, folded from its internal-json stream."""

    clock: Callable[[], float] = time.monotonic
    builds: dict[int, BuildActivity] = attrs.Factory(dict)
    plain: list[str] = attrs.Factory(list)  # the log as nix-build would print it without the flag

    def feed(self, line: str) -> BuildActivity | None:
        """Take one stderr line; returns the build it started, if it started one."""
        event = self._event(line)
        if event is None:
            return None
        action = event.get("action")
        if action == "msg":
            self._message(event)
        elif action == "start" and event.get("type") == ACTIVITY_BUILD:
            return self._start_build(event)
        elif action == "result" and event.get("type") == RESULT_BUILD_LOG_LINE:
            self._build_log_line(event)
        elif action == "stop":
            self._stop(event)
        return None

    def _event(self, line: str) -> dict[str, Any] | None:
        """The JSON event ``line`` carries; a line that carries none goes to the plain log as it is."""
        if not line.startswith(PREFIX):
            if line.strip():
                self.plain.append(line.rstrip("\n"))
            return None
        try:
            event: Any = json.loads(line[len(PREFIX) :])
        except ValueError:
            self.plain.append(line.rstrip("\n"))
            return None
        return event if isinstance(event, dict) else None

    def _message(self, event: dict[str, Any]) -> None:
        text = strip_ansi(str(event.get("msg", "")))
        if int(event.get("level", 0)) <= 3:  # error, warn, notice, info: what nix-build shows
            self.plain.append(text)

    def _start_build(self, event: dict[str, Any]) -> BuildActivity:
        fields = event.get("fields") or [""]
        activity = BuildActivity(str(fields[0]), self.clock())
        self.builds[int(event["id"])] = activity
        self.plain.append(f"building '{activity.drv}'...")
        return activity

    def _build_log_line(self, event: dict[str, Any]) -> None:
        text = strip_ansi(str((event.get("fields") or [""])[0]))
        building = self.builds.get(int(event.get("id", -1)))
        if building is not None:
            building.lines.append(text)
        self.plain.append(text)

    def _stop(self, event: dict[str, Any]) -> None:
        stopped = self.builds.get(int(event.get("id", -1)))
        if stopped is not None:
            stopped.finished = self.clock()

    def text(self) -> str:
        return "\n".join(self.plain)

    def log_of(self, derivation_name: str) -> str:
        """The builder's own output for the derivation named ``<hash>-<derivation_name>.drv``."""
        lines: list[str] = []
        for activity in self.builds.values():
            if activity.name == derivation_name:
                lines = activity.lines
        return "\n".join(lines)

    def derivation_path(self, derivation_name: str) -> str | None:
        """The .drv this run built under ``derivation_name`` (``<hash>-<name>.drv``), if it built one."""
        paths = [activity.drv for activity in self.builds.values() if activity.name == derivation_name]
        return paths[-1] if paths else None

    def running(self) -> list[BuildActivity]:
        return [activity for activity in self.builds.values() if activity.finished is None]


class BuildDisplay:
    """Live per-derivation progress on a TTY; silent otherwise (the log stays for errors)."""

    def __init__(self, console: Console, log: NixLog) -> None:
        self.console = console
        self.log = log
        self.live: Live | None = None

    def _render(self) -> Table:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        done = sum(1 for activity in self.log.builds.values() if activity.finished is not None)
        for activity in self.log.running():
            last = activity.lines[-1][:100] if activity.lines else ""
            table.add_row(
                Spinner("dots"),
                f"[bold]{activity.name}[/bold]",
                f"{now - activity.started:5.1f} s",
                f"[dim]{last}[/dim]",
            )
        summary = f"{done} of {len(self.log.builds)} derivations built" if self.log.builds else "evaluating"
        table.add_row("", f"[dim]{summary}[/dim]", "", "")
        return table

    def __rich__(self) -> Table:
        # Rendered afresh on every refresh, so elapsed times move between log lines.
        return self._render()

    def update(self) -> None:
        """Called after each log line; drawing is left to Live's own refresh (8 Hz), so a chatty
        build costs no redraw per line."""

    @contextmanager
    def shown(self) -> Iterator[BuildDisplay]:
        if not self.console.is_terminal:
            yield self
            return
        from rich.live import Live  # only drawn on a terminal

        with Live(self, console=self.console, refresh_per_second=8, transient=True) as live:
            self.live = live
            try:
                yield self
            finally:
                self.live = None


def fetch_summary(count: int, total_bytes: int, human: Callable[[int], str]) -> str:
    return f"fetching {count} artifact{'s' if count != 1 else ''} ({human(total_bytes)})"


def fetch_item(index: int, count: int, label: str, size: int | None, human: Callable[[int], str]) -> str:
    return f"[{index}/{count}] {label}" + (f", {human(size)}" if size else "")


def plain_text(stderr: str) -> str:
    """nix-build's internal-json stderr as the plain text it stands for."""
    log = NixLog()
    for line in stderr.splitlines():
        log.feed(line)
    return log.text()
