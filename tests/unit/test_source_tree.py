"""The source tree outside git: nothing is lost for its name deep in the tree; what is left out is said."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pywrap.config.source_tree import GIT, WALKED, list_source_tree, source_files
from pywrap.errors import ConfigError

CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# a cache directory tag\n"


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")


def _excluded(root: Path) -> dict[str, str]:
    return {entry.path: entry.kind for entry in list_source_tree(root).excluded}


def test_cpython_lib_venv_is_source(tmp_path: Path) -> None:
    # CPython's venv package: a directory named venv, with no pyvenv.cfg.
    _tree(
        tmp_path,
        [
            "configure",
            "Lib/venv/__init__.py",
            "Lib/venv/__main__.py",
            "Lib/venv/scripts/common/activate",
            "Lib/test/test_venv.py",
        ],
    )
    tree = list_source_tree(tmp_path)
    assert tree.origin == WALKED
    assert "Lib/venv/__init__.py" in tree.files and "Lib/venv/scripts/common/activate" in tree.files
    assert tree.count == 5 and tree.excluded == ()


def test_build_results_and_dist_deep_in_the_tree_are_source(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "pyproject.toml",
            "src/pkg/__init__.py",
            "src/pkg/build/__init__.py",
            "src/pkg/build/wheel.py",
            "src/pip/_internal/operations/build/metadata.py",
            "tests/results/expected.txt",
            "tests/results-2/x.txt",
            "docs/dist/index.js",
            "src/pkg/dist/data.txt",
            "src/pkg/.tox/keep.txt",
            "result.txt",
            "results/summary.csv",
        ],
    )
    files = source_files(tmp_path)
    for name in (
        "src/pkg/build/wheel.py",
        "src/pip/_internal/operations/build/metadata.py",
        "tests/results/expected.txt",
        "tests/results-2/x.txt",
        "docs/dist/index.js",
        "src/pkg/dist/data.txt",
        "src/pkg/.tox/keep.txt",
        "result.txt",
        "results/summary.csv",
    ):
        assert name in files, name


def test_root_dist_and_build_are_left_out_with_their_reason(tmp_path: Path) -> None:
    _tree(tmp_path, ["setup.py", "dist/demo-1.0.tar.gz", "build/lib/demo.py", "src/demo/dist/kept.txt"])
    tree = list_source_tree(tmp_path)
    assert tree.files == ("setup.py", "src/demo/dist/kept.txt")
    reasons = {entry.path: entry.reason for entry in tree.excluded}
    assert set(reasons) == {"build/", "dist/"}
    assert "at the project's root" in reasons["dist/"]
    assert [entry.kind for entry in tree.excluded] == ["build-output", "build-output"]


def test_a_real_virtualenv_is_left_out_wherever_it_is(tmp_path: Path) -> None:
    _tree(tmp_path, ["pyproject.toml", "src/demo/__init__.py"])
    for where in (".venv", "tools/env"):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / where)], check=True)
    tree = list_source_tree(tmp_path)
    assert tree.files == ("pyproject.toml", "src/demo/__init__.py")
    assert {entry.path: entry.reason for entry in tree.excluded} == {
        ".venv/": "a virtualenv (pyvenv.cfg)",
        "tools/env/": "a virtualenv (pyvenv.cfg)",
    }


def test_a_directory_named_venv_without_pyvenv_cfg_is_kept(tmp_path: Path) -> None:
    _tree(tmp_path, ["pyproject.toml", "venv/notes.txt", ".venv/bin/tool"])
    assert source_files(tmp_path) == [".venv/bin/tool", "pyproject.toml", "venv/notes.txt"]


def test_tool_caches_are_recognized_by_their_markers_not_their_names(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "pyproject.toml",
            "tests/test_a.py",
            ".pytest_cache/v/cache/nodeids",
            ".mypy_cache/3.11/a.meta.json",
            "deep/.ruff_cache/0.1/x",
            "my_cache/data.bin",
            ".scratch/out.log",
            "fake_cache/CACHEDIR.TAG",
            "fake_cache/data.txt",
            "nested/__pycache__/a.cpython-311.pyc",
            "legacy.pyc",
        ],
    )
    for cache in (".pytest_cache", ".mypy_cache", "deep/.ruff_cache", "my_cache"):
        (tmp_path / cache / "CACHEDIR.TAG").write_text(CACHEDIR_TAG)
    (tmp_path / ".scratch" / ".gitignore").write_text("# Automatically created by some tool\n*\n")
    (tmp_path / "fake_cache" / "CACHEDIR.TAG").write_text("not a cache directory tag\n")
    tree = list_source_tree(tmp_path)
    assert tree.files == ("fake_cache/CACHEDIR.TAG", "fake_cache/data.txt", "pyproject.toml", "tests/test_a.py")
    assert _excluded(tmp_path) == {
        ".mypy_cache/": "cache",
        ".pytest_cache/": "cache",
        "deep/.ruff_cache/": "cache",
        "my_cache/": "cache",
        ".scratch/": "cache",
        "nested/__pycache__/": "bytecode",
        "legacy.pyc": "bytecode",
    }


def test_the_caches_pytest_mypy_and_ruff_really_write_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("def test_a() -> None:\n    assert True\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "test_a.py"], cwd=tmp_path, env=env, capture_output=True, check=True
    )
    subprocess.run([sys.executable, "-m", "mypy", "test_a.py"], cwd=tmp_path, env=env, capture_output=True, check=True)
    expected = {".pytest_cache/", ".mypy_cache/"}
    if (bin_dir / "ruff").exists():
        subprocess.run(
            [str(bin_dir / "ruff"), "check", "test_a.py"], cwd=tmp_path, env=env, capture_output=True, check=True
        )
        expected.add(".ruff_cache/")
    tree = list_source_tree(tmp_path)
    assert tree.files == ("test_a.py",)
    assert {entry.path for entry in tree.excluded} == expected
    assert all(entry.kind == "cache" for entry in tree.excluded)


def test_tox_work_directory_is_recognized_by_its_environments(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "tox.ini",
            "pkg/__init__.py",
            ".tox/py311/.tox-info.json",
            ".tox/.tmp/package/1/pkg-1.0.tar.gz",
            ".tox/log/1.log",
            "old/.tox/py27/.tox-config1",
            "old/.tox/py27/lib/x.py",
            "fixtures/.tox/readme.txt",
        ],
    )
    assert source_files(tmp_path) == ["fixtures/.tox/readme.txt", "pkg/__init__.py", "tox.ini"]
    assert _excluded(tmp_path) == {".tox/": "tox", "old/.tox/": "tox"}


def test_version_control_data_and_pyrels_own_state_are_left_out(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "pyproject.toml",
            ".hg/store/data",
            ".svn/wc.db",
            "vendor/lib/.git",
            "vendor/lib/a.py",
            ".pyrel/plan.json",
            "pyrel.lock.toml",
            "pylock.source.toml",
            ".pyrel.lock.toml.x1y2",
            ".gitignore",
            ".github/workflows/release.yml",
        ],
    )
    tree = list_source_tree(tmp_path, frozenset({"pyrel.lock.toml", "pylock.source.toml"}))
    assert tree.files == (".github/workflows/release.yml", ".gitignore", "pyproject.toml", "vendor/lib/a.py")
    assert {entry.path: entry.kind for entry in tree.excluded} == {
        ".hg/": "vcs",
        ".svn/": "vcs",
        "vendor/lib/.git": "vcs",
        ".pyrel/": "pyrel",
        "pyrel.lock.toml": "pyrel",
        "pylock.source.toml": "pyrel",
        ".pyrel.lock.toml.x1y2": "pyrel",
    }


def test_nix_out_links_only_at_the_root(tmp_path: Path) -> None:
    _tree(tmp_path, ["pyproject.toml", "docs/target.txt"])
    (tmp_path / "result").symlink_to("/nix/store/00000000000000000000000000000000-demo")
    (tmp_path / "result-docs").symlink_to("/nix/store/00000000000000000000000000000000-demo-docs")
    (tmp_path / "result-local").symlink_to("docs/target.txt")
    (tmp_path / "docs" / "result").symlink_to("/nix/store/00000000000000000000000000000000-demo")
    (tmp_path / "docs" / "linked").symlink_to(tmp_path / "docs")
    tree = list_source_tree(tmp_path)
    assert tree.files == ("docs/linked", "docs/result", "docs/target.txt", "pyproject.toml", "result-local")
    assert _excluded(tmp_path) == {"result": "nix-out-link", "result-docs": "nix-out-link"}


def test_node_modules_eggs_and_egg_info_by_their_markers(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "setup.py",
            "node_modules/.package-lock.json",
            "node_modules/x/index.js",
            "web/node_modules/readme.txt",
            ".eggs/README.txt",
            ".eggs/x.egg/x.py",
            "src/demo.egg-info/PKG-INFO",
            "src/demo.egg-info/SOURCES.txt",
            "notes.egg-info/readme.txt",
        ],
    )
    (tmp_path / ".eggs" / "README.txt").write_text(
        "This directory contains eggs that were downloaded by setuptools to build, test, and run plug-ins.\n"
    )
    assert source_files(tmp_path) == ["notes.egg-info/readme.txt", "setup.py", "web/node_modules/readme.txt"]
    assert _excluded(tmp_path) == {"node_modules/": "node-modules", ".eggs/": "eggs", "src/demo.egg-info/": "egg-info"}


def test_an_unpacked_sdist_keeps_every_file_but_bytecode(tmp_path: Path) -> None:
    shipped = [
        "PKG-INFO",
        "setup.py",
        "demo.egg-info/PKG-INFO",
        "demo.egg-info/SOURCES.txt",
        "demo/__init__.py",
        "build/helper.py",
        "dist/bundle.js",
        ".tox/build/.tox-info.json",
        "Lib/venv/__init__.py",
        "tests/results/x.txt",
        ".pytest_cache/CACHEDIR.TAG",
        "tests/toml-test/.git",  # a submodule's .git file: tomlkit 0.13.2's sdist ships one
        ".hg_archival.txt",
    ]
    _tree(
        tmp_path,
        [
            *shipped,
            "demo/__pycache__/__init__.cpython-311.pyc",
            "demo/old.pyc",
            "dist/source/demo-1.0.tar.gz",
            "dist/source/SHA256SUMS",
            ".pyrel/plan.json",
            "pyrel.lock.toml",
        ],
    )
    (tmp_path / ".pytest_cache" / "CACHEDIR.TAG").write_text(CACHEDIR_TAG)
    tree = list_source_tree(tmp_path, frozenset({"pyrel.lock.toml"}))
    assert tree.sdist and tree.origin == WALKED
    assert tree.files == tuple(sorted(shipped))
    assert {entry.path: entry.kind for entry in tree.excluded} == {
        "demo/__pycache__/": "bytecode",
        "demo/old.pyc": "bytecode",
        "dist/source/": "pyrel",
        ".pyrel/": "pyrel",
        "pyrel.lock.toml": "pyrel",
    }
    assert "unpacked sdist" in tree.describe()


def test_the_report_says_which_list_how_many_and_what_was_left_out(tmp_path: Path) -> None:
    _tree(tmp_path, ["pyproject.toml", "a.py", "dist/x.whl"])
    tree = list_source_tree(tmp_path)
    assert tree.describe() == "source tree: 2 files, every file under the project (no git work tree); 1 left out:"
    assert tree.to_json() == {
        "origin": "walked",
        "sdist": False,
        "files": 2,
        "excluded": [
            {
                "path": "dist/",
                "kind": "build-output",
                "reason": "build output at the project's root (pyrel and build frontends write dist/)",
            }
        ],
    }


def test_a_socket_is_left_out_loudly(tmp_path: Path) -> None:
    import socket

    _tree(tmp_path, ["pyproject.toml"])
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "agent.sock"))
        assert _excluded(tmp_path) == {"agent.sock": "not-a-file"}
    finally:
        server.close()


def test_nothing_left_is_an_error_naming_what_was_left_out(tmp_path: Path) -> None:
    _tree(tmp_path, ["dist/x.tar.gz"])
    with pytest.raises(ConfigError, match=r"no source files to build; left out:\n  dist/: build output"):
        list_source_tree(tmp_path)


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "protocol.file.allow=always",
            *args,
        ],
        check=True,
        capture_output=True,
    )


def test_in_git_the_tracked_files_and_what_git_lists_but_is_not_source(tmp_path: Path) -> None:
    library = tmp_path / "library"
    _tree(library, ["lib.py"])
    _git(library, "init", "-q")
    _git(library, "add", "lib.py")
    _git(library, "commit", "-q", "-m", "library")
    project = tmp_path / "project"
    _tree(project, ["pyproject.toml", "build/tool.py", "gone.py", "pyrel.lock.toml", "untracked.txt"])
    _git(project, "init", "-q")
    _git(project, "add", "pyproject.toml", "build/tool.py", "gone.py", "pyrel.lock.toml")
    _git(project, "submodule", "add", "-q", str(library), "vendor/library")
    (project / "gone.py").unlink()
    tree = list_source_tree(project, frozenset({"pyrel.lock.toml"}))
    assert tree.origin == GIT
    assert tree.files == (".gitmodules", "build/tool.py", "pyproject.toml")
    assert {entry.path: entry.kind for entry in tree.excluded} == {
        "gone.py": "missing",
        "pyrel.lock.toml": "pyrel",
        "vendor/library/": "submodule",
    }
    assert tree.describe().startswith("source tree: 3 files, the files git tracks; 3 left out:")


def test_the_files_an_unpacked_sdist_loses_when_rebuilt() -> None:
    from pywrap.execution.sdist_losses import losses_notice, lost_files

    members = ["demo-1.0/pyproject.toml", "demo-1.0/demo.py", "demo-1.0/PKG-INFO"]
    tree = ["pyproject.toml", "demo.py", "PKG-INFO", "demo.egg-info/SOURCES.txt", "CHANGES", "tests/test_demo.py"]
    tree += ["pyrel.toml", "pyrel.lock.toml"]
    lost = lost_files(members, tree, {"pyrel.toml", "pyrel.lock.toml"})
    assert lost == ["CHANGES", "tests/test_demo.py"]  # metadata and egg-info are written again; pyrel's own files
    notice = losses_notice([f"f{index}" for index in range(10)])
    assert notice.startswith("the rebuilt sdist lacks 10 of the files") and "f7 and 2 more" in notice
