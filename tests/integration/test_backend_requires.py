"""get_requires_for_build_sdist is asked in the sandbox at lock time and locked."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

PACKAGES = Path(__file__).resolve().parent.parent / "packages"


def test_backend_requirements_are_locked_and_available(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project = tmp_path / "extra"
    shutil.copytree(PACKAGES / "backend-extra-requires", project)
    run_pyrel("lock", "-C", str(project), check=True)
    lock = tomllib.loads((project / "pyrel.lock.toml").read_text())
    assert lock["stages"]["source"]["backend-requires"] == ["tomli-w>=1.0"]
    pylock = tomllib.loads((project / "pylock.source.toml").read_text())
    assert "tomli-w" in {package["name"] for package in pylock["packages"]}
    run_pyrel("build", "source", "-C", str(project), check=True)
    assert (project / "dist/source/extra_demo-0.1.0.tar.gz").is_file()
