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
