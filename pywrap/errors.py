"""One exception hierarchy; each kind of error carries the exit code the CLI returns.

The message is what the user reads: what went wrong, where (file, key, stage,
artifact) and what to do about it.  Tracebacks are shown only with ``--debug``.

A *kind* is a class that sets ``exit_code`` itself; no two kinds share one.  A
subclass that only specializes a kind (:class:`NotAProjectError` of
:class:`ConfigError`) inherits its code.  The first line of a kind's docstring is
its description in ``pyrel --help`` and in the README's "Exit codes"
(:func:`exit_codes`); ``tests/unit/test_errors.py`` holds the three together.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Protocol


class FinishedCommand(Protocol):
    """What a command left behind (``pywrap.adapters.run.Completed``), as :class:`CommandFailed` reports it."""

    @property
    def args(self) -> Sequence[str]: ...
    @property
    def returncode(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


#: How many lines of a failed command's output its error shows.
TAIL_LINES = 40


class PyrelError(Exception):
    """Base of every error pyrel reports to the user."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class BuildError(PyrelError):
    """A stage failed to build in its sandbox.

    ``pyrel build`` reports failed stages as results and exits with this code too.
    """

    exit_code = 1

    def __init__(self, message: str, *, log_tail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.log_tail = log_tail

    def __str__(self) -> str:
        text = super().__str__()
        if self.log_tail:
            return f"{text}\n--- last lines of the build log ---\n{self.log_tail}"
        return text


class ConfigError(PyrelError):
    """The configuration or the command line is invalid.

    The configuration is ``[tool.pyrel]`` of pyproject.toml, or pyrel.toml.  A command
    line that does not parse (an unknown option, a missing argument) exits with this
    code too: typer's own usage errors exit 2.
    """

    exit_code = 2


class NotAProjectError(ConfigError):
    """No ``pyproject.toml`` or ``pyrel.toml`` where pyrel was pointed."""


class LockError(PyrelError):
    """The lock is missing, stale, malformed or cannot be resolved."""

    exit_code = 3


class ResolutionError(LockError):
    """A package manager could not find or resolve a requested package."""


class FetchError(PyrelError):
    """A fetch failed, or an artifact's sha256 differs from the lock."""

    exit_code = 4


class DownloadError(FetchError):
    """A download failed: the network, a proxy, or the server's answer."""


class HashMismatchError(FetchError):
    """A fetched artifact's sha256 differs from the lock."""

    def __init__(self, artifact: str, expected: str, actual: str) -> None:
        super().__init__(
            f"sha256 mismatch for {artifact}: expected {expected}, got {actual}",
            hint="the artifact was rejected and not added to the Nix store; if the "
            "upstream file really changed, re-run `pyrel lock` and review the diff",
        )
        self.artifact = artifact
        self.expected = expected
        self.actual = actual


class ToolMissingError(PyrelError):
    """A host tool pyrel needs (Nix, ssh-keygen, git) is not installed."""

    exit_code = 5


class SandboxError(PyrelError):
    """Nix's sandbox cannot be enabled; pyrel never builds without it."""

    exit_code = 6


class ExportError(PyrelError):
    """A stage's outputs could not be exported to dist/."""

    exit_code = 7


class BudgetExceededError(PyrelError):
    """A stage's closure is over its budget (`pyrel audit --check`)."""

    exit_code = 8


class InputVerificationError(PyrelError):
    """Release inputs refused: a dirty tree, a tag not at HEAD, a shallow clone."""

    exit_code = 9


class NotReproducibleError(PyrelError):
    """A stage rebuilt to different bytes (`pyrel verify`)."""

    exit_code = 10


class VerificationError(PyrelError):
    """Exported artifacts do not check out (`pyrel verify --artifacts`).

    A file, its SHA256SUMS line, its attestation or a signature is missing or wrong.
    """

    exit_code = 11


class BusyError(PyrelError):
    """Another pyrel run held the lock past `--lock-timeout`.

    The lock of the project (``<project>/.pyrel/lock``) or of the download cache.
    """

    exit_code = 12


class CacheError(PyrelError):
    """A binary cache or its key cannot be written (`pyrel export`, `keygen`)."""

    exit_code = 13


class OutOfDateError(PyrelError):
    """The committed CI workflow is out of date (`pyrel ci github --check`)."""

    exit_code = 14


class UsageError(ConfigError):
    """Command-line options that do not go together, or an option's value pyrel cannot use (exit 2)."""


class CommandFailed(PyrelError):
    """A command pyrel runs (nix-store, uv, pip, ...) failed."""

    exit_code = 15

    def __init__(self, completed: FinishedCommand, what: str) -> None:
        tail = "\n".join((completed.stderr or completed.stdout).splitlines()[-TAIL_LINES:])
        super().__init__(f"{what} failed (exit {completed.returncode}): $ {shlex.join(completed.args)}\n{tail}")
        self.completed = completed


class SigningError(PyrelError):
    """An artifact could not be signed (`pyrel sign`)."""

    exit_code = 16


class BaselineError(PyrelError):
    """The audit baseline is unreadable or malformed (`pyrel audit --baseline`).

    Also the last report, ``dist/audit/audit.json``, that ``pyrel audit`` compares budgets with.
    """

    exit_code = 17


class NoSuchPackageError(PyrelError):
    """No stage pulls in the package asked about (`pyrel why`)."""

    exit_code = 18


class InstallationError(PyrelError):
    """pyrel's installation is broken (its Nix library is missing or wrong)."""

    exit_code = 19


def error_kinds() -> list[type[PyrelError]]:
    """Every kind of error: the classes that set their own ``exit_code``, by code."""
    kinds: list[type[PyrelError]] = []
    pending: list[type[PyrelError]] = [PyrelError]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls is not PyrelError and "exit_code" in vars(cls):
            kinds.append(cls)
    return sorted(kinds, key=lambda kind: (kind.exit_code, kind.__name__))


def exit_codes() -> list[tuple[int, str]]:
    """``(exit code, short description)`` of every kind, by code: the first line of its docstring."""
    return [
        (kind.exit_code, (kind.__doc__ or kind.__name__).strip().splitlines()[0].rstrip(".")) for kind in error_kinds()
    ]
