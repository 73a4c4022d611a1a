"""The one place pyrel starts host processes.

Every adapter (``nix``, ``apt``, ``pip``, ``uv``, ``git``) goes through
:func:`run`: it prints the command under ``-v``, captures its output, and on
failure raises with the tail of what the command printed.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

import attrs

from pywrap.errors import TAIL_LINES, CommandFailed, ToolMissingError

#: Set by the CLI's ``-v``; adapters never print on their own otherwise.
VERBOSE = False


@attrs.frozen
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


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
    stdin_path: str | os.PathLike[str] | None = None,
) -> Completed:
    """Run ``args``, capture output; raise :class:`CommandFailed` if ``check``.

    ``stdin_path``: a file the command reads as its standard input (bytes as they are).
    """
    argv = tuple(str(a) for a in args)
    if VERBOSE:
        print(f"$ {shlex.join(argv)}", file=sys.stderr)
    full_env = None
    if env is not None:
        full_env = {**os.environ, **env}
    try:
        with contextlib.ExitStack() as stack:
            stdin = stack.enter_context(open(stdin_path, "rb")) if stdin_path is not None else None
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=full_env,
                cwd=cwd,
                input=input_text,
                stdin=stdin,
                check=False,
            )
    except FileNotFoundError as exc:
        raise ToolMissingError(f"`{argv[0]}` is not installed or not on PATH") from exc
    completed = Completed(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise CommandFailed(completed, what or argv[0])
    return completed


def stream(
    args: Sequence[str],
    on_stderr_line: Callable[[str], None],
    *,
    what: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Like :func:`run`, but hand each stderr line to ``on_stderr_line`` as it arrives.

    For long commands whose progress is shown live (nix-build).  stderr is still
    kept in :attr:`Completed.stderr` for the error tail.  If pyrel is interrupted
    (Ctrl-C, a signal turned into an exception) the child is stopped before the
    exception goes on, so no build outlives the run that started it.
    """
    argv = tuple(str(a) for a in args)
    if VERBOSE:
        print(f"$ {shlex.join(argv)}", file=sys.stderr)
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **env} if env is not None else None,
            bufsize=1,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError(f"`{argv[0]}` is not installed or not on PATH") from exc
    stdout_parts: list[str] = []
    stderr_lines: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    reader = threading.Thread(
        target=lambda: stdout_parts.append(proc.stdout.read() if proc.stdout else ""), daemon=True
    )
    reader.start()
    try:
        for line in proc.stderr:
            stderr_lines.append(line)
            on_stderr_line(line.rstrip("\n"))
        returncode = proc.wait()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    reader.join()
    completed = Completed(argv, returncode, "".join(stdout_parts), "".join(stderr_lines))
    if returncode != 0:
        raise CommandFailed(completed, what or argv[0])
    return completed
