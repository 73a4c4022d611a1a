"""The wheel stage end to end: built from the sdist in the sandbox, reproducible, checked, and what test installs.

The bundled example (pure Python, flit_core), the C fixture `tests/packages/c-extension` (a manylinux wheel;
its test stage without a compiler), and `tests/packages/wheel-policy` (a C extension linking libsqlite3,
which no manylinux policy allows: refused by name, or vendored with `repair = true`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pywrap.config.loader import load_project
from tests.conftest import copy_example

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]
PACKAGES = Path(__file__).resolve().parent.parent / "packages"
EPOCH = 1700000000
#: Debian packages only a compiler brings (gcc-12-base and libgcc-s1 are runtime libraries every root has).
COMPILER_PACKAGES = ("gcc", "gcc-12", "cpp-12", "binutils", "libc6-dev", "libpython3.11-dev", "libpython3-dev")


def _pyrel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pywrap", *args], capture_output=True, text=True, check=False)


def _locked_copy(source: Path, destination: Path, extra_config: str = "") -> Path:
    project = destination / source.name
    shutil.copytree(
        source,
        project,
        ignore=shutil.ignore_patterns(
            "dist", "build", ".pyrel", "pylock.*.toml", "pyrel.lock.toml", "__pycache__", "*.egg-info"
        ),
    )
    if extra_config:
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + extra_config)
    locked = _pyrel("lock", "-C", str(project))
    assert locked.returncode == 0, locked.stderr
    return project


def _sums(dist: Path) -> dict[str, str]:
    lines = (dist / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def _record_is_valid(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [record] = [name for name in archive.namelist() if name.endswith(".dist-info/RECORD")]
        rows = list(csv.reader(io.StringIO(archive.read(record).decode())))
        # Every file is listed (auditwheel repair also writes directory entries, which RECORD never lists).
        assert {row[0] for row in rows} == {name for name in archive.namelist() if not name.endswith("/")}
        for name, digest, size in rows:
            if name == record:
                continue
            data = archive.read(name)
            expected = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (expected, len(data)), name


def _manylinux_tag(project: Path) -> str:
    """What the lock says the stage's libc allows: manylinux_<glibc>_<machine> (bookworm: manylinux_2_36_x86_64)."""
    debian = tomllib.loads((project / "pyrel.lock.toml").read_text())["debian"]
    machine = {"amd64": "x86_64", "arm64": "aarch64"}[debian["architecture"]]
    return f"manylinux_{debian['glibc'].replace('.', '_')}_{machine}"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example("hello", tmp_path_factory.mktemp("wheel-example"))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"\n[tool.pyrel]\nsource-date-epoch = {EPOCH}\n")
    assert _pyrel("lock", "-C", str(project)).returncode == 0
    built = _pyrel("build", "all", "-C", str(project))
    assert built.returncode == 0, built.stdout + built.stderr
    return project


def test_the_example_builds_a_normalized_wheel_from_its_sdist_exported_with_sha256sums(example: Path) -> None:
    dist = example / "dist" / "wheel"
    [wheel] = list(dist.glob("*.whl"))
    assert wheel.name == "hello_pyrel-1.0.0-py3-none-any.whl"
    assert _sums(dist) == {
        name: hashlib.sha256((dist / name).read_bytes()).hexdigest() for name in (wheel.name, "wheel-checks.json")
    }
    assert (dist / f"{wheel.name}.intoto.json").is_file()  # attested like every exported file
    checks = json.loads((dist / "wheel-checks.json").read_text())
    assert checks["wheel"] == wheel.name and checks["sha256"] == _sums(dist)[wheel.name]
    assert checks["sdist"] == "hello_pyrel-1.0.0.tar.gz" and checks["upload-check"]["passed"]
    assert "manylinux" not in checks  # pure Python: nothing for auditwheel
    _record_is_valid(wheel)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert names == sorted(names, key=lambda name: (name.split("/")[0].endswith(".dist-info"), name))
        assert {info.date_time for info in archive.infolist()} == {time.gmtime(EPOCH)[:6]}
        assert {info.external_attr >> 16 for info in archive.infolist()} == {0o100644}
    # The backend is the wheel stage's: flit_core is in its pylock.
    pylock = tomllib.loads((example / "pylock.wheel.toml").read_text())
    assert {"flit-core", "readme-renderer", "packaging"} <= {package["name"] for package in pylock["packages"]}


