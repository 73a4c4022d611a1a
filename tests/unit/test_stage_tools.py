"""The in-sandbox test runner's pure parts (nix/tools/stage_tools.py), run on the host's Python."""

from __future__ import annotations

import importlib.util
import os
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "nix" / "tools"


@pytest.fixture(scope="module")
def stage_tools() -> ModuleType:
    sys.path.insert(0, str(TOOLS))  # it imports normalize_archives beside it, as in the sandbox
    try:
        spec = importlib.util.spec_from_file_location("stage_tools", TOOLS / "stage_tools.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(TOOLS))


def _wheel(path: Path, members: list[str]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            archive.writestr(member, "")
    return str(path)


def test_the_wheels_top_level_import_names(stage_tools: ModuleType, tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path / "demo-1.0-cp311-cp311-linux_x86_64.whl",
        [
            "demo/__init__.py",
            "six.py",
            "_speedups.cpython-311-x86_64-linux-gnu.so",
            "demo-1.0.dist-info/METADATA",
            "demo-1.0.data/purelib/extra_pkg/__init__.py",
            "demo-1.0.data/scripts/tool",
        ],
    )
    assert stage_tools.wheel_top_level(wheel) == {"demo", "six", "_speedups", "extra_pkg"}


def test_the_tests_run_in_the_tree_without_what_shadows_the_wheel(stage_tools: ModuleType, tmp_path: Path) -> None:
    # click's tests read docs/conf.py from the project root; the package sources must not shadow the wheel.
    origin = tmp_path / "origin"
    for relative in [
        "tests/test_a.py",
        "docs/conf.py",
        "demo/__init__.py",
        "src/demo/__init__.py",
        "src/other.txt",
        "six.py",
        "setup.py",
        "pyproject.toml",
        "conftest.py",
        "build/lib/demo/__init__.py",
        "demo.egg-info/PKG-INFO",
        "data/demo.py",
    ]:
        (origin / relative).parent.mkdir(parents=True, exist_ok=True)
        (origin / relative).write_text("")
    os.chmod(origin / "tests", 0o555)  # as in the read-only store
    run_dir = tmp_path / "run"
    stage_tools.copy_run_dir(str(origin), str(run_dir), {"demo", "six"})
    copied = sorted(str(path.relative_to(run_dir)) for path in run_dir.rglob("*") if path.is_file())
    assert copied == [
        "conftest.py",
        "data/demo.py",
        "docs/conf.py",
        "pyproject.toml",
        "setup.py",
        "src/other.txt",
        "tests/test_a.py",
    ]
    (run_dir / "tests" / "written-by-a-test").write_text("")  # the copy is writable
    os.chmod(origin / "tests", 0o755)


def test_pytest_stopping_early_says_what_to_change(stage_tools: ModuleType) -> None:
    message = stage_tools.no_report_message(1)
    assert "pytest stopped before running any test (exit 1" in message
    assert "exclude-newer" in message and "[tool.pyrel.stages.test].requires" in message


def test_the_tests_come_from_the_sdist_else_the_project_and_a_missing_one_is_named(
    stage_tools: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sdist, project = tmp_path / "sdist", tmp_path / "project"
    for tree in (sdist, project):
        tree.mkdir()
    (project / "tests").mkdir()
    (project / "test_mod.py").write_text("")
    trees = [str(sdist), str(project)]
    assert stage_tools._tests_and_origin([], trees) == (str(project), ["tests"])
    assert stage_tools._tests_and_origin(["test_mod.py"], trees) == (str(project), ["test_mod.py"])
    (sdist / "test_mod.py").write_text("")
    assert stage_tools._tests_and_origin(["test_mod.py"], trees) == (str(sdist), ["test_mod.py"])
    with pytest.raises(SystemExit):
        stage_tools._tests_and_origin(["test_mod.py", "test_gone.py"], trees)
    assert "no test_mod.py, test_gone.py in the sdist or the project" in capsys.readouterr().err
