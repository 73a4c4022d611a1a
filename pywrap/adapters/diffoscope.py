"""Thin adapter: diffoscope, when installed, explains how two files differ."""

from __future__ import annotations

import shutil
from pathlib import Path

from pywrap.adapters.run import run

#: diffoscope's text report can be huge (every byte of two archives): keep the head.
MAX_LINES = 200


def available() -> bool:
    return shutil.which("diffoscope") is not None


def compare(first: Path, second: Path, max_lines: int = MAX_LINES) -> str:
    """diffoscope's text report of ``first`` vs ``second`` (its first ``max_lines`` lines)."""
    result = run(["diffoscope", "--text", "-", "--no-progress", str(first), str(second)], check=False)
    lines = (result.stdout or result.stderr).splitlines()
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... ({len(lines) - max_lines} more lines)"]
    return "\n".join(lines)
