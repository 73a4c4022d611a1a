"""Real build systems in the sandbox, from real published sources fetched at test time.

* an autoconf release, GNU hello 2.10 (the upstream tarball Debian ships as
  ``hello_2.10.orig.tar.gz``, fetched from the Debian mirror the lock reads):
  its ``source`` stage packs the tree, its ``test`` stage builds from that
  tarball with ``./configure && make`` and runs ``make check``;
* a scikit-build-core sdist with C and C++ code (spglib: CMake, ninja and cmake
  from wheels, pybind11's CMake files, numpy): its wheel stage builds and checks
  the manylinux wheel and its test stage passes, with no build configuration
  (the only key, ``intersphinx = false``, is its docs stage's);
* a meson-python sdist with C++ code (contourpy: meson and ninja from wheels,
  pybind11, numpy): its wheel stage builds and checks the manylinux wheel and
  its test stage passes (its C++ exceptions reach Python: the link keeps
  ``--eh-frame-hdr``); meson-python's ``build_sdist`` runs ``meson dist``,
  which needs a git checkout, so its source stage packs the unpacked sdist.

Sdists come from the machine's pip (``--no-binary`` for the one project only:
its build requirements are wheels), pinned by sha256 and cached in
``<pyrel cache>/test-sdists``, as tests/integration/test_backends.py does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pywrap.cache import cache_dir
from tests.integration.test_backends import Published, member_names, unpack

pytestmark = [pytest.mark.nix, pytest.mark.network]

SPGLIB = Published(
    "scikit-build-core", "spglib", "2.8.0", "12a224434b5659793353937625fd7eb91c00c8952c18ca729a7a8117b1e29e8f"
)
CONTOURPY = Published(
    "meson-python", "contourpy", "1.3.3", "083e12155b210502d0bca491432bb04d56dc3432f95a979b429f2848c3dbe880"
)
#: GNU hello's release tarball, as Debian's source package of hello 2.10-3 keeps it.
HELLO_POOL_PATH = "pool/main/h/hello/hello_2.10.orig.tar.gz"
HELLO_SHA256 = "31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b"

AUTOCONF_CONFIG = """\
# The release tarball: the tree, packed (the normalizer clamps its mtimes, so make sees
# configure and its inputs as made together and never asks for autotools).
[stages.source]
run = ['mkdir "$TMPDIR/hello-2.10" && cp -R . "$TMPDIR/hello-2.10/"',
       'tar -czf "$out/hello-2.10.tar.gz" -C "$TMPDIR" hello-2.10']
outputs = ["hello-2.10.tar.gz"]

