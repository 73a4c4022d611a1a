"""One way in: every command evaluates the stage graph `build` builds, provider applied, under the project lock.

The project uses the ``nixpkgs`` provider against the nixpkgs-shaped fixture
(this machine cannot reach nixpkgs, and the fixture's packages cannot be built),
so each command's calls into Nix are recorded and evaluated for real with
``nix-instantiate`` instead of being built.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pywrap.adapters import nix
from pywrap.audit import closures
from pywrap.cli.app import app
from pywrap.config.loader import load_project
from pywrap.execution import graph as stage_graphs
from pywrap.locking import backend_probe
from pywrap.locking.lockfile import read_lock
from tests.conftest import REPO

pytestmark = [pytest.mark.nix, pytest.mark.apt]

CONFIG = f"""\
provider = "nixpkgs"
nixpkgs = {{ path = "{REPO / "tests" / "packages" / "nixpkgs-fixture"}" }}

[stages.source]
run = ["make"]
outputs = ["*"]

[stages.test]
run = ["make check"]
outputs = ["*"]
inputs = ["source"]
"""


@pytest.fixture(scope="module")
def project_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nixpkgs-project")
    (root / "pyrel.toml").write_text(CONFIG)
    (root / "Makefile").write_text("all:\n\ttrue\n")
    subprocess.run([sys.executable, "-m", "pywrap", "lock", "-C", str(root)], check=True, capture_output=True)
    return root


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, str]]]]:
    """Each Nix evaluation a command asks for, as (entry file, {stage: .drv}), evaluated when asked."""
    recorded: list[tuple[str, dict[str, str]]] = []
    instantiate = nix.instantiate

    def evaluate(expression_file: Path, attributes: Sequence[str], args: dict[str, str]) -> dict[str, str]:
        drvs = dict(zip(attributes, instantiate(expression_file, attributes, args), strict=True))
        recorded.append((Path(expression_file).name, drvs))
        return drvs

    def build(
        expression_file: Path, attributes: Sequence[str], args: dict[str, str], *_: object, **__: object
    ) -> list[str]:
        evaluate(expression_file, attributes, args)
        raise _Evaluated

    def built_outputs(expression_file: Path, attributes: Sequence[str], args: dict[str, str]) -> dict[str, str]:
        evaluate(expression_file, attributes, args)
        return {}

    monkeypatch.setattr(nix, "instantiate", lambda *a: list(evaluate(*a).values()))
    monkeypatch.setattr(nix, "build", build)
    monkeypatch.setattr(nix, "built_outputs", built_outputs)
    yield recorded


class _Evaluated(Exception):
    """Stands in for a build of the fixture's unbuildable packages, once the graph was evaluated."""


def _pyrel(*args: str) -> None:
    CliRunner().invoke(app, list(args), catch_exceptions=True)


def test_every_command_evaluates_the_derivations_build_builds(
    project_root: Path, evaluations: list[tuple[str, dict[str, str]]], tmp_path: Path
) -> None:
    _pyrel("build", "source", "test", "-C", str(project_root))
    [(entry, built)] = evaluations
    assert entry == "nixpkgs.nix"  # the provider's entry, not the Debian one
    assert set(built) == {"source", "test"}

    commands = {
        "audit": ["audit", "-C", str(project_root), "--output", str(tmp_path / "audit")],
        "why": ["why", "busybox", "-C", str(project_root)],
        "verify": ["verify", "-C", str(project_root)],
        "export": ["export", "all", "--to", f"file://{tmp_path / 'cache'}", "-C", str(project_root)],
    }
    for command, argv in commands.items():
        evaluations.clear()
        _pyrel(*argv)
        assert evaluations, f"`pyrel {command}` evaluated nothing"
        for entry, drvs in evaluations:
            assert entry == "nixpkgs.nix", command
            assert drvs == {name: built[name] for name in drvs}, f"`pyrel {command}` evaluated other derivations"


def test_the_lock_time_probe_evaluates_the_same_toolchain_as_build(
    project_root: Path, evaluations: list[tuple[str, dict[str, str]]]
) -> None:
    project = load_project(project_root)
    _pyrel("build", "source", "-C", str(project_root))
    [(_, built)] = evaluations
    evaluations.clear()
    with pytest.raises(_Evaluated):
        backend_probe.backend_requires(project, read_lock(project_root), lambda message: None)
    [(entry, probed)] = evaluations
    assert entry == "nixpkgs.nix"
    # Its own commands (their script), so its own .drv; everything else the stage is built from is the same.
    assert probed["source"] != built["source"]
    assert _inputs_but_commands(probed["source"]) == _inputs_but_commands(built["source"])


def _inputs_but_commands(drv: str) -> set[str]:
    references = subprocess.run(
        ["nix-store", "--query", "--references", drv], capture_output=True, text=True, check=True
    ).stdout.split()
    assert any(path.endswith("-pyrel-source-run.sh") for path in references)
    return {path for path in references if not path.endswith("-pyrel-source-run.sh")}


def test_an_audit_waits_for_a_build_and_never_reads_its_plan_half_written(project_root: Path) -> None:
    """A build holds the graph (and its plan) until it is done; an audit of other stages waits for it."""
    project = load_project(project_root)
    plan_file = project_root / ".pyrel" / "plan.json"
    inside_build = threading.Event()
    audit_finished = threading.Event()
    seen: list[bytes] = []

    def audit() -> None:
        inside_build.wait()
        closures.collect(project, ["source", "test"])
        audit_finished.set()

    auditor = threading.Thread(target=audit)
    auditor.start()
    with stage_graphs.stage_graph(project, ["source"]) as graph:
        written = plan_file.read_bytes()
        assert [stage["name"] for stage in json.loads(written)["stages"]] == ["source"]
        inside_build.set()
        for _ in range(20):  # the audit is running meanwhile, and must wait for the project lock
            seen.append(plan_file.read_bytes())
            assert not audit_finished.wait(0.1)
        graph.instantiate()
    auditor.join(timeout=120)
    assert audit_finished.is_set()
    assert set(seen) == {written}
    assert [stage["name"] for stage in json.loads(plan_file.read_bytes())["stages"]] == ["source", "test"]
