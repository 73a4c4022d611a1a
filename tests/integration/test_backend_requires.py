"""get_requires_for_build_sdist and _wheel are asked in the sandbox at lock time and locked: the sdist's
answer for the source stage, the wheel's for the wheel stage (docs and test install its wheel)."""

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
    assert lock["stages"]["wheel"]["backend-requires"] == ["iniconfig>=2"]
    wheel_pylock = tomllib.loads((project / "pylock.wheel.toml").read_text())
    assert "iniconfig" in {package["name"] for package in wheel_pylock["packages"]}
    run_pyrel("build", "source", "wheel", "-C", str(project), check=True)
    assert (project / "dist/source/extra_demo-0.1.0.tar.gz").is_file()
    assert (project / "dist/wheel/extra_demo-0.1.0-py2.py3-none-any.whl").is_file()


def test_an_sdist_without_its_in_tree_backend_cannot_give_the_wheel(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project = tmp_path / "extra"
    shutil.copytree(PACKAGES / "backend-extra-requires", project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().split("\n# The wheel is built from the sdist")[0] + "\n")
    run_pyrel("lock", "-C", str(project), check=True)
    failed = run_pyrel("build", "wheel", "-C", str(project))
    assert failed.returncode == 1
    assert "extra_demo-0.1.0.tar.gz lacks the in-tree build backend (backend-path backend)" in failed.stderr
    assert not (project / "dist/wheel").exists()
