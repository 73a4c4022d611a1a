"""The Nix library reads the plan's schema version it knows and refuses any other,
with either provider's entry file, before it reads another field."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pywrap.execution.plan import PLAN_SCHEMA_VERSION
from tests.conftest import REPO

pytestmark = pytest.mark.nix
NIX = REPO / "nix"


def _plan() -> dict[str, object]:
    stage: dict[str, object] = {
        "name": "source",
        "derivationName": "demo-source",
        "toolchain": "t",
        "python": "",
        "wheels": [],
        "inputs": [],
        "pathDirs": [],
        "compiler": None,
        "env": {},
        "sourceDateEpoch": 315532800,
        "run": ["true"],
        "outputs": [],
    }
    return {
        "schemaVersion": PLAN_SCHEMA_VERSION,
        "system": "x86_64-linux",
        "sourceFiles": ["pyrel.toml"],
        "bootstrap": {"storeName": "pyrel-bootstrap-busybox", "narHash": "0" * 52},
        "patchelf": [],
        "toolchains": [{"id": "t", "debs": [], "python": "", "compiler": None, "compile": [], "drop": []}],
        "nixpkgs": {"path": str(REPO / "tests" / "packages" / "nixpkgs-fixture")},
        "stages": [{**stage, "nixpkgs": ["busybox"]}],
    }


def _instantiate(entry: str, plan: dict[str, object], project: Path) -> subprocess.CompletedProcess[str]:
    (project / "pyrel.toml").write_text("")
    plan_file = project / "plan.json"
    plan_file.write_text(json.dumps(plan))
    return subprocess.run(
        [
            "nix-instantiate",
            str(NIX / entry),
            "-A",
            "source",
            "--argstr",
            "planFile",
            str(plan_file),
            "--argstr",
            "projectRoot",
            str(project),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_nix_library_reads_the_planners_schema_version() -> None:
    completed = subprocess.run(
        ["nix-instantiate", "--eval", "--json", "--expr", f"(import {NIX / 'lib.nix'} {{ }}).planSchemaVersion"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(completed.stdout) == PLAN_SCHEMA_VERSION


@pytest.mark.parametrize("entry", ["default.nix", "nixpkgs.nix"])
def test_a_plan_of_the_known_version_instantiates(tmp_path: Path, entry: str) -> None:
    completed = _instantiate(entry, _plan(), tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().endswith("-demo-source.drv")


@pytest.mark.parametrize("entry", ["default.nix", "nixpkgs.nix"])
@pytest.mark.parametrize(
    ("version", "shown"), [(PLAN_SCHEMA_VERSION + 1, str(PLAN_SCHEMA_VERSION + 1)), ("1", '"1"'), (None, "(none)")]
)
def test_a_plan_of_another_schema_version_is_refused(tmp_path: Path, entry: str, version: object, shown: str) -> None:
    plan = _plan()
    if version is None:
        del plan["schemaVersion"]
    else:
        plan["schemaVersion"] = version
    # Fields a future schema might rename or drop: the version is checked before any of them is read.
    del plan["system"], plan["stages"]
    completed = _instantiate(entry, plan, tmp_path)
    assert completed.returncode != 0
    message = (
        f"pyrel plan schema version {shown} is not supported by this Nix library "
        f"(expects {PLAN_SCHEMA_VERSION}): {tmp_path / 'plan.json'} was written by another version of pyrel"
    )
    assert message in completed.stderr, completed.stderr
