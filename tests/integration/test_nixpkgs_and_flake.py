"""The `nixpkgs` provider's Nix entry and pyrel's flake, evaluated for real
against a nixpkgs-shaped fixture (this machine cannot reach nixpkgs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import tomli_w

from pywrap import DISTRIBUTION, __version__
from pywrap.config.loader import build_project
from pywrap.execution.plan import Plan, StagePlan
from pywrap.providers.base import provider_for
from tests.conftest import REPO

pytestmark = pytest.mark.nix
FIXTURES = REPO / "tests" / "packages"
FLAKES = ["--extra-experimental-features", "nix-command flakes"]


def _plan(project_root: Path) -> Plan:
    stage: StagePlan = {
        "name": "",
        "derivationName": "demo-{name}",
        "toolchain": "",
        "python": "usr/bin/python3.11",
        "wheels": [],
        "inputs": [],
        "pathDirs": [],
        "compiler": None,
        "env": {},
        "sourceDateEpoch": 315532800,
        "run": ["make"],
        "outputs": ["*"],
    }
    return {
        "schemaVersion": 1,
        "system": "x86_64-linux",
        "sourceFiles": ["pyrel.toml"],
        # pyrel's busybox from the locked busybox-static, whatever the provider: the sandboxes' /bin/sh.
        "bootstrap": {"storeName": "pyrel-bootstrap-busybox", "narHash": "0" * 52},
        "patchelf": [],
        "toolchains": [],  # the Debian provider's; nixpkgs.nix reads neither
        "stages": [
            {**stage, "name": "source", "derivationName": "demo-source", "inputs": []},
            {**stage, "name": "test", "derivationName": "demo-test", "inputs": ["source"]},
        ],
    }


def test_nixpkgs_provider_evaluates_against_a_fixture(tmp_path: Path) -> None:
    config: dict[str, object] = {
        "provider": "nixpkgs",
        "nixpkgs": {"path": str(FIXTURES / "nixpkgs-fixture")},
        "stages": {
            "source": {"run": ["make"], "outputs": ["*"], "system": ["gnumake"]},
            "test": {"run": ["make"], "outputs": ["*"], "inputs": ["source"]},
        },
    }
    (tmp_path / "pyrel.toml").write_bytes(tomli_w.dumps(config).encode())
    project = build_project(tmp_path, tmp_path / "pyrel.toml", {}, config)
    provider = provider_for(project)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(provider.apply(_plan(tmp_path), project)))
    args = ["--argstr", "planFile", str(plan_file), "--argstr", "projectRoot", str(tmp_path)]
    entry = str(REPO / "nix" / provider.entry)
    drvs = subprocess.run(
        ["nix-instantiate", entry, "-A", "source", "-A", "test", *args], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [Path(drv).name.split("-", 1)[1] for drv in drvs] == ["demo-source.drv", "demo-test.drv"]
    path = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", entry, "-A", "source.PATH", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-pyrel-nixpkgs-root-source/usr/bin" in path and "-busybox-1.36.1/bin" in path
    shell = subprocess.run(
        ["nix-instantiate", "--eval", "--json", entry, "-A", "source.sandboxShell", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(shell).endswith("-pyrel-bootstrap-busybox/bin/busybox")
    references = subprocess.run(
        ["nix-store", "--query", "--references", drvs[0]], capture_output=True, text=True, check=True
    ).stdout
    root = next(line for line in references.splitlines() if "pyrel-nixpkgs-root-source" in line)
    root_inputs = subprocess.run(
        ["nix-store", "--query", "--references", root], capture_output=True, text=True, check=True
    ).stdout
    for package in ("python3-3.11.9.drv", "gnumake-4.4.1.drv", "busybox-1.36.1.drv"):
        assert package in root_inputs  # the pinned tree's packages, nothing from Debian
    assert ".deb" not in references + root_inputs
    test_inputs = subprocess.run(
        ["nix-store", "--query", "--references", drvs[1]], capture_output=True, text=True, check=True
    ).stdout
    assert drvs[0] in test_inputs  # the test stage reads the source stage


def test_flake_outputs_evaluate_without_the_network(tmp_path: Path) -> None:
    flake = tmp_path / "pyrel"
    flake.mkdir()
    for name in ("flake.nix", "pyproject.toml"):
        shutil.copy(REPO / name, flake / name)
    shutil.copytree(REPO / "nix", flake / "nix", ignore=shutil.ignore_patterns("__pycache__"))
    override = ["--override-input", "nixpkgs", f"path:{FIXTURES / 'nixpkgs-fixture'}", "--no-write-lock-file"]
    check = subprocess.run(
        ["nix", *FLAKES, "flake", "check", "--no-build", *override, f"path:{flake}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    lib = subprocess.run(
        ["nix", *FLAKES, "eval", "--json", *override, f"path:{flake}#lib", "--apply", "builtins.attrNames"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(lib.stdout) == ["builders", "nixpkgsStages", "stages"]
    builders = subprocess.run(
        [
            "nix",
            *FLAKES,
            "eval",
            "--json",
            *override,
            f"path:{flake}#lib.builders",
            "--apply",
            "b: builtins.attrNames (b { })",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "mkStage" in json.loads(builders.stdout)
    program = subprocess.run(
        ["nix", *FLAKES, "eval", "--raw", *override, f"path:{flake}#apps.x86_64-linux.default.program"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert program.endswith(f"-{DISTRIBUTION}-{__version__}/bin/pyrel")  # pname is pyproject's name
