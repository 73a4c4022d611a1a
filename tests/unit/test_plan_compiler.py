"""The plan gives a stage whose locked system packages include gcc a hardened build environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pywrap.config.loader import build_project
from pywrap.execution.fetch import Bootstrap
from pywrap.execution.plan import Plan, StagePlan, c_compiler, compiler_env, make_plan
from pywrap.locking.lockfile import DebEntry, Lock, StageLock, stage_fingerprint

ROOT = Path("/project")
PYPROJECT = ROOT / "pyproject.toml"
#: The backend pyrel's in-sandbox frontend calls, in every Python stage's environment.
BACKEND_ENV = {"PYREL_BUILD_BACKEND": "setuptools.build_meta", "PYREL_BACKEND_PATH": "[]"}
SETUPTOOLS = {
    "build-system": {"requires": ["setuptools>=70.1"], "build-backend": "setuptools.build_meta"},
    "project": {"name": "demo"},
}
BASE = ("busybox-static", "libc6", "patchelf", "python3.11-minimal")
GCC = ("binutils", "cpp-12", "gcc", "gcc-12", "libc6-dev", "libpython3.11-dev")
HARDENING = ("-O2", "-D_FORTIFY_SOURCE=3", "-fstack-protector-strong", "-fstack-clash-protection")


def _deb(name: str) -> DebEntry:
    return DebEntry(
        name=name,
        version="1.0-1",
        architecture="amd64",
        sha256="a" * 64,
        size=10,
        filename=f"{name}_1.0-1_amd64.deb",
        url=f"http://mirror.invalid/{name}.deb",
    )


def _plan(config: dict[str, Any], systems: dict[str, tuple[str, ...]], architecture: str = "amd64") -> Plan:
    project = build_project(ROOT, PYPROJECT, SETUPTOOLS, config)
    names = sorted({*BASE, *(name for system in systems.values() for name in system)})
    stages = tuple(
        StageLock(
            name=stage.name,
            fingerprint=stage_fingerprint(project, stage, "bookworm", architecture),
            system=systems.get(stage.name, ("libc6", "python3.11-minimal")),
            python_lock="",
            python_lock_sha256="",
        )
        for stage in project.stages
    )
    lock = Lock(
        provider="debian",
        suite="bookworm",
        architecture=architecture,
        python_version="3.11",
        python_full_version="3.11.2",
        glibc="2.36",
        bootstrap=("busybox-static", "libc6", "patchelf"),
        packages=tuple(_deb(name) for name in names),
        stages=stages,
    )
    return make_plan(
        project,
        lock,
        [stage.name for stage in project.stages],
        bootstrap=Bootstrap("bb", "0" * 52, "/nix/store/x-bb"),
        source_files=["pyproject.toml"],
        source_date_epoch=1700000000,
    )


def _stage(plan: Plan, name: str) -> StagePlan:
    [stage] = [stage for stage in plan["stages"] if stage["name"] == name]
    return stage


CBUILD = {
    "system": ["gcc", "libc6-dev", "libpython3.11-dev"],
    "run": ["python setup.py build_ext"],
    "outputs": ["*.so"],
}


def test_a_stage_with_gcc_gets_the_hardening_baseline() -> None:
    plan = _plan({"stages": {"cbuild": CBUILD}}, {"cbuild": ("libc6", "python3.11-minimal", *GCC)})
    stage = _stage(plan, "cbuild")
    assert stage["compiler"] == {"cc": "gcc-12", "cxx": "", "libDir": "usr/lib/gcc/x86_64-linux-gnu/12"}
    cflags = stage["env"]["CFLAGS"].split()
    assert all(flag in cflags for flag in (*HARDENING, "-fcf-protection", "-grecord-gcc-switches"))
    # Another level predefined by a toolchain would otherwise clash with ours.
    assert cflags.index("-U_FORTIFY_SOURCE") < cflags.index("-D_FORTIFY_SOURCE=3")
    assert stage["env"]["LDFLAGS"] == "-Wl,-z,relro,-z,now"
    # CC, CXX and LDSHARED name a store path: the Nix library sets them, not the plan.
    assert not {"CC", "CXX", "LDSHARED", "CXXFLAGS"} & set(stage["env"])
    [toolchain] = [t for t in plan["toolchains"] if t["id"] == stage["toolchain"]]
    assert toolchain["compiler"] == stage["compiler"]


def test_stages_without_a_compiler_are_unchanged() -> None:
    plan = _plan({"stages": {"cbuild": CBUILD}}, {"cbuild": ("libc6", "python3.11-minimal", *GCC)})
    source = _stage(plan, "source")
    assert source["compiler"] is None
    assert source["env"] == BACKEND_ENV
    assert all(t["compiler"] is None for t in plan["toolchains"] if t["id"] == source["toolchain"])


def test_the_stage_env_overrides_the_compiler_defaults() -> None:
    config = {"stages": {"cbuild": {**CBUILD, "env": {"CFLAGS": "-O0 -g", "EXTRA": "1"}}}}
    stage = _stage(_plan(config, {"cbuild": ("libc6", *GCC)}), "cbuild")
    assert stage["env"] == {**BACKEND_ENV, "CFLAGS": "-O0 -g", "LDFLAGS": "-Wl,-z,relro,-z,now", "EXTRA": "1"}


def test_cxx_needs_the_same_gcc_version() -> None:
    assert c_compiler(["gcc-12", "g++-12", "gcc-13"], "amd64") == {
        "cc": "gcc-13",
        "cxx": "",
        "libDir": "usr/lib/gcc/x86_64-linux-gnu/13",
    }
    assert c_compiler(["gcc-12", "g++-12", "cpp-12"], "arm64") == {
        "cc": "gcc-12",
        "cxx": "g++-12",
        "libDir": "usr/lib/gcc/aarch64-linux-gnu/12",
    }
    # gcc-12-base holds only docs; cpp alone is no compiler.
    assert c_compiler(["gcc-12-base", "cpp-12", "libgcc-s1"], "amd64") is None


def test_control_flow_protection_is_per_architecture() -> None:
    amd64 = compiler_env("amd64", cxx=True)
    arm64 = compiler_env("arm64", cxx=False)
    assert "-fcf-protection" in amd64["CFLAGS"].split()
    assert "-D_GLIBCXX_ASSERTIONS" in amd64["CXXFLAGS"].split()
    assert "-D_GLIBCXX_ASSERTIONS" not in amd64["CFLAGS"].split()
    assert "-mbranch-protection=standard" in arm64["CFLAGS"].split()
    assert "-fcf-protection" not in arm64["CFLAGS"]
    assert "CXXFLAGS" not in arm64
    assert compiler_env("riscv64", cxx=False)["CFLAGS"].split()[:1] == ["-O2"]
