"""The audit's pure parts: mapping store paths to the lock, closures, diffs, budgets, why, SBOM, page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from pywrap.audit import closures as audit
from pywrap.audit import report, sbom
from pywrap.config.model import Budget, Project, Stage
from pywrap.errors import BudgetExceededError
from pywrap.execution.fetch import artifact_store_path
from pywrap.execution.plan import toolchain_id
from pywrap.locking.lockfile import DebEntry, Lock, StageLock, WheelEntry
from tests.cyclonedx_schema import validate_sbom

STORE = "/nix/store"


def deb(name: str, version: str, depends: tuple[str, ...] = ()) -> DebEntry:
    filename = f"{name}_{version}_amd64.deb"
    return DebEntry(
        name=name,
        version=version,
        architecture="amd64",
        sha256=f"{len(name):02d}" * 32,
        size=1000,
        filename=filename,
        url=f"file:///debs/{filename}",
        depends=depends,
    )


def wheel(name: str, version: str) -> WheelEntry:
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    return WheelEntry(
        name=name,
        version=version,
        filename=filename,
        url=f"file:///wheels/{filename}",
        sha256=f"{len(name) + 10:02d}" * 32,
        size=500,
    )


PACKAGES = (
    deb("busybox-static", "1:1.35.0-4"),
    deb("libc6", "2.36-9"),
    deb("zlib1g", "1:1.2.13", ("libc6",)),
    deb("python3.11-minimal", "3.11.2-6", ("libc6", "zlib1g")),
    deb("patchelf", "0.14.3-1", ("libc6",)),
)
SYSTEM = ("libc6", "python3.11-minimal", "zlib1g")


def make_stage(name: str, **changes: Any) -> Stage:
    stage = Stage(
        name=name,
        python=True,
        system=(),
        requires=("build",),
        requires_file="",
        inputs=(),
        run=("true",),
        outputs=("*",),
    )
    return attrs.evolve(stage, **changes)


def make_project(budget: Budget | None = None) -> Project:
    return Project(
        root=Path("/project"),
        config_file=Path("/project/pyproject.toml"),
        name="demo",
        requires_python=None,
        build_system=None,
        provider="debian",
        debian_suite="bookworm",
        source_date_epoch=None,
        stages=(
            make_stage("source", budget=budget or Budget()),
            make_stage("check", requires=("packaging",), inputs=("source",)),
        ),
    )


def make_lock(check_wheels: tuple[WheelEntry, ...] = (wheel("packaging", "24.0"),)) -> Lock:
    return Lock(
        provider="debian",
        suite="bookworm",
        architecture="amd64",
        python_version="3.11",
        python_full_version="3.11.2",
        glibc="2.36",
        bootstrap=("busybox-static", "patchelf", "libc6"),
        packages=PACKAGES,
        stages=(
            StageLock(
                "source", "f1", SYSTEM, "pylock.source.toml", "x", (wheel("build", "1.2.1"), wheel("packaging", "24.0"))
            ),
            StageLock("check", "f2", SYSTEM, "pylock.check.toml", "y", check_wheels),
        ),
    )


def path(name: str) -> str:
    return f"{STORE}/{'a' * 32}-{name}"


def root_path(lock: Lock) -> str:
    return path(f"pyrel-root-{toolchain_id([lock.package(n) for n in SYSTEM], 'usr/bin/python3.11')}")


def facts_for(lock: Lock, stage: str, extra: tuple[str, ...] = (), *, built: bool = True) -> audit.StoreFacts:
    wheels = [path(f"{w.name}-{w.version}-unpacked") for w in lock.stage(stage).wheels]
    sandbox = [
        root_path(lock),
        path("pyrel-busybox"),
        path("source"),
        path("stage.sh"),
        path(f"pyrel-{stage}-run.sh"),
        *wheels,
        *extra,
    ]
    artifacts = [artifact_store_path(lock.package(n)) for n in (*SYSTEM, "patchelf")]
    supply = [
        *sandbox,
        *artifacts,
        path("pyrel-bootstrap-busybox"),
        path(f"demo-{stage}.drv"),
        path("libc6-2.36-9.drv"),
        path("patchelf-0.14.3-1"),
        *[artifact_store_path(w) for w in lock.stage(stage).wheels],
    ]
    if built:
        supply.append(path(f"demo-{stage}"))
    return audit.StoreFacts(
        derivation=path(f"demo-{stage}.drv"),
        output=path(f"demo-{stage}"),
        built=built,
        sandbox_paths=tuple(sorted(set(sandbox))),
        sandbox_complete=built,
        supply_paths=tuple(sorted(set(supply))),
        supply_complete=built,
        sizes={p: 100 for p in (*sandbox, *supply)},
    )


def make_report(project: Project | None = None, lock: Lock | None = None) -> audit.AuditReport:
    project = project or make_project()
    lock = lock or make_lock()
    facts = {"source": facts_for(lock, "source"), "check": facts_for(lock, "check", (path("demo-source"),))}
    return audit.audit_project(
        project, lock, {"source": facts["source"].derivation, "check": facts["check"].derivation}, facts
    )


def test_store_paths_map_back_to_lock_entries() -> None:
    result = make_report()
    source = result.stage("source")
    ids = {c.id for c in source.sandbox.components}
    assert ids == {
        "deb:busybox-static=1:1.35.0-4",
        "deb:libc6=2.36-9",
        "deb:python3.11-minimal=3.11.2-6",
        "deb:zlib1g=1:1.2.13",
        "wheel:build=1.2.1",
        "wheel:packaging=24.0",
    }
    assert {(e.name, e.role) for e in source.sandbox.generated} == {
        ("source", "source"),
        ("stage.sh", "script"),
        ("pyrel-source-run.sh", "script"),
    }
    # The supply chain adds patchelf (built the root) but not what the sandbox lacks otherwise.
    assert source.supply_chain.component_ids() - ids == {"deb:patchelf=0.14.3-1"}
    roles = {e.name: e.role for e in source.supply_chain.paths}
    assert roles["libc6_2.36-9_amd64.deb"] == "artifact"
    assert roles["libc6-2.36-9.drv"] == "derivation"
    assert roles["pyrel-bootstrap-busybox"] == "busybox"
    assert roles["demo-source"] == "stage-output"
    assert source.sandbox.bytes == 100 * len(source.sandbox.paths)


def test_monolithic_is_the_union_and_ratio_is_reported() -> None:
    result = make_report()
    assert result.monolithic_sandbox.component_ids() == (
        result.stage("source").sandbox.component_ids() | result.stage("check").sandbox.component_ids()
    )
    data = result.to_json()
    assert data["schema-version"] == audit.AUDIT_SCHEMA_VERSION
    assert data["stages"][1]["monolithic-ratio"]["sandbox"] == pytest.approx(
        result.monolithic_sandbox.package_count / result.stage("check").sandbox.package_count, abs=0.01
    )
    assert result.added_by_stage()["check"] == ()


def test_json_round_trips() -> None:
    result = make_report()
    again = audit.AuditReport.from_json(json.loads(json.dumps(result.to_json())))
    assert again == result


def test_unbuilt_closures_are_marked_incomplete() -> None:
    project, lock = make_project(), make_lock()
    facts = facts_for(lock, "source", built=False)
    stage = audit.audit_stage("source", facts, audit.path_index(project, lock))
    assert not stage.built and not stage.sandbox.complete
    assert stage.sandbox.package_count == 6


def test_diff_names_added_removed_and_changed() -> None:
    old = make_report()
    lock = make_lock((wheel("packaging", "25.0"), wheel("tomli", "2.0.1")))
    new = make_report(lock=lock)
    [_, check] = audit.diff_reports(old, new)
    sandbox = check.closures[audit.SANDBOX]
    assert [c.id for c in sandbox.added] == ["wheel:tomli=2.0.1"]
    assert [(o.version, n.version) for o, n in sandbox.changed] == [("24.0", "25.0")]
    assert sandbox.package_delta == 1 and sandbox.bytes_delta == 100
    assert check.to_json()["sandbox"]["added"] == ["wheel:tomli=2.0.1"]


def test_budget_names_stage_limit_and_what_grew() -> None:
    old = make_report()
    project = attrs.evolve(
        make_project(),
        stages=(make_stage("source"), make_stage("check", inputs=("source",), budget=Budget(packages=5, bytes=10**9))),
    )
    lock = make_lock((wheel("packaging", "24.0"), wheel("tomli", "2.0.1")))
    new = make_report(project, lock)
    violations = audit.check_budgets(new, audit.diff_reports(old, new))
    assert [(v.stage, v.measure, v.limit, v.actual) for v in violations] == [("check", "packages", 5, 6)]
    error = audit.budget_error(violations)
    assert isinstance(error, BudgetExceededError) and error.exit_code == 8
    assert "stage 'check'" in str(error) and "budget of 5" in str(error) and "wheel:tomli=2.0.1" in str(error)
    assert audit.check_budgets(old) == []


def test_why_follows_depends_and_says_what_wheels_are() -> None:
    result, project, lock = make_report(), make_project(), make_lock()
    answers = {(a.stage, a.component.name): a for a in audit.why(result, project, lock, "zlib1g")}
    assert answers[("source", "zlib1g")].chain == ("source", "python3.11-minimal", "zlib1g")
    [patchelf, *_] = audit.why(result, project, lock, "patchelf")
    assert patchelf.closures == (audit.SUPPLY_CHAIN,) and patchelf.chain[0] == "bootstrap"
    packaging = {a.stage: a.reason for a in audit.why(result, project, lock, "packaging")}
    assert "direct" in packaging["check"] and "resolved dependency" in packaging["source"]
    assert audit.why(result, project, lock, "nothing") == []


def test_sbom_is_valid_cyclonedx_with_purls_hashes_and_graph() -> None:
    stage = make_report().stage("source")
    document = sbom.stage_sbom("demo", stage, source_date_epoch=1700000000)
    assert validate_sbom(document) == ()
    data = json.loads(document)
    assert data["specVersion"] == "1.6"
    purls = {c["purl"] for c in data["components"]}
    assert "pkg:pypi/build@1.2.1" in purls
    assert "pkg:deb/debian/zlib1g@1:1.2.13?arch=amd64" in purls
    assert all(c["hashes"][0]["alg"] == "SHA-256" for c in data["components"])
    graph = {d["ref"]: d.get("dependsOn", []) for d in data["dependencies"]}
    python = "pkg:deb/debian/python3.11-minimal@3.11.2-6?arch=amd64"
    assert "pkg:deb/debian/zlib1g@1:1.2.13?arch=amd64" in graph[python]
    assert python in graph["pyrel-stage:source"]
    assert document == sbom.stage_sbom("demo", stage, source_date_epoch=1700000000)  # reproducible
    artifact = sbom.artifact_sbom("demo", stage, "demo-1.0.tar.gz", "ab" * 32, source_date_epoch=1700000000)
    assert validate_sbom(artifact) == ()
    assert json.loads(artifact)["metadata"]["component"]["hashes"][0]["content"] == "ab" * 32


def test_html_page_is_self_contained_and_draws_every_stage() -> None:
    page = report.render_html(make_report(), violations=["stage 'check': over"])
    assert page.count("<svg") == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "monolithic" in page and "stage &#39;check&#39;: over" in page
    assert "wheel:build=1.2.1" in page


def test_write_reports_writes_json_html_and_sboms(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "source").mkdir(parents=True)
    (dist / "source" / "SHA256SUMS").write_text(f"{'cd' * 32}  demo-1.0.tar.gz\n")
    written = report.write_reports(dist / "audit", make_report(), dist=dist, source_date_epoch=0)
    names = {p.relative_to(dist / "audit").as_posix() for p in written}
    assert names == {
        "audit.json",
        "audit.html",
        "sbom/source.cdx.json",
        "sbom/check.cdx.json",
        "sbom/source/demo-1.0.tar.gz.cdx.json",
    }
    assert json.loads((dist / "audit" / "audit.json").read_text())["kind"] == "pyrel-audit"
