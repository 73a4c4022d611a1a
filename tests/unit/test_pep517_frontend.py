"""pyrel's in-sandbox PEP 517 frontend (nix/tools/pep517.py), run with the host's Python on
small backends written by the tests.  The integration tests run it in the sandbox on real
backends (tests/integration/test_backends.py, test_backend_requires.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "nix" / "tools" / "pep517.py"

#: A backend that writes an sdist named after its module, and says where it was imported from.
BACKEND = """
import os, sys
class api:
    @staticmethod
    def build_sdist(sdist_directory, config_settings=None):
        assert config_settings == {}, config_settings
        name = "demo-1.0.tar.gz"
        with open(os.path.join(sdist_directory, name), "w") as stream:
            stream.write(__file__ + "\\n" + "\\n".join(sys.path))
        return name
    @staticmethod
    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        return "missing.whl"
    @staticmethod
    def get_requires_for_build_sdist(config_settings=None):
        return ["tomli-w>=1.0"]
    @staticmethod
    def get_requires_for_build_wheel(config_settings=None):
        raise RuntimeError("no wheel today")
"""


def _run(
    tree: Path,
    *args: str,
    backend: str = "",
    backend_path: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYREL_")}
    if backend:
        env["PYREL_BUILD_BACKEND"] = backend
    if backend_path is not None:
        env["PYREL_BACKEND_PATH"] = json.dumps(backend_path)
    return subprocess.run(
        [sys.executable, str(FRONTEND), *args], cwd=tree, env=env, capture_output=True, text=True, check=False
    )


def test_an_in_tree_backend_is_loaded_from_backend_path_and_its_object_called(tmp_path: Path) -> None:
    (tmp_path / "_build").mkdir()
    (tmp_path / "_build" / "demo_backend.py").write_text(BACKEND)
    completed = _run(tmp_path, "sdist", "out", backend="demo_backend:api", backend_path=["_build"])
    assert completed.returncode == 0, completed.stderr
    assert "built demo-1.0.tar.gz" in completed.stdout
    backend_file, *search_path = (tmp_path / "out" / "demo-1.0.tar.gz").read_text().splitlines()
    assert Path(backend_file) == tmp_path / "_build" / "demo_backend.py"
    assert Path(search_path[0]) == tmp_path / "_build"  # backend-path comes first
    # Like pyproject_hooks' subprocess: the frontend's own directory is not importable by the backend.
    assert str(FRONTEND.parent) not in search_path


def test_a_backend_found_outside_its_backend_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "_build").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "demo_backend.py").write_text(BACKEND)
    env_path = {"PYTHONPATH": str(tmp_path / "elsewhere")}
    completed = subprocess.run(
        [sys.executable, str(FRONTEND), "sdist", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **env_path, "PYREL_BUILD_BACKEND": "demo_backend:api", "PYREL_BACKEND_PATH": '["_build"]'},
        check=False,
    )
    assert completed.returncode == 1
    assert "not from its backend-path" in completed.stderr
    assert not (tmp_path / "out" / "demo-1.0.tar.gz").exists()


def test_a_missing_backend_names_the_module(tmp_path: Path) -> None:
    completed = _run(tmp_path, "sdist", "out", backend="no_such_backend.api")
    assert completed.returncode == 1
    # pyrel's log reader turns Python's own words into an undeclared-import finding.
    assert (
        "cannot import the build backend 'no_such_backend.api': No module named 'no_such_backend'" in completed.stderr
    )


def test_a_hook_must_return_a_file_it_wrote(tmp_path: Path) -> None:
    (tmp_path / "demo_backend.py").write_text(BACKEND)
    completed = _run(tmp_path, "wheel", "out", backend="demo_backend:api", backend_path=["."])
    assert completed.returncode == 1
    assert "build_wheel returned 'missing.whl', which is not a file it wrote" in completed.stderr


def test_requires_answers_are_written_and_a_failing_optional_one_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "demo_backend.py").write_text(BACKEND)
    sdist = _run(tmp_path, "requires", "sdist", "sdist.json", backend="demo_backend:api", backend_path=["."])
    assert sdist.returncode == 0, sdist.stderr
    assert json.loads((tmp_path / "sdist.json").read_text()) == ["tomli-w>=1.0"]
    optional = _run(
        tmp_path, "requires", "wheel", "wheel.json", "--optional", backend="demo_backend:api", backend_path=["."]
    )
    assert optional.returncode == 0
    assert "could not say what a wheel build needs: RuntimeError('no wheel today')" in optional.stderr
    assert not (tmp_path / "wheel.json").exists()
    required = _run(tmp_path, "requires", "wheel", "wheel.json", backend="demo_backend:api", backend_path=["."])
    assert required.returncode == 1
    assert "no wheel today" in required.stderr


def test_a_backend_without_the_requires_hooks_needs_nothing_more(tmp_path: Path) -> None:
    (tmp_path / "bare_backend.py").write_text("def build_sdist(d, c=None):\n    raise SystemExit(3)\n")
    completed = _run(tmp_path, "requires", "sdist", "sdist.json", backend="bare_backend", backend_path=["."])
    assert completed.returncode == 0, completed.stderr
    assert json.loads((tmp_path / "sdist.json").read_text()) == []


def test_without_a_backend_pep517s_setuptools_default_applies(tmp_path: Path) -> None:
    # An empty backend-path directory: whether or not the host has setuptools, the frontend
    # refuses, naming the backend it was asked to load.
    (tmp_path / "nowhere").mkdir()
    completed = _run(tmp_path, "requires", "sdist", "sdist.json", backend_path=["nowhere"])
    assert completed.returncode == 1
    assert "the build backend 'setuptools.build_meta'" in completed.stderr


def test_bad_arguments_say_how_to_call_it(tmp_path: Path) -> None:
    completed = _run(tmp_path, "bdist", "out")
    assert completed.returncode == 1
    assert "usage: pep517.py sdist|wheel|repack OUTDIR" in completed.stderr


def test_repack_packs_an_unpacked_sdist_as_it_is_under_its_pep_625_name(tmp_path: Path) -> None:
    tree = tmp_path / "Foo.Bar-1.0"
    (tree / "src").mkdir(parents=True)
    (tree / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\n")
    (tree / "src" / "foo.c").write_text("int x;\n")
    (tree / "meson.build").write_text("project('foo', 'c')\n")
    completed = _run(tree, "repack", str(tmp_path / "out"))
    assert completed.returncode == 0, completed.stderr
    with tarfile.open(tmp_path / "out" / "foo_bar-1.0.tar.gz") as archive:
        assert sorted(archive.getnames()) == [
            "foo_bar-1.0/PKG-INFO", "foo_bar-1.0/meson.build", "foo_bar-1.0/src", "foo_bar-1.0/src/foo.c",
        ]  # fmt: skip
    (tree / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: Foo.Bar\n")
    refused = _run(tree, "repack", str(tmp_path / "again"))
    assert refused.returncode == 1 and "names no Name or no Version" in refused.stderr
