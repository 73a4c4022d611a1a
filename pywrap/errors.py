"""One exception hierarchy; each class carries the exit code the CLI returns.

The message is what the user reads: what went wrong, where (file, key, stage,
artifact) and what to do about it.  Tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations


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


class ConfigError(PyrelError):
    """The project or its ``[tool.pyrel]`` configuration is invalid."""

    exit_code = 2


class NotAProjectError(ConfigError):
    """No ``pyproject.toml`` or ``pyrel.toml`` where pyrel was pointed."""


class LockError(PyrelError):
    """The lock is missing, stale, malformed, or cannot be resolved."""

    exit_code = 3


class ResolutionError(LockError):
    """A package manager could not find or resolve a requested package."""


class FetchError(PyrelError):
    """An artifact could not be fetched."""

    exit_code = 4


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
    """A required host tool (nix-build, apt-get, ...) is not installed."""

    exit_code = 5


class SandboxError(PyrelError):
    """Nix's sandbox cannot be enabled; pyrel never builds without it."""

    exit_code = 6


class BuildError(PyrelError):
    """A stage's build failed inside the sandbox."""

    exit_code = 1

    def __init__(self, message: str, *, log_tail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.log_tail = log_tail

    def __str__(self) -> str:
        text = super().__str__()
        if self.log_tail:
            return f"{text}\n--- last lines of the build log ---\n{self.log_tail}"
        return text


class ExportError(PyrelError):
    """Outputs could not be exported to ``dist/``."""

    exit_code = 7


class BudgetExceededError(PyrelError):
    """A stage's closure is larger than its ``[tool.pyrel.stages.<name>.budget]``."""

    exit_code = 8


class InputVerificationError(PyrelError):
    """A release's inputs are not what was asked for: a dirty tree, or a tag not at HEAD."""

    exit_code = 9


class NotReproducibleError(PyrelError):
    """`pyrel verify`: a stage rebuilt to different bytes."""

    exit_code = 10


class VerificationError(PyrelError):
    """`pyrel verify --artifacts`: a file, a checksum, an attestation or a signature does not check out."""

    exit_code = 11
