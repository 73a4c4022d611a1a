"""The Nix library takes the ELF loader and library layout from the plan's system.

A plan from the real planner (a stage with Python and gcc), locked for amd64 or
arm64, is instantiated (`nix-instantiate`, nothing is built: the artifacts need
not exist) and the derivations' environments are read back with
`nix show-derivation`.  The layout is one table, `nix/platforms.json`, which
pyrel reads too: the loader it mounts in the sandbox is where the stage's
derivation says programs find it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pywrap.config.loader import build_project
from pywrap.execution.fetch import Bootstrap, Loader
from pywrap.execution.nixlib import elf_platform
from pywrap.execution.plan import Plan, make_plan
from pywrap.locking.lockfile import DebEntry, Lock, StageLock, stage_fingerprint
from tests.conftest import REPO

pytestmark = pytest.mark.nix
ENTRY = REPO / "nix" / "default.nix"
NIX_COMMAND = ["--extra-experimental-features", "nix-command"]
PYPROJECT = {
    "build-system": {"requires": ["setuptools>=70.1"], "build-backend": "setuptools.build_meta"},
    "project": {"name": "demo"},
}
CBUILD = {"system": ["gcc", "libc6-dev"], "run": ["cc -o $out/hello hello.c"], "outputs": ["hello"]}
BASE = ("libc6", "python3.11-minimal")
GCC = ("binutils", "cpp-12", "gcc", "gcc-12", "libc6-dev")
#: Debian architecture -> what the Nix library must name for it, and what it must never name.
LAYOUTS: dict[str, dict[str, Any]] = {
    "amd64": {
        "system": "x86_64-linux",
        "loader": "ld-linux-x86-64.so.2",
        "triplet": "x86_64-linux-gnu",
        "loaderPath": "/lib64/ld-linux-x86-64.so.2",
        "foreign": ("aarch64",),
    },
    "arm64": {
        "system": "aarch64-linux",
        "loader": "ld-linux-aarch64.so.1",
        "triplet": "aarch64-linux-gnu",
        "loaderPath": "/lib/ld-linux-aarch64.so.1",
        "foreign": ("x86_64", "x86-64", "lib64"),
    },
}


def _plan(project_root: Path, architecture: str) -> Plan:
    (project_root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    project = build_project(project_root, project_root / "pyproject.toml", PYPROJECT, {"stages": {"cbuild": CBUILD}})
    names = sorted({*BASE, *GCC, "busybox-static", "patchelf"})
    stages = tuple(
        StageLock(
            name=stage.name,
            fingerprint=stage_fingerprint(project, stage, "bookworm", architecture),
            system=(*BASE, *GCC) if stage.name == "cbuild" else BASE,
            python_lock="",
            python_lock_sha256="",
        )
        for stage in project.stages
    )
    packages = tuple(
        DebEntry(
            name=name,
            version="1.0-1",
            architecture=architecture,
            sha256=f"{index:064x}",
            size=10,
            filename=f"{name}_1.0-1_{architecture}.deb",
            url=f"http://mirror.invalid/{name}.deb",
        )
        for index, name in enumerate(names, start=1)
    )
    lock = Lock(
        provider="debian",
        suite="bookworm",
        architecture=architecture,
        python_version="3.11",
        python_full_version="3.11.2",
        glibc="2.36",
        bootstrap=("busybox-static", "libc6", "patchelf"),
        packages=packages,
        stages=stages,
    )
    platform = elf_platform(LAYOUTS[architecture]["system"])
    assert platform is not None
    loader = Loader("pyrel-bootstrap-loader", "1" * 52, "", platform.loader, platform.loader_path)
    return make_plan(
        project,
        lock,
        ["cbuild"],
        bootstrap=Bootstrap("pyrel-bootstrap-busybox", "0" * 52, ""),
        source_files=["pyproject.toml"],
        source_date_epoch=315532800,
        loader=loader,
    )


def _derivations(plan: Plan, project_root: Path, attribute: str) -> dict[str, dict[str, Any]]:
    """The stage's derivation and every derivation it depends on, as `nix show-derivation` prints them."""
    plan_file = project_root / "plan.json"
    plan_file.write_text(json.dumps(plan))
    [drv] = subprocess.run(
        [
            "nix-instantiate",
            str(ENTRY),
            "-A",
            attribute,
            "--argstr",
            "planFile",
            str(plan_file),
            "--argstr",
            "projectRoot",
            str(project_root),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    shown = subprocess.run(
        ["nix", *NIX_COMMAND, "show-derivation", "--recursive", drv], capture_output=True, text=True, check=True
    ).stdout
    derivations: dict[str, dict[str, Any]] = json.loads(shown)
    return derivations


def _root(derivations: dict[str, dict[str, Any]]) -> dict[str, str]:
    [env] = [d["env"] for d in derivations.values() if d["env"].get("name", "").startswith("pyrel-root-")]
    return dict(env)


@pytest.mark.parametrize("architecture", sorted(LAYOUTS))
def test_the_root_builder_gets_the_loader_and_triplet_of_the_plans_system(tmp_path: Path, architecture: str) -> None:
    layout = LAYOUTS[architecture]
    plan = _plan(tmp_path, architecture)
    assert plan["system"] == layout["system"]
    derivations = _derivations(plan, tmp_path, "cbuild")
    root = _root(derivations)
    triplet = layout["triplet"]
    assert root["elfLoader"] == layout["loader"]
    assert root["multiarch"] == triplet
    assert root["libraryDirs"] == f"lib/{triplet} usr/lib/{triplet} lib usr/lib"
    assert root["compilerLibDir"] == f"usr/lib/gcc/{triplet}/12"
    # The stage names the locked loader pyrel mounts, where programs of that system ask for it.
    [stage] = [d["env"] for d in derivations.values() if d["env"].get("name") == "demo-cbuild"]
    loader_path = layout["loaderPath"]
    assert stage["pyrelLoaderPath"] == loader_path
    assert stage["sandboxLoader"].endswith(f"-pyrel-bootstrap-loader/{layout['loader']}")
    assert stage["pyrelLibraryPath"].split(":")[:2] == [
        f"{stage['root']}/lib/{triplet}",
        f"{stage['root']}/usr/lib/{triplet}",
    ]
    assert stage["PKG_CONFIG_LIBDIR"].split(":")[0] == f"{stage['root']}/usr/lib/{triplet}/pkgconfig"
    platform = elf_platform(layout["system"])
    assert platform is not None and platform.loader_path == loader_path
    # Every derivation pyrel's library makes for the stage is for the plan's system.
    assert {d["system"] for d in derivations.values()} <= {layout["system"], "builtin"}
    for path, derivation in derivations.items():
        env = dict(derivation["env"])
        # The planner drops both architectures' gconv directories (DROPPED_DIRS): a
        # path that does not exist in the other architecture's packages.
        env.pop("dropDirs", None)
        text = json.dumps([env, derivation["args"], derivation["builder"]])
        for foreign in layout["foreign"]:
            assert foreign not in text, f"{path} names {foreign}: {text}"


def test_a_system_without_a_known_loader_is_refused_by_name(tmp_path: Path) -> None:
    plan = {**_plan(tmp_path, "amd64"), "system": "riscv64-linux"}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    completed = subprocess.run(
        [
            "nix-instantiate",
            str(ENTRY),
            "-A",
            "cbuild",
            "--argstr",
            "planFile",
            str(plan_file),
            "--argstr",
            "projectRoot",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "no ELF loader layout known for system 'riscv64-linux'" in completed.stderr
    assert "aarch64-linux, x86_64-linux" in completed.stderr


def test_no_builder_or_tool_hard_codes_an_architecture() -> None:
    """The layout lives in nix/platforms.json only (comments may name examples)."""
    pattern = re.compile(r"x86_64|x86-64|aarch64|arm64|amd64|ld-linux|lib64")
    files = [
        *sorted((REPO / "nix" / "builders").glob("*.sh")),
        *sorted((REPO / "nix" / "builders").glob("*.py")),
        *sorted((REPO / "nix" / "tools").glob("*.py")),
        *sorted((REPO / "nix").glob("*.nix")),
        *sorted((REPO / "nix" / "doctor").glob("*.nix")),
    ]
    found = []
    for path in files:
        in_table = False
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if path.name == "lib.nix":
                # The table itself, and the default system of `import nix/lib.nix { }`.
                in_table = in_table or code.strip().startswith("platforms = {")
                if in_table:
                    in_table = code.strip() != "};"
                    continue
                if code.strip() == '{ system ? "x86_64-linux" }:':
                    continue
            if pattern.search(code):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