def test_the_wheel_is_byte_identical_on_rebuild(example: Path, tmp_path: Path) -> None:
    [wheel] = list((example / "dist" / "wheel").glob("*.whl"))
    verified = _pyrel("verify", "wheel", "--json", "-C", str(example))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert [stage["verdict"] for stage in json.loads(verified.stdout)["stages"]] == ["reproducible"]
    # Another checkout, another environment: the same bytes.
    other = tmp_path / "hello"
    shutil.copytree(example, other, ignore=shutil.ignore_patterns("dist", ".pyrel"))
    rebuilt = subprocess.run(
        [sys.executable, "-m", "pywrap", "build", "wheel", "-C", str(other)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TZ": "Asia/Tokyo", "LC_ALL": "C.UTF-8"},
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (other / "dist" / "wheel" / wheel.name).read_bytes() == wheel.read_bytes()


def test_the_wheel_stage_reads_the_sdist_alone(example: Path) -> None:
    """Its sandbox holds the source stage's sdist and no copy of the project's tree (PyPA's sdist -> wheel
    route: a file the sdist lacks cannot reach the wheel); the source stage's sandbox has the tree."""
    audited = _pyrel("audit", "source", "wheel", "--json", "-C", str(example))
    assert audited.returncode == 0, audited.stderr
    stages = {stage["name"]: stage["sandbox"]["generated"] for stage in json.loads(audited.stdout)["stages"]}
    roles = {name: {path["role"] for path in generated} for name, generated in stages.items()}
    assert "source" in roles["source"] and "source" not in roles["wheel"], roles
    [sdist_stage] = [path["path"] for path in stages["wheel"] if path["role"] == "stage-output"]
    assert sdist_stage.endswith("-hello-pyrel-source")


def test_docs_and_test_install_the_released_wheel_without_the_backend(example: Path) -> None:
    [wheel] = list((example / "dist" / "wheel").glob("*.whl"))
    installed = json.loads((example / "dist" / "test" / "installed-wheel.json").read_text())
    # The test stage tested exactly the exported wheel: its hash, and every installed file against RECORD.
    assert installed["wheel"] == wheel.name
    assert installed["sha256"] == _sums(example / "dist" / "wheel")[wheel.name]
    assert installed["distribution"] == "hello-pyrel" and installed["files-checked"] >= 1
    assert "installed-wheel.json" in _sums(example / "dist" / "test")
    for stage in ("docs", "test"):
        pylock = tomllib.loads((example / f"pylock.{stage}.toml").read_text())
        assert "flit-core" not in {package["name"] for package in pylock["packages"]}, stage
    inputs = {stage.name: stage.inputs for stage in load_project(example).stages}
    assert inputs == {"source": (), "wheel": ("source",), "docs": ("wheel",), "test": ("source", "wheel")}
    audit = _pyrel("audit", "test", "--json", "-C", str(example))
    assert audit.returncode == 0, audit.stderr
    # The audit lists the stage and those it reads.
    closures = {stage["name"]: stage["sandbox"] for stage in json.loads(audit.stdout)["stages"]}
    names = {component["name"] for component in closures["test"]["components"]}
    assert "pytest" in names and "flit-core" not in names and not set(COMPILER_PACKAGES) & names
    print(f"test stage sandbox closure: {closures['test']['packages']} packages")  # the README's figure


@pytest.fixture(scope="module")
def c_extension(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = _locked_copy(PACKAGES / "c-extension", tmp_path_factory.mktemp("wheel-c"))
    built = _pyrel("build", "wheel", "test", "-C", str(project))
    assert built.returncode == 0, built.stdout + built.stderr
    return project


def test_a_c_project_gets_a_manylinux_wheel_and_a_test_stage_without_a_compiler(c_extension: Path) -> None:
    tag = _manylinux_tag(c_extension)
    dist = c_extension / "dist" / "wheel"
    [wheel] = list(dist.glob("*.whl"))
    assert wheel.name == f"cext_demo-1.0.0-cp311-cp311-{tag}.whl"
    _record_is_valid(wheel)
    with zipfile.ZipFile(wheel) as archive:
        [wheel_file] = [name for name in archive.namelist() if name.endswith(".dist-info/WHEEL")]
        assert f"Tag: cp311-cp311-{tag}" in archive.read(wheel_file).decode().splitlines()
        assert [name for name in archive.namelist() if name.endswith(".so")]
    checks = json.loads((dist / "wheel-checks.json").read_text())
    assert checks["manylinux"]["policy"] == tag and checks["manylinux"]["libraries-outside-policy"] == []
    assert checks["manylinux"]["repaired"] is False
    lock = tomllib.loads((c_extension / "pyrel.lock.toml").read_text())["stages"]
    assert "gcc" in lock["wheel"]["system"]
    for stage in ("test", "source"):
        assert not set(COMPILER_PACKAGES) & set(lock[stage]["system"]), stage
    pylock = tomllib.loads((c_extension / "pylock.test.toml").read_text())
    assert not {"setuptools", "auditwheel"} & {package["name"] for package in pylock["packages"]}
    installed = json.loads((c_extension / "dist" / "test" / "installed-wheel.json").read_text())
    assert (installed["wheel"], installed["sha256"]) == (wheel.name, _sums(dist)[wheel.name])
    assert "3 passed" in (c_extension / "dist" / "test" / "pytest.log").read_text()


def test_a_wheel_linking_a_library_outside_the_policy_fails_naming_it_unless_repaired(tmp_path: Path) -> None:
    project = _locked_copy(PACKAGES / "wheel-policy", tmp_path)
    tag = _manylinux_tag(project)
    refused = _pyrel("build", "wheel", "-C", str(project))
    assert refused.returncode == 1
    assert f"does not satisfy the {tag} policy" in refused.stderr
    assert "it loads libsqlite3.so.0 from the system" in refused.stderr
    assert "repair = true" in refused.stderr
    assert not (project / "dist" / "wheel").exists()

    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "repair = true\n")
    assert _pyrel("lock", "-C", str(project)).returncode == 0
    repaired = _pyrel("build", "wheel", "-C", str(project))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    [wheel] = list((project / "dist" / "wheel").glob("*.whl"))
    assert wheel.name == f"sqlite_demo-1.0.0-cp311-cp311-{tag}.whl"
    checks = json.loads((project / "dist" / "wheel" / "wheel-checks.json").read_text())["manylinux"]
    assert checks["repaired"] is True and checks["libraries-outside-policy"] == ["libsqlite3.so.0"]
    [vendored] = [name for name in checks["vendored"] if "libsqlite3" in name]
    assert vendored.startswith("sqlite_demo.libs/")
    with zipfile.ZipFile(wheel) as archive:
        assert vendored in archive.namelist()
    _record_is_valid(wheel)


def test_a_readme_that_would_not_render_fails_the_upload_check(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    (project / "README.rst").write_text("hello\n=====\n\nA `broken reference\n")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('readme = "README.md"', 'readme = "README.rst"'))
    assert _pyrel("lock", "-C", str(project)).returncode == 0
    failed = _pyrel("build", "wheel", "-C", str(project))
    assert failed.returncode == 1
    assert "would be refused on upload" in failed.stderr
    assert "reStructuredText errors" in failed.stderr and "end-string" in failed.stderr
    assert 'upload-check = "warn" in [tool.pyrel.stages.wheel]' in " ".join(failed.stderr.split())

    # A release already on the index, built again: upload-check = "warn" records the problems; the stage
    # succeeds, says so, and the publish job's gate refuses the wheel.
    pyproject.write_text(pyproject.read_text() + '\n[tool.pyrel.stages.wheel]\nupload-check = "warn"\n')
    assert _pyrel("lock", "-C", str(project)).returncode == 0
    warned = _pyrel("build", "source", "wheel", "-C", str(project))
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "upload-check" in " ".join((warned.stdout + warned.stderr).split())
    checks = json.loads((project / "dist" / "wheel" / "wheel-checks.json").read_text())
    assert checks["upload-check"]["passed"] is False and not checks["upload-check"]["enforced"]
    assert any("reStructuredText errors" in problem for problem in checks["upload-check"]["problems"])
    verified = _pyrel("verify", "--artifacts", str(project / "dist"))
    assert verified.returncode == 11, verified.stdout + verified.stderr
    assert "failed the upload checks" in " ".join((verified.stdout + verified.stderr).split())