[stages.test]
python = false
compiler = true
system = ["make"]
inputs = ["source"]
run = [
    'tar -xzf "$PYREL_INPUT_source/hello-2.10.tar.gz" -C "$TMPDIR"',
    'cd "$TMPDIR/hello-2.10" && ./configure > "$out/configure.log" 2>&1 || { cat "$out/configure.log"; exit 1; }',
    'make -C "$TMPDIR/hello-2.10" > /dev/null',
    'make -C "$TMPDIR/hello-2.10" check > "$out/check.log" 2>&1 || { cat "$out/check.log"; exit 1; }',
    '"$TMPDIR/hello-2.10/hello" > "$out/hello.txt"',
]
outputs = ["configure.log", "check.log", "hello.txt"]
"""


def _pyrel(*args: str, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pywrap", *args, "-C", str(project)], capture_output=True, text=True, check=False
    )


def _ok(completed: subprocess.CompletedProcess[str], what: str) -> None:
    assert completed.returncode == 0, f"{what} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cached(name: str, sha256: str, download: Any) -> Path:
    """A pinned file from ``<pyrel cache>/test-sdists/<name>``, else ``download(scratch) -> file``, checked."""
    directory = cache_dir() / "test-sdists" / name
    cached = sorted(directory.glob("*.tar.gz")) if directory.is_dir() else []
    if len(cached) == 1 and _sha256(cached[0]) == sha256:
        return cached[0]
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=directory.parent) as scratch:
        downloaded: Path = download(Path(scratch))
        assert _sha256(downloaded) == sha256, f"{downloaded.name} is not the pinned file"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        target = directory / downloaded.name
        downloaded.replace(target)
    return target


def _published(case: Published) -> Path:
    """The published sdist, by the machine's pip; only this project from source (its build requirements are
    wheels, and pip builds nothing of them)."""

    def download(scratch: Path) -> Path:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                case.name,
                "--quiet",
                "--dest",
                str(scratch),
                case.spec,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, f"pip download {case.spec} failed:\n{completed.stderr}"
        [sdist] = sorted(scratch.glob("*.tar.gz"))
        return sdist

    return _cached(f"{case.name}-{case.version}", case.sha256, download)


def _hello_tarball(lock_file: Path) -> Path:
    """GNU hello's tarball from the Debian mirror the lock's packages come from (its URLs name it)."""
    from pywrap.adapters import http

    lock = tomllib.loads(lock_file.read_text())
    # The main archive's, not the security archive's (whose pool has only updated packages).
    mirror = next(package["url"] for package in lock["debian"]["packages"] if "security" not in package["url"])
    mirror = mirror.partition("/pool/")[0]

    def download(scratch: Path) -> Path:
        target = scratch / "hello-2.10.tar.gz"
        assert http.download(f"{mirror}/{HELLO_POOL_PATH}", target), f"{mirror} has no {HELLO_POOL_PATH}"
        return target

    return _cached("hello-2.10", HELLO_SHA256, download)


def _stages(completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return {stage["stage"]: stage for stage in json.loads(completed.stdout)["stages"]}


def test_an_autoconf_release_configures_builds_and_passes_make_check(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    project.mkdir()
    (project / "pyrel.toml").write_text(AUTOCONF_CONFIG)
    _ok(_pyrel("lock", project=project), "pyrel lock")
    tarball = _hello_tarball(project / "pyrel.lock.toml")
    top = unpack(tarball, tmp_path / "unpacked")
    for entry in top.iterdir():
        entry.rename(project / entry.name)
    built = _pyrel("build", "source", "test", "--json", project=project)
    _ok(built, "pyrel build source test")
    assert {name: stage["status"] for name, stage in _stages(built).items()} == {"source": "success", "test": "success"}
    dist = project / "dist" / "test"
    configure = (dist / "configure.log").read_text()
    # configure ran the programs it compiled: a native build, its run-time checks answered.
    assert "checking whether we are cross compiling... no" in configure
    assert "checking for working GNU getopt function... yes" in configure
    check = (dist / "check.log").read_text()
    assert "# FAIL:  0" in check and "# ERROR: 0" in check
    assert int(check.split("# PASS:")[1].split()[0]) >= 4
    assert (dist / "hello.txt").read_text() == "Hello, world!\n"


def test_a_scikit_build_core_sdist_builds_its_manylinux_wheel_and_passes_its_tests(tmp_path: Path) -> None:
    project = unpack(_published(SPGLIB), tmp_path / "spglib")
    # The docs stage's conf.py names inventories this network cannot reach (pyrel pins them at lock time).
    (project / "pyrel.toml").write_text("[stages.docs]\nintersphinx = false\n")
    _ok(_pyrel("lock", project=project), "pyrel lock")
    lock = tomllib.loads((project / "pyrel.lock.toml").read_text())
    assert "g++-12" in lock["stages"]["wheel"]["system"]  # C++ sources: the wheel stage has g++
    built = _pyrel("build", "source", "wheel", "test", "--json", project=project)
    _ok(built, "pyrel build source wheel test")
    checks = json.loads((project / "dist" / "wheel" / "wheel-checks.json").read_text())
    assert checks["manylinux"]["libraries-outside-policy"] == [] and not checks["manylinux"]["repaired"]
    [wheel] = (project / "dist" / "wheel").glob("spglib-2.8.0-cp3*-manylinux_*.whl")
    assert wheel.name == checks["wheel"]
    log = (project / "dist" / "test" / "pytest.log").read_text()
    summary = log.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


def test_a_meson_python_sdist_builds_its_manylinux_wheel_and_passes_its_tests(tmp_path: Path) -> None:
    project = unpack(_published(CONTOURPY), tmp_path / "contourpy")
    # Zero config for the build: meson-python's build_sdist runs `meson dist`, which needs git, so pyrel packs
    # the unpacked sdist as it is. The one key is the docs stage's (its inventories' sites are out of reach).
    (project / "pyrel.toml").write_text("[stages.docs]\nintersphinx = false\n")
    locked = _pyrel("lock", project=project)
    _ok(locked, "pyrel lock")
    # meson-python asks for ninja (none on PATH): the lock-time probe locked its wheel for the wheel stage.
    assert "ninja >= 1.8.2" in locked.stderr
    built = _pyrel("build", "source", "wheel", "test", "--json", project=project)
    _ok(built, "pyrel build source wheel test")
    checks = json.loads((project / "dist" / "wheel" / "wheel-checks.json").read_text())
    assert checks["manylinux"]["libraries-outside-policy"] == [] and not checks["manylinux"]["repaired"]
    assert checks["wheel"].startswith("contourpy-1.3.3-cp3") and "manylinux_" in checks["wheel"]
    summary = (project / "dist" / "test" / "pytest.log").read_text().strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


def test_a_meson_python_git_checkout_builds_its_sdist_with_meson_dist(tmp_path: Path) -> None:
    """In a git checkout, zero config: the source stage gets the git metadata (``meson dist`` packs what git
    lists at HEAD) and the compiler (``meson setup`` looks for the project's); the sdist holds the files the
    published one does."""
    published = _published(CONTOURPY)
    project = unpack(published, tmp_path / "contourpy")
    (project / "PKG-INFO").unlink()  # a checkout, not a release: meson-python writes PKG-INFO
    (project / "pyrel.toml").write_text("[stages.docs]\nintersphinx = false\n")
    git = ["git", "-c", "user.name=pyrel tests", "-c", "user.email=tests@pyrel.invalid", "-C", str(project)]
    for command in (["init", "--quiet"], ["add", "-A"], ["commit", "--quiet", "-m", "1.3.3"], ["tag", "v1.3.3"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    locked = _pyrel("lock", project=project)
    _ok(locked, "pyrel lock")
    source = tomllib.loads((project / "pyrel.lock.toml").read_text())["stages"]["source"]
    assert {"git", "g++", "ninja"} <= {*source["system"], *(wheel["name"] for wheel in _pylock(project, "source"))}
    _ok(_pyrel("build", "source", project=project), "pyrel build source")
    [sdist] = (project / "dist" / "source").glob("*.tar.gz")
    assert sdist.name == "contourpy-1.3.3.tar.gz"
    # pyrel.toml is the test's own file, tracked in this checkout.
    assert member_names(sdist) - {"pyrel.toml"} == member_names(published)


def _pylock(project: Path, stage: str) -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = tomllib.loads((project / f"pylock.{stage}.toml").read_text())["packages"]
    return packages
