"""The source stage end to end on the bundled example: real apt, pip, uv, nix-build."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from pywrap.execution.nixlib import elf_platform, nix_system
from pywrap.locking.lockfile import read_lock
from tests.conftest import copy_example

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def locked_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example("hello", tmp_path_factory.mktemp("example"))
    completed = subprocess.run(
        [sys.executable, "-m", "pywrap", "lock", "-C", str(project)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return project


@pytest.fixture
def example(locked_example: Path, tmp_path: Path) -> Path:
    project = tmp_path / "hello"
    shutil.copytree(locked_example, project, ignore=shutil.ignore_patterns("dist", ".pyrel"))
    return project


def _sums(dist: Path) -> dict[str, str]:
    lines = (dist / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_lock_pins_every_dependency_by_sha256(locked_example: Path) -> None:
    lock = tomllib.loads((locked_example / "pyrel.lock.toml").read_text())
    packages = {p["name"]: p for p in lock["debian"]["packages"]}
    system = lock["stages"]["source"]["system"]
    assert any(name.startswith("python3.") and name.endswith("-minimal") for name in system)
    assert "libc6" in system
    assert {"busybox-static", "patchelf"} <= set(lock["debian"]["bootstrap"])
    assert all(len(packages[name]["sha256"]) == 64 for name in system)
    pylock = tomllib.loads((locked_example / "pylock.source.toml").read_text())
    names = {p["name"] for p in pylock["packages"]}
    assert "flit-core" in names
    assert "build" not in names  # pyrel's own frontend (nix/tools/pep517.py) calls the backend
    assert all(len(w["hashes"]["sha256"]) == 64 for p in pylock["packages"] for w in p["wheels"])


def test_the_source_stage_cuts_the_libraries_of_terminal_and_legacy_modules(locked_example: Path) -> None:
    lock = tomllib.loads((locked_example / "pyrel.lock.toml").read_text())
    source, test = lock["stages"]["source"], lock["stages"]["test"]
    trimmed = set(source["trimmed"])
    assert any(name.startswith("libreadline") for name in trimmed)
    assert not trimmed & set(source["system"])
    # The source stage (the backend alone runs there) cuts the terminals' libraries too; the test stage, which
    # runs the project's code, cuts only nis's and dbm.ndbm's, and keeps readline and curses.
    test_trimmed = set(test["trimmed"])
    assert test_trimmed < trimmed and not test_trimmed & set(test["system"])
    assert {"libnsl2", "libdb5.3"} <= test_trimmed and "libreadline8" in test["system"]
    assert trimmed - test_trimmed <= set(test["system"])
    assert len(source["system"]) + len(trimmed) == len(set(source["system"]) | trimmed)


def test_a_cut_library_fails_in_the_sandbox_until_system_exclude_is_emptied(example: Path, run_pyrel: Run) -> None:
    pyproject = example / "pyproject.toml"
    # pypa/build as the stage's own frontend still works, declared like any other requirement.
    probe = (
        "run = [\"python -c 'import ssl, hashlib, sqlite3, lzma, bz2, zlib, ctypes, uuid, decimal'\", "
        '"python -c \'import readline\'", "python -m build --sdist --no-isolation --outdir \\"$out\\" ."]\n'
        'requires = ["build", "flit_core>=3.4,<4"]\n'
    )
    pyproject.write_text(pyproject.read_text() + "\n[tool.pyrel.stages.source]\n" + probe)
    assert run_pyrel("lock", "-C", str(example)).returncode == 0
    failed = run_pyrel("build", "source", "-C", str(example))
    assert failed.returncode == 1
    assert "hermeticity violation (missing-library)" in failed.stderr
    assert "system-exclude = []" in failed.stderr
    assert not (example / "dist" / "source").exists()

    pyproject.write_text(pyproject.read_text() + "system-exclude = []\n")
    assert run_pyrel("lock", "-C", str(example)).returncode == 0
    lock = tomllib.loads((example / "pyrel.lock.toml").read_text())
    assert "trimmed" not in lock["stages"]["source"]
    built = run_pyrel("build", "source", "-C", str(example))
    assert built.returncode == 0, built.stderr
    assert list((example / "dist" / "source").glob("*.tar.gz"))


def test_build_source_exports_the_sdist_reproducibly(example: Path, run_pyrel: Run) -> None:
    completed = run_pyrel("build", "source", "-C", str(example), check=True)
    dist = example / "dist" / "source"
    [sdist] = list(dist.glob("*.tar.gz"))
    assert sdist.name == "hello_pyrel-1.0.0.tar.gz"
    assert _sums(dist) == {sdist.name: hashlib.sha256(sdist.read_bytes()).hexdigest()}
    assert "stage source: success" in completed.stdout
    assert "packages" in completed.stdout
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        assert "hello_pyrel-1.0.0/src/hello/__init__.py" in names
        assert all(member.uid == 0 and member.mtime <= 2**31 for member in archive.getmembers())
    # The derivation rebuilds bit for bit.
    run_pyrel("build", "source", "--check", "-C", str(example), check=True)
    # A second project directory, other environment: same bytes.
    other = example.parent / "elsewhere" / "hello"
    shutil.copytree(example, other, ignore=shutil.ignore_patterns("dist", ".pyrel"))
    run_pyrel("build", "source", "-C", str(other), env={"TZ": "Asia/Tokyo", "LC_ALL": "C.UTF-8"}, check=True)
    assert (other / "dist/source" / sdist.name).read_bytes() == sdist.read_bytes()


def test_stale_lock_is_refused(example: Path, run_pyrel: Run) -> None:
    pyproject = example / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"flit_core>=3.4,<4"', '"flit_core>=3.5,<4"'))
    completed = run_pyrel("build", "source", "-C", str(example))
    assert completed.returncode == 3
    assert "stale" in completed.stderr and "pyrel lock" in completed.stderr
    assert not (example / "dist").exists()


def test_missing_lock_is_refused(example: Path, run_pyrel: Run) -> None:
    (example / "pyrel.lock.toml").unlink()
    completed = run_pyrel("build", "source", "-C", str(example))
    assert completed.returncode == 3
    assert "pyrel lock" in completed.stderr


def test_artifact_with_wrong_sha256_is_rejected(example: Path, run_pyrel: Run) -> None:
    # Point the lock at a different hash for one real package: the download is
    # verified, rejected, and enters neither the cache, the store nor dist/.
    lock_file = example / "pyrel.lock.toml"
    document = tomllib.loads(lock_file.read_text())
    [entry] = [p for p in document["debian"]["packages"] if p["name"] == "zlib1g"]
    real = entry["sha256"]
    forged = hashlib.sha256(b"pyrel forged " + real.encode()).hexdigest()
    lock_file.write_text(lock_file.read_text().replace(real, forged))
    (example / "dist" / "source").mkdir(parents=True)
    (example / "dist" / "source" / "keep.txt").write_text("previous release")
    before = _snapshot(example / "dist")
    completed = run_pyrel("build", "source", "-C", str(example))
    assert completed.returncode == 4, completed.stderr
    assert "sha256 mismatch" in completed.stderr and "zlib1g" in completed.stderr
    assert forged in completed.stderr and real in completed.stderr
    assert _snapshot(example / "dist") == before
    from pywrap.storepath import fixed_output_path, store_name

    forged_path = fixed_output_path(forged, store_name(entry["filename"]))
    assert not os.path.exists(forged_path)


def test_missing_nix_says_how_to_install_it(example: Path, run_pyrel: Run, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "apt-get", "dpkg", "dpkg-deb"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    completed = run_pyrel("build", "source", "-C", str(example), env={"PATH": str(bin_dir)})
    assert completed.returncode == 5
    assert "nix" in completed.stderr and "apt-get install nix-bin" in completed.stderr


def test_not_a_python_project(tmp_path: Path, run_pyrel: Run) -> None:
    completed = run_pyrel("build", "source", "-C", str(tmp_path))
    assert completed.returncode == 2
    assert "not a Python project" in completed.stderr


def test_fetched_artifacts_are_gc_roots_and_a_rebuild_asks_the_store_nothing(example: Path, run_pyrel: Run) -> None:
    from pywrap.execution.fetch import artifact_store_path, artifacts_of, roots_dir
    from pywrap.locking.lockfile import read_lock

    run_pyrel("build", "source", "-C", str(example), check=True)
    locked = {artifact_store_path(artifact) for artifact in artifacts_of(read_lock(example), ["source"])}
    rooted = {os.readlink(link) for link in roots_dir().iterdir()}
    assert locked <= rooted
    # Nix keeps them through a garbage collection: an offline rebuild needs no download.
    dead = set(
        subprocess.run(["nix-store", "--gc", "--print-dead"], capture_output=True, text=True, check=True).stdout.split()
    )
    assert not locked & dead
    # So a build knows them valid without asking the store.
    again = run_pyrel("-v", "build", "source", "-C", str(example), check=True)
    assert "nix-build" in again.stderr
    assert "--check-validity" not in again.stderr


def test_the_sandboxes_bin_sh_is_the_pinned_busybox(example: Path, run_pyrel: Run) -> None:
    # os.system and programs that hard-code /bin/sh work, with the locked busybox-static's binary
    # (the same on every machine: Debian's Nix mounts nothing there, most other Nix builds their own).
    pyproject = example / "pyproject.toml"
    system = "python -c 'import os, sys; sys.exit(os.system(\\\"echo hi > $out/os-system.txt\\\") >> 8)'"
    pyproject.write_text(
        pyproject.read_text() + f'\n[tool.pyrel.stages.shell]\nrun = [\n  "{system}",\n'
        '  "sha256sum /bin/sh > $out/bin-sh.sha256",\n]\noutputs = ["*.txt", "*.sha256"]\n'
    )
    run_pyrel("lock", "-C", str(example), check=True)
    run_pyrel("build", "shell", "-C", str(example), check=True)
    assert (example / "dist/shell/os-system.txt").read_text() == "hi\n"
    statement = json.loads((example / "dist/shell/os-system.txt.intoto.json").read_text())
    # Mounted besides the declared inputs: /bin/sh, and the locked glibc's ELF loader where programs ask for it.
    mounts = dict(
        mount.split("=", 1) for mount in statement["predicate"]["buildDefinition"]["internalParameters"]["sandboxPaths"]
    )
    platform = elf_platform(nix_system(read_lock(example).architecture))
    assert platform is not None
    assert sorted(mounts) == sorted(["/bin/sh", platform.loader_path])
    busybox = mounts["/bin/sh"]
    from pywrap.execution.fetch import BOOTSTRAP_NAME

    assert BOOTSTRAP_NAME in busybox
    assert (example / "dist/shell/bin-sh.sha256").read_text().split()[0] == hashlib.sha256(
        Path(busybox).read_bytes()
    ).hexdigest()


def test_an_unpacked_sdist_rebuilt_without_some_of_its_files_says_which(tmp_path: Path, run_pyrel: Run) -> None:
    """The project is a published sdist (PKG-INFO at its root): a file it shipped that the rebuilt sdist
    lacks (the backend's selection leaves it out) is a file missing from the release, and is named."""
    project = copy_example("hello", tmp_path)
    (project / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: hello-pyrel\nVersion: 1.0.0\n")
    (project / "CHANGES.txt").write_text("1.0.0: first release\n")  # flit_core's sdist leaves it out
    assert run_pyrel("lock", "-C", str(project)).returncode == 0
    built = run_pyrel("build", "source", "-C", str(project))
    assert built.returncode == 0, built.stdout + built.stderr
    said = " ".join((built.stdout + built.stderr).split())
    # flit_core's minimal sdist: the module and its metadata, not the docs, the tests or the changelog.
    assert "the rebuilt sdist lacks 4 of the files of the sdist this project was unpacked from" in said
    assert "CHANGES.txt, docs/conf.py, docs/index.rst, tests/test_hello.py." in said
    assert "[tool.flit.sdist] include" in said
    # Given back to the sdist, nothing is said.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.flit.sdist]\ninclude = ["CHANGES.txt", "docs", "tests"]\n')
    assert run_pyrel("lock", "-C", str(project)).returncode == 0
    rebuilt = run_pyrel("build", "source", "-C", str(project))
    assert rebuilt.returncode == 0 and "rebuilt sdist lacks" not in rebuilt.stdout + rebuilt.stderr
