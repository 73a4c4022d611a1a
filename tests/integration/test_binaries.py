"""Binaries run where they are used, proved in the sandbox (tests/packages/binaries).

* a wheel's manylinux programs start as themselves: ninja's (its wheel's
  ``.data/scripts``, and by path from ``ninja.BIN_DIR``) and cmake's (exec'd by
  its Python package from ``cmake.CMAKE_BIN_DIR``; it finds its modules beside
  ``/proc/self/exe``), with the C++ runtime `pyrel lock` adds for them;
* a program the stage compiles runs there: a C program linking zlib, found with
  pkg-config in the stage's root; a C++ program catching an exception thrown in
  a shared object (the link keeps ``--eh-frame-hdr``); CMake's configure checks
  that compile *and run* programs (``check_c_source_runs``, ``try_run``), ninja
  and ctest; meson's sanity check and ``cc.run()``, ``dependency('zlib')`` and
  ``meson test``, with meson and ninja from wheels and with Debian's meson,
  ninja-build and cmake;
* the loader they get is the locked glibc's, mounted where they ask for it: the
  stage's derivation names it, the audit counts it (role ``loader``, libc6), the
  provenance records the mount, and an exported program asks for the standard
  loader with no store path in it;
* a program that cannot start is said in plain words (``binary-cannot-run``): a
  library the root lacks (with the Debian package to declare), a loader the
  sandbox lacks (read from the program in the store), another machine's program.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pywrap.execution.hermeticity import classify, program_interpreter
from pywrap.execution.nixlib import elf_platform, nix_system

pytestmark = [pytest.mark.nix, pytest.mark.network]
REPO = Path(__file__).resolve().parent.parent.parent
FIXTURE = Path(__file__).resolve().parent.parent / "packages" / "binaries"
BUILT = ["wheel-programs", "compiled", "cxx-exceptions", "cmake-project", "meson-wheels", "debian-tools"]
NIX_COMMAND = ["--extra-experimental-features", "nix-command"]
PT_NOTE, PT_GNU_EH_FRAME = 4, 0x6474E550


def _segments(path: Path) -> set[int]:
    """The program header types of a 64-bit little-endian ELF file."""
    data = path.read_bytes()
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return {struct.unpack_from("<I", data, phoff + index * phentsize)[0] for index in range(phnum)}


def _pyrel(*args: str, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pywrap", *args, "-C", str(project)], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("binaries") / "binaries"
    shutil.copytree(FIXTURE, root)
    locked = _pyrel("lock", project=root)
    assert locked.returncode == 0, locked.stderr
    return root


@pytest.fixture(scope="module")
def built(project: Path) -> dict[str, Any]:
    completed = _pyrel("build", *BUILT, "--json", project=project)
    assert completed.returncode == 0, f"{completed.stdout}\n{completed.stderr}"
    report: dict[str, Any] = json.loads(completed.stdout)
    return {stage["stage"]: stage for stage in report["stages"]}


@pytest.fixture(scope="module")
def lock(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyrel.lock.toml").read_text())


@pytest.fixture(scope="module")
def loader_path(lock: dict[str, Any]) -> str:
    platform = elf_platform(nix_system(lock["debian"]["architecture"]))
    assert platform is not None
    return platform.loader_path


def test_a_wheels_manylinux_programs_start_as_themselves(
    built: dict[str, Any], project: Path, lock: dict[str, Any]
) -> None:
    dist = project / "dist" / "wheel-programs"
    on_path, by_bin_dir = (dist / "ninja.txt").read_text().splitlines()
    assert on_path == by_bin_dir and on_path[0].isdigit()  # `ninja --version`, twice
    version, echoed = (dist / "cmake.txt").read_text().splitlines()
    assert version.startswith("cmake version ") and echoed == "cmake runs"
    # ninja's and cmake's programs are C++: the lock gives the stage the runtime they load.
    assert {"libstdc++6", "libgcc-s1", "libc6"} <= set(lock["stages"]["wheel-programs"]["system"])


def test_a_program_compiled_in_the_stage_runs_there_and_pkg_config_finds_the_roots_zlib(
    built: dict[str, Any], project: Path, loader_path: str
) -> None:
    dist = project / "dist" / "compiled"
    version, flags = (dist / "pkg-config.txt").read_text().splitlines()
    assert (dist / "z.txt").read_text() == f"zlib {version}\n"
    # The root's system directories are left out of pkg-config's answer, as on a Debian system.
    assert flags.split() == ["-lz"]
    # The exported program is what a Debian system builds: the standard loader, no store path.
    program = dist / "z"
    assert program_interpreter(str(program)) == loader_path
    assert b"/nix/store/" not in program.read_bytes()


def test_a_cpp_exception_thrown_in_a_shared_object_is_caught(built: dict[str, Any], project: Path) -> None:
    dist = project / "dist" / "cxx-exceptions"
    assert (dist / "caught.txt").read_text() == "caught: thrown in the library\n"
    # What the unwinder needs (PT_GNU_EH_FRAME, from --eh-frame-hdr) and a build id, as Debian's gcc links.
    for name in ("libthrower.so", "catcher"):
        segments = _segments(dist / name)
        assert PT_GNU_EH_FRAME in segments and PT_NOTE in segments, name
        assert b"/nix/store/" not in (dist / name).read_bytes()


def test_meson_from_wheels_and_debians_meson_ninja_and_cmake_configure_build_and_test(
    built: dict[str, Any], project: Path
) -> None:
    for setup in (
        project / "dist" / "meson-wheels" / "setup.log",
        project / "dist" / "debian-tools" / "meson-setup.log",
    ):
        log = setup.read_text()
        assert 'Checking if "a compiled program runs" runs: YES' in log
        assert "Run-time dependency zlib found: YES" in log
    assert "Ok:                1" in (project / "dist" / "meson-wheels" / "test.log").read_text()
    assert "Fail:               0" in (project / "dist" / "debian-tools" / "meson-test.log").read_text()
    assert "try_run says: ran" in (project / "dist" / "debian-tools" / "cmake-configure.log").read_text()
    assert "100% tests passed" in (project / "dist" / "debian-tools" / "ctest.log").read_text()


def test_cmake_checks_that_run_programs_pass_and_ninja_and_ctest_run(built: dict[str, Any], project: Path) -> None:
    dist = project / "dist" / "cmake-project"
    configure = (dist / "configure.log").read_text()
    assert "Performing Test POINTERS_ARE_64_BIT - Success" in configure
    assert "try_run says: ran" in configure
    assert (dist / "demo.txt").read_text() == "probe: ran\n"
    assert "100% tests passed" in (dist / "ctest.log").read_text()


def test_the_stage_names_the_loader_the_audit_counts_it_and_the_provenance_records_its_mount(
    built: dict[str, Any], project: Path, loader_path: str
) -> None:
    # The derivation names the mounted loader (a declared input).
    drv = subprocess.run(
        ["nix-store", "--query", "--deriver", built["wheel-programs"]["store-path"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shown = json.loads(
        subprocess.run(["nix", *NIX_COMMAND, "show-derivation", drv], capture_output=True, text=True, check=True).stdout
    )
    [env] = [derivation["env"] for derivation in shown.values()]
    loader = env["sandboxLoader"]
    assert loader.split("/")[3].endswith("-pyrel-bootstrap-loader") and env["pyrelLoaderPath"] == loader_path
    # The audit shows what the stage could load: the loader (libc6's) and the root's C++ runtime.
    audited = _pyrel("audit", "--json", project=project)
    assert audited.returncode == 0, audited.stderr
    [stage] = [s for s in json.loads(audited.stdout)["stages"] if s["name"] == "wheel-programs"]
    sandbox = stage["sandbox"]
    [loader_entry] = [entry for entry in sandbox["store-paths"] if entry["role"] == "loader"]
    assert loader.startswith(loader_entry["path"])
    names = {component["name"] for component in sandbox["components"]}
    assert {"libc6", "libstdc++6", "libgcc-s1", "ninja", "cmake"} <= names
    # The provenance of what the stage made records the mount beside /bin/sh's.
    statement = json.loads((project / "dist" / "wheel-programs" / "ninja.txt.intoto.json").read_text())
    parameters = statement["predicate"]["buildDefinition"]["internalParameters"]
    assert f"{loader_path}={loader}" in parameters["sandboxPaths"]
    dependencies = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert any(dependency["name"].startswith("libc6_") for dependency in dependencies)


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        (
            "missing-library",
            [
                "could not start: it loads 'libyaml-0.so.2'",
                "add 'libyaml-0-2' to [stages.missing-library].system",
            ],
        ),
        ("other-loader", ["exists but could not start: it asks for '/lib/ld-musl-test.so.1'"]),
        ("foreign-program", ["the stage ran './foreign', which this machine cannot execute"]),
    ],
)
def test_a_program_that_cannot_start_is_said_in_plain_words(project: Path, stage: str, words: list[str]) -> None:
    completed = _pyrel("build", stage, "--json", project=project)
    assert completed.returncode == 1, completed.stderr
    [result] = [s for s in json.loads(completed.stdout)["stages"] if s["stage"] == stage]
    assert result["status"] == "failed"
    [violation] = result["hermeticity-violations"]
    assert violation["kind"] == "binary-cannot-run"
    for text in words:
        assert text in violation["explanation"]


def test_without_the_loader_mount_the_stage_says_so_and_the_finding_names_it(
    built: dict[str, Any], project: Path, loader_path: str
) -> None:
    """What a Nix that ignores pyrel's sandbox-paths (its daemon, for a user it does not trust) does: the
    stage rebuilt (``--check``) with /bin/sh mounted but not the loader."""
    planned = _pyrel("build", "wheel-programs", project=project)  # built already: this writes its plan again
    assert planned.returncode == 0, planned.stderr
    plan = json.loads((project / ".pyrel" / "plan.json").read_text())
    shell = (
        subprocess.run(
            [
                "nix-instantiate",
                "--eval",
                "--json",
                str(REPO / "nix" / "default.nix"),
                "-A",
                "wheel-programs.sandboxShell",
                "--argstr",
                "planFile",
                str(project / ".pyrel" / "plan.json"),
                "--argstr",
                "projectRoot",
                str(project),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .strip('"')
    )
    assert plan["loader"] is not None
    completed = subprocess.run(
        [
            "nix-build",
            str(REPO / "nix" / "default.nix"),
            "-A",
            "wheel-programs",
            "--check",
            "--no-out-link",
            "--option",
            "sandbox",
            "true",
            "--option",
            "sandbox-paths",
            f"/bin/sh={shell}",
            "--option",
            "substituters",
            "",
            "--argstr",
            "planFile",
            str(project / ".pyrel" / "plan.json"),
            "--argstr",
            "projectRoot",
            str(project),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert f"pyrel: this sandbox has no ELF loader at {loader_path}" in completed.stderr
    findings = classify(completed.stderr, "wheel-programs", interpreter_of=program_interpreter)
    assert findings and findings[0].kind == "binary-cannot-run"
    assert "trusted-users" in findings[0].explanation
