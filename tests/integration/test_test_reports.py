"""What a failed test stage says, in the real sandbox: a collection error by name, unittest suites counted,
and an old release's exclude-newer hint, followed until the stage passes."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]
PACKAGES = Path(__file__).resolve().parent.parent / "packages"


def _copy(name: str, destination: Path) -> Path:
    project = destination / name
    shutil.copytree(PACKAGES / name, project, ignore=shutil.ignore_patterns("dist", ".pyrel", "build"))
    return project


def test_a_collection_error_is_named_and_a_unittest_suite_is_counted(tmp_path: Path, run_pyrel: Run) -> None:
    project = _copy("unittest-suite", tmp_path)
    run_pyrel("lock", "-C", str(project), check=True)
    # No test requirements at all: pyrel brings pytest, which runs the unittest.TestCase classes.
    assert "pytest" in {
        package["name"] for package in tomllib.loads((project / "pylock.test.toml").read_text())["packages"]
    }

    # tests/test_broken.py imports a module that does not exist: pytest stops before any test runs.
    completed = run_pyrel("build", "test", "-C", str(project))
    assert completed.returncode == 1, completed.stderr
    assert (
        "collection failed: 1 error while collecting (tests/test_broken.py), no test ran; pytest had "
        "collected 4 tests from the other files (pytest exit 2)"
    ) in completed.stderr
    assert (
        "tests/test_broken.py: ModuleNotFoundError: No module named 'units_helpers_that_do_not_exist'"
        in completed.stderr
    )
    assert "of 1 test" not in completed.stderr
    assert (project / "dist/test/junit.xml").is_file()  # the report is exported all the same

    # Without it, the unittest suite runs and is counted by its test cases.
    (project / "tests/test_broken.py").unlink()
    completed = run_pyrel("build", "test", "--json", "-C", str(project))
    assert completed.returncode == 1
    [test] = [stage for stage in json.loads(completed.stdout)["stages"] if stage["stage"] == "test"]
    assert test["reason"].splitlines() == [
        "1 of 4 tests failed (pytest exit 1)",
        "    tests.test_units.TestAdd::test_fails",
    ]
    junit = ElementTree.parse(project / "dist/test/junit.xml").getroot()
    cases = {case.get("name"): case for case in junit.iter("testcase")}
    assert set(cases) == {"test_adds", "test_adds_negatives", "test_fails", "test_skipped"}
    assert cases["test_skipped"].find("skipped") is not None
    assert {case.get("classname") for case in cases.values()} == {"tests.test_units.TestAdd"}


def test_an_old_release_s_hint_names_an_exclude_newer_that_makes_it_pass(tmp_path: Path, run_pyrel: Run) -> None:
    # The project says it is from 2023-01-01 (source-date-epoch); its test uses pytest.warns(None), which
    # today's pytest refuses. The hint's date resolves the pytest of that day.
    project = _copy("old-release", tmp_path)
    run_pyrel("lock", "-C", str(project), check=True)
    completed = run_pyrel("build", "test", "-C", str(project))
    assert completed.returncode == 1
    assert "1 of 1 test failed" in completed.stderr
    expected = 'set exclude-newer = "2023-01-01T00:00:00Z" in [tool.pyrel]'
    assert expected in completed.stderr and "the source is from 2023-01-01 (SOURCE_DATE_EPOCH)" in completed.stderr
    assert "wheels locked for stage 'test' were uploaded after it" in completed.stderr

    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("[tool.pyrel]\n", '[tool.pyrel]\nexclude-newer = "2023-01-01T00:00:00Z"\n')
    )
    run_pyrel("lock", "-C", str(project), check=True)
    versions = {
        package["name"]: package["version"]
        for package in tomllib.loads((project / "pylock.test.toml").read_text())["packages"]
    }
    assert versions["pytest"].startswith("7.")
    # pyrel's own upload checks in the wheel stage are not held back (packaging>=24.2 is from 2024).
    wheel_stage = {
        package["name"]: package["version"]
        for package in tomllib.loads((project / "pylock.wheel.toml").read_text())["packages"]
    }
    assert int(wheel_stage["packaging"].split(".")[0]) >= 24
    run_pyrel("build", "test", "-C", str(project), check=True)
    junit = ElementTree.parse(project / "dist/test/junit.xml").getroot()
    assert [case.get("name") for case in junit.iter("testcase")] == ["test_quiet_warns_nothing"]
    assert not [case for case in junit.iter("testcase") if len(case)]
