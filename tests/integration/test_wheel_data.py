"""A wheel's data and headers schemes land where an installer puts them, in the real sandbox.

* a dependency wheel's ``.data/data`` (jupyterlab_pygments 0.3.0 ships its JupyterLab extension under
  ``share/jupyter/labextensions``) is under the stage environment's ``sys.prefix``, in a custom stage
  and in the test stage's environment;
* the project's own wheel (hatchling's ``shared-data``) installs its data file under the test
  environment's prefix, and the test stage's proof of the installed wheel checks it against RECORD.

Before, both schemes were dropped without a word: a file missing from what the stage ran.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "datademo"
version = "1.0"

[tool.hatch.build.targets.wheel]
packages = ["datademo"]

[tool.hatch.build.targets.wheel.shared-data]
"share/datademo/greeting.txt" = "share/datademo/greeting.txt"

[dependency-groups]
test = ["pytest", "jupyterlab_pygments==0.3.0"]

[tool.pyrel.stages.prefix]
requires = ["jupyterlab_pygments==0.3.0"]
run = ['python -c "import sys, sysconfig; print(sys.prefix == sysconfig.get_path(\\"data\\"))" > "$out/prefix.txt"',
       'prefix="$(python -c "import sys; print(sys.prefix)")"',
       'ls "$prefix/share/jupyter/labextensions/jupyterlab_pygments" > "$out/data.txt"']
outputs = ["prefix.txt", "data.txt"]
"""
TEST = """\
import os
import sys

LABEXTENSION = "share/jupyter/labextensions/jupyterlab_pygments/package.json"


def test_the_projects_data_file_is_under_the_prefix():
    with open(os.path.join(sys.prefix, "share", "datademo", "greeting.txt")) as stream:
        assert stream.read() == "hello\\n"


def test_a_dependency_wheels_data_is_under_the_prefix():
    assert os.path.isfile(os.path.join(sys.prefix, LABEXTENSION))
"""


def test_the_data_scheme_of_every_wheel_is_under_the_prefix(tmp_path: Path, run_pyrel: Run) -> None:
    project = tmp_path / "datademo"
    (project / "datademo").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "share" / "datademo").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "datademo" / "__init__.py").write_text("")
    (project / "share" / "datademo" / "greeting.txt").write_text("hello\n")
    (project / "tests" / "test_data.py").write_text(TEST)
    locked = run_pyrel("lock", "-C", str(project))
    assert locked.returncode == 0, locked.stderr
    built = run_pyrel("build", "prefix", "test", "-C", str(project))
    assert built.returncode == 0, built.stdout + built.stderr

    assert (project / "dist" / "prefix" / "prefix.txt").read_text() == "True\n"
    assert "package.json" in (project / "dist" / "prefix" / "data.txt").read_text().split()
    log = (project / "dist" / "test" / "pytest.log").read_text()
    assert "2 passed" in log, log
    installed = json.loads((project / "dist" / "test" / "installed-wheel.json").read_text())
    # __init__.py, the data file and the dist-info's files: every one checked against RECORD.
    assert installed["files-checked"] >= 4 and installed["files-outside-site-packages"] == 0
