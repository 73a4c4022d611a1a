"""Shared fixtures.  Tests that run real Nix carry the `nix` marker; `.ci/run`
runs both layers, and there a missing Nix is a failure, never a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture
def run_pyrel() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real CLI in a subprocess, as a user would."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "pywrap", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(f"pyrel {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
        return completed

    return run


def copy_example(name: str, destination: Path) -> Path:
    target = destination / name
    shutil.copytree(
        EXAMPLES / name,
        target,
        ignore=shutil.ignore_patterns("dist", ".pyrel", "pylock.*.toml", "pyrel.lock.toml", "__pycache__"),
    )
    return target


# Fixture projects carry their own test suites: they run inside pyrel's test
# stage, never in this one.
collect_ignore_glob = ["packages/*"]
