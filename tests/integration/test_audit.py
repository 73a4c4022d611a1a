"""`pyrel audit` on a real two-stage project: counts equal nix-store -qR, SBOMs validate, budgets gate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_example
from tests.cyclonedx_schema import validate_sbom

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]

CHECK_STAGE = """
[tool.pyrel.stages.check]
inputs = ["source"]
requires = [{requires}]
run = ["ls $PYREL_INPUT_source > $out/listing.txt"]
outputs = ["listing.txt"]
{budget}
"""


def _configure(project: Path, requires: str, budget: str = "") -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().split("\n[tool.pyrel.stages.check]")[0]
    pyproject.write_text(text + CHECK_STAGE.format(requires=requires, budget=budget))


def _nix(*args: str) -> list[str]:
    return subprocess.run(["nix-store", *args], capture_output=True, text=True, check=True).stdout.split()


def _sandbox_inputs(derivation: str) -> list[str]:
    references = _nix("-q", "--references", derivation)
    derivations = [p for p in references if p.endswith(".drv")]
    return [p for p in references if not p.endswith(".drv")] + _nix("-q", "--outputs", *derivations)


def _audit(run_pyrel: Run, project: Path, *args: str) -> dict[str, Any]:
    completed = run_pyrel("audit", "-C", str(project), "--json", *args, check=True)
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_example("hello", tmp_path_factory.mktemp("audit"))
    # Only the source and wheel stages and the custom one: no docs or test tree.
    shutil.rmtree(root / "docs")
    shutil.rmtree(root / "tests")
    _configure(root, '"packaging"')
    subprocess.run(
        [sys.executable, "-m", "pywrap", "lock", "-C", str(root)], capture_output=True, text=True, check=True
    )
    return root


def test_audit_counts_equal_nix_store_before_and_after_the_build(project: Path, run_pyrel: Run) -> None:
    before = _audit(run_pyrel, project)
    run_pyrel("build", "source", "wheel", "check", "-C", str(project), check=True)
    after = _audit(run_pyrel, project)
    stages = {stage["name"]: stage for stage in after["stages"]}
    assert set(stages) == {"source", "wheel", "check"}
    for name, stage in stages.items():
        assert stage["built"] is True
        derivation = stage["derivation"]
        supply = set(_nix("-qR", "--include-outputs", derivation))
        sandbox = set(_nix("-qR", *_sandbox_inputs(derivation)))
        assert {p["path"] for p in stage["supply-chain"]["store-paths"]} == supply
        assert {p["path"] for p in stage["sandbox"]["store-paths"]} == sandbox
        assert stage["sandbox"]["bytes"] == sum(int(s) for s in _nix("-q", "--size", *sorted(sandbox)))
        assert stage["sandbox"]["complete"] and stage["supply-chain"]["complete"]
        # Every store path that holds a lock entry is an artifact, unpacked or merged form of one.
        assert all(
            p["components"] or p["role"] in {"source", "script", "derivation", "stage-output", "other"}
            for p in stage["supply-chain"]["store-paths"]
        )
        # Without the build the package counts were already exact.
        [unbuilt] = [s for s in before["stages"] if s["name"] == name]
        assert unbuilt["sandbox"]["packages"] == stage["sandbox"]["packages"]
    check = stages["check"]
    wheels = {c["name"] for c in check["sandbox"]["components"] if c["kind"] == "wheel"}
    assert wheels == {"packaging"}
    assert any(p["role"] == "stage-output" for p in check["sandbox"]["store-paths"])
    # The check stage's supply chain holds the source stage's build.
    assert {c["id"] for c in stages["source"]["sandbox"]["components"]} <= {
        c["id"] for c in check["supply-chain"]["components"]
    }
    monolithic = after["monolithic"]["sandbox"]
    assert monolithic["packages"] == len({c["id"] for s in stages.values() for c in s["sandbox"]["components"]})

    audit_dir = project / "dist" / "audit"
    for document in [
        audit_dir / "sbom" / "source.cdx.json",
        audit_dir / "sbom" / "check.cdx.json",
        audit_dir / "sbom" / "source" / "hello_pyrel-1.0.0.tar.gz.cdx.json",
        audit_dir / "sbom" / "wheel.cdx.json",
        audit_dir / "sbom" / "wheel" / "hello_pyrel-1.0.0-py3-none-any.whl.cdx.json",
        audit_dir / "sbom" / "check" / "listing.txt.cdx.json",
    ]:
        assert validate_sbom(document.read_text()) == (), document
    assert "<svg" in (audit_dir / "audit.html").read_text()


def test_why_names_stage_and_chain(project: Path, run_pyrel: Run) -> None:
    answers = json.loads(run_pyrel("why", "libffi8", "-C", str(project), "--json", check=True).stdout)
    assert {a["stage"] for a in answers} == {"source", "wheel", "check"}
    assert all(a["chain"][-1] == "libffi8" and len(a["chain"]) >= 3 for a in answers)
    [packaging] = [
        a
        for a in json.loads(run_pyrel("why", "packaging", "-C", str(project), "--json", check=True).stdout)
        if a["stage"] == "check"
    ]
    assert "direct" in packaging["reason"]


def test_budget_gate_fails_when_a_dependency_is_added(project: Path, run_pyrel: Run, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    first = _audit(run_pyrel, project)
    baseline.write_text(json.dumps(first))
    [check] = [s for s in first["stages"] if s["name"] == "check"]
    budget = f"budget = {{ packages = {check['sandbox']['packages']} }}"
    _configure(project, '"packaging"', budget)
    run_pyrel("lock", "-C", str(project), check=True)
    assert run_pyrel("audit", "-C", str(project), "--check").returncode == 0
    _configure(project, '"packaging", "tomli"', budget)
    run_pyrel("lock", "-C", str(project), check=True)
    failed = run_pyrel("audit", "-C", str(project), "--check", "--baseline", str(baseline))
    assert failed.returncode == 8, failed.stderr
    assert "stage 'check'" in failed.stderr and f"budget of {check['sandbox']['packages']}" in failed.stderr
    assert "wheel:tomli=" in failed.stderr
    diff = _audit(run_pyrel, project, "--baseline", str(baseline))["baseline-diff"]
    [check_diff] = [d for d in diff if d["stage"] == "check"]
    assert [a.split("=")[0] for a in check_diff["sandbox"]["added"]] == ["wheel:tomli"]
