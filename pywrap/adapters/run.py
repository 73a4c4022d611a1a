"""The one place pyrel starts host processes.

Every adapter (``nix``, ``apt``, ``pip``, ``uv``, ``git``) goes through
:func:`run`: it prints the command under ``-v``, captures its output, and on
failure raises with the tail of what the command printed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

import attrs

from pywrap.errors import PyrelError, ToolMissingError

#: Set by the CLI's ``-v``; adapters never print on their own otherwise.
VERBOSE = False

TAIL_LINES = 40


@attrs.frozen
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class CommandFailed(PyrelError):
    def __init__(self, completed: Completed, what: str) -> None:
        tail = "\n".join((completed.stderr or completed.stdout).splitlines()[-TAIL_LINES:])
        super().__init__(
            f"{what} failed (exit {completed.returncode}): $ {shlex.join(completed.args)}\n{tail}"
        )
        self.completed = completed


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def require_tool(name: str, install_hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"`{name}` is not installed or not on PATH", hint=install_hint)
    return path


def run(
    args: Sequence[str],
    *,
    what: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input_text: str | None = None,
) -> Completed:
    """Run ``args``, capture output; raise :class:`CommandFailed` if ``check``."""
    argv = tuple(str(a) for a in args)
    if VERBOSE:
        print(f"$ {shlex.join(argv)}", file=sys.stderr)
    full_env = None
    if env is not None:
        full_env = {**os.environ, **env}
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError(f"`{argv[0]}` is not installed or not on PATH") from exc
    completed = Completed(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise CommandFailed(completed, what or argv[0])
    return completed
