"""A test requirements file that says `-e .[test]`: pyrel lock expands it into the extra, never runs
the project's build backend on the host, and never pins the project from the index."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

PACKAGES = Path(__file__).resolve().parent.parent / "packages"


def test_the_project_in_its_own_requirements_file_is_expanded_never_built_or_fetched(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project = tmp_path / "self-requirement"
    shutil.copytree(PACKAGES / "self-requirement", project)
    marker = tmp_path / "backend-ran"  # outside the tree: only a host process can reach it
    # The in-tree backend appends to the marker wherever it runs with this variable: uv's host-side
    # metadata build of `-e .` would (the version is dynamic), pyrel's probe in the sandbox cannot.
    completed = run_pyrel("lock", "-C", str(project), env={"PYREL_FIXTURE_BACKEND_MARKER": str(marker)})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert not marker.exists(), marker.read_text()

    lock = tomllib.loads((project / "pyrel.lock.toml").read_text())
    assert not lock["stages"]["test"].get("skipped")
    assert "backend-requires" in lock["stages"]["source"]  # the backend was asked, in the sandbox
    pylock = tomllib.loads((project / "pylock.test.toml").read_text())
    names = {package["name"] for package in pylock["packages"]}
    # The extra's requirement, the file's registry requirement, and pytest, which requires iniconfig:
    # the project's name, which the stage gets from its own build.
    assert {"tomli-w", "packaging", "pytest", "pluggy"} <= names
    assert "iniconfig" not in names
    assert all("directory" not in package and "archive" not in package for package in pylock["packages"])
