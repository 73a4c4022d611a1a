from __future__ import annotations

from pathlib import Path

from pywrap.config.loader import load_project
from pywrap.config.source_tree import generated_files, source_files


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")


def test_outside_git_the_usual_ignores_and_pyrels_own_files_are_left_out(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "pyproject.toml",
            "src/a.py",
            "src/__pycache__/a.cpython-311.pyc",
            "dist/old.tar.gz",
            ".pyrel/plan.json",
            "demo.egg-info/PKG-INFO",
            "pyrel.lock.toml",
            "pylock.source.toml",
            ".venv/bin/python",
            ".venv/pyvenv.cfg",
            "docs/index.rst",
        ],
    )
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n[build-system]\nrequires = ["flit_core"]\n')
    project = load_project(tmp_path)
    assert sorted(source_files(tmp_path, generated_files(project))) == ["docs/index.rst", "pyproject.toml", "src/a.py"]


def test_an_unpacked_sdist_keeps_its_egg_info(tmp_path: Path) -> None:
    _tree(tmp_path, ["PKG-INFO", "setup.py", "demo.egg-info/SOURCES.txt", "demo/__init__.py"])
    assert "demo.egg-info/SOURCES.txt" in source_files(tmp_path)
