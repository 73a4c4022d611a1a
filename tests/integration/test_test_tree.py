"""The built-in test stage runs pytest in the sdist's tree, against the built wheel."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

PACKAGES = Path(__file__).resolve().parent.parent / "packages"


def test_tests_see_the_tree_but_import_the_wheel(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project = tmp_path / "test-tree"
    shutil.copytree(PACKAGES / "test-tree", project)
    run_pyrel("lock", "-C", str(project), check=True)
    completed = run_pyrel("build", "test", "-C", str(project))
    assert completed.returncode == 1
    junit = ElementTree.parse(project / "dist/test/junit.xml").getroot()
    failed = {case.get("name") for case in junit.iter("testcase") if case.find("failure") is not None}
    # The others passed: the wheel, data/ beside tests/, and a shell=True command without /bin/sh.
    assert failed == {"test_an_undeclared_import"}
    assert {case.get("name") for case in junit.iter("testcase")} >= {
        "test_a_shell_command",
        "test_imports_the_built_wheel",
    }
    # The failing test's own log is explained, not only the build log.
    assert "hermeticity violation (undeclared-import)" in completed.stderr
    assert "'undeclared_module'" in completed.stderr


def test_test_modules_at_the_top_are_the_suite_of_a_single_module_project(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """No test tree: test_*.py and *_test.py beside the module are found, run from the sdist's tree,
    and import the installed wheel (the module beside them is left out of the tests' copy)."""
    project = tmp_path / "single-module"
    shutil.copytree(PACKAGES / "single-module", project)
    run_pyrel("lock", "-C", str(project), check=True)
    completed = run_pyrel("build", "test", "-C", str(project))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    junit = ElementTree.parse(project / "dist/test/junit.xml").getroot()
    assert {case.get("name") for case in junit.iter("testcase") if case.find("failure") is None} == {
        "test_the_answer",
        "test_imports_the_installed_wheel_not_the_module_beside_it",
        "test_the_other_naming",
    }
