"""Thin adapter: resolve Python requirements to a PEP 751 lock with uv."""

from __future__ import annotations

from pathlib import Path

from pywrap.adapters.run import require_tool, run
from pywrap.errors import CommandFailed, ResolutionError

INSTALL_HINT = "uv is a dependency of pyrel: reinstall pyrel (`pip install .`) or `pip install uv`"


def uv_binary() -> str:
    """The uv that came with pyrel (the `uv` package installs it beside pyrel's interpreter,
    which need not be on PATH: `.venv/bin/pyrel` run without activating the venv), else PATH's."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return require_tool("uv", INSTALL_HINT)
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return require_tool("uv", INSTALL_HINT)


def compile_pylock(
    requirements: list[str],
    *,
    python_version: str,
    platform: str,
    output: Path,
    what: str,
    exclude_newer: str | None = None,
) -> None:
    """Resolve ``requirements`` for the target interpreter and platform into ``output``.

    uv resolves for a Python and platform that need not exist on the host, and
    writes PEP 751 directly with every file's size and sha256.
    """
    uv = uv_binary()
    requirements_in = output.with_name(output.name + ".in")
    requirements_in.write_text("".join(f"{line}\n" for line in requirements), encoding="utf-8")
    try:
        run(
            [
                uv, "pip", "compile", str(requirements_in),
                "--python-version", python_version,
                "--python-platform", platform,
                "--generate-hashes", "--no-header", "--quiet",
                "--format", "pylock.toml",
                *(["--exclude-newer", exclude_newer] if exclude_newer else []),
                "-o", str(output),
            ],
            what=f"resolving {what}",
        )
    except CommandFailed as exc:
        raise ResolutionError(
            f"cannot resolve the Python requirements of {what}: {', '.join(requirements)}\n"
            f"{exc.completed.stderr.strip()}",
            hint="check the requirement names and versions (and that they support "
            f"Python {python_version})",
        ) from exc
    finally:
        requirements_in.unlink(missing_ok=True)
