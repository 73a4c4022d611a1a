"""Rendering an audit: a rich table for the terminal and a self-contained HTML page (pure).

The page draws packages and bytes per stage side by side against the
monolithic baseline, and what each stage adds to the stages before it, as
inline SVG: no script, no font, no network resource.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import jinja2
from rich.table import Table

from pywrap.audit.closures import CLOSURE_KINDS, SANDBOX, SUPPLY_CHAIN, AuditReport, Closure, StageDiff, ratio
from pywrap.files import write_atomically
from pywrap.logger import human_bytes

TEMPLATE = "audit.html.j2"
MONOLITHIC = "monolithic"


def _budget_text(packages: int | None, size: int | None) -> str:
    parts = ([f"{packages} pkgs"] if packages is not None else []) + ([human_bytes(size)] if size is not None else [])
    return ", ".join(parts) or "-"


def _cell(closure: Closure) -> str:
    suffix = "" if closure.complete else " *"
    return f"{closure.package_count} pkgs, {human_bytes(closure.bytes)}{suffix}"


def summary_table(report: AuditReport) -> Table:
    table = Table(title=f"pyrel audit: {report.project}", title_justify="left")
    for column in ("stage", "sandbox", "supply chain", "own paths", "budget", "mono/stage"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    monolithic = report.monolithic_sandbox
    for stage in report.stages:
        stage_ratio = ratio(monolithic.package_count, stage.sandbox.package_count)
        table.add_row(
            stage.name,
            _cell(stage.sandbox),
            _cell(stage.supply_chain),
            str(len(stage.sandbox.generated)),
            _budget_text(stage.budget.packages, stage.budget.bytes),
            f"{stage_ratio:.2f}x" if stage_ratio is not None else "-",
        )
    table.add_row(
        f"[bold]{MONOLITHIC}[/bold]",
        _cell(monolithic),
        _cell(report.monolithic_supply_chain),
        str(len(monolithic.generated)),
        "",
        "1.00x",
    )
    notes = [
        f"{stage.name}: system-exclude cut {len(stage.trimmed)} Debian packages ({', '.join(stage.trimmed)})"
        for stage in report.stages
        if stage.trimmed
    ]
    notes += [
        stage.intersphinx.describe(stage.name)
        for stage in report.stages
        if stage.intersphinx is not None and not stage.intersphinx.enabled
    ]
    if not all(stage.sandbox.complete and stage.supply_chain.complete for stage in report.stages):
        notes.append("* not built yet: bytes count only the store paths that exist")
    table.caption = "\n".join(notes) or None
    return table


def diff_table(diffs: Sequence[StageDiff]) -> Table:
    table = Table(title="changes since the baseline (sandbox closure)", title_justify="left")
    for column in ("stage", "status", "added", "removed", "changed version", "packages", "bytes"):
        table.add_column(column)
    for diff in diffs:
        closure = diff.closures[SANDBOX]
        table.add_row(
            diff.stage,
            diff.status,
            "\n".join(component.id for component in closure.added) or "-",
            "\n".join(component.id for component in closure.removed) or "-",
            "\n".join(f"{old.key} {old.version} -> {new.version}" for old, new in closure.changed) or "-",
            f"{closure.package_delta:+d}",
            f"{closure.bytes_delta:+,d} B",
        )
    return table


# --- the picture ---------------------------------------------------------------------


@attrs.frozen
class Bar:
    label: str
    value: int
    text: str
    x: float
    width: float
    y: float
    height: float
    css: str


@attrs.frozen
class Chart:
    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[tuple[str, float], ...]  # group label, its centre x
    legend: tuple[tuple[str, str], ...]  # text, css class
    baseline_y: float


CHART_WIDTH = 560
CHART_HEIGHT = 300
PLOT_TOP = 40
PLOT_BOTTOM = 250
PLOT_LEFT = 20


def grouped_chart(
    title: str, groups: Sequence[tuple[str, Sequence[tuple[str, int, str, str]]]], legend: Sequence[tuple[str, str]]
) -> Chart:
    """Bars grouped per stage: ``groups`` = (label, [(series, value, text, css), ...])."""
    peak = max((value for _, series in groups for _, value, _, _ in series), default=0) or 1
    group_width = (CHART_WIDTH - 2 * PLOT_LEFT) / max(len(groups), 1)
    bars = []
    labels = []
    for group_index, (label, series) in enumerate(groups):
        left = PLOT_LEFT + group_index * group_width
        bar_width = group_width * 0.8 / max(len(series), 1)
        for series_index, (name, value, text, css) in enumerate(series):
            height = (PLOT_BOTTOM - PLOT_TOP) * value / peak
            bars.append(
                Bar(
                    name,
                    value,
                    text,
                    left + group_width * 0.1 + series_index * bar_width,
                    bar_width * 0.9,
                    PLOT_BOTTOM - height,
                    height,
                    css,
                )
            )
        labels.append((label, left + group_width / 2))
    return Chart(title, CHART_WIDTH, CHART_HEIGHT, tuple(bars), tuple(labels), tuple(legend), PLOT_BOTTOM)


def stacked_added_chart(report: AuditReport) -> Chart:
    """Per stage, one column: packages already in earlier stages (grey) under those it adds."""
    added = report.added_by_stage()
    peak = max((stage.sandbox.package_count for stage in report.stages), default=0) or 1
    group_width = (CHART_WIDTH - 2 * PLOT_LEFT) / max(len(report.stages), 1)
    scale = (PLOT_BOTTOM - PLOT_TOP) / peak
    bars = []
    labels = []
    for index, stage in enumerate(report.stages):
        new = len(added[stage.name])
        shared = stage.sandbox.package_count - new
        left = PLOT_LEFT + index * group_width
        x, width = left + group_width * 0.25, group_width * 0.5
        shared_height, new_height = shared * scale, new * scale
        bars.append(Bar("shared", shared, str(shared), x, width, PLOT_BOTTOM - shared_height, shared_height, "shared"))
        bars.append(Bar("adds", new, f"+{new}", x, width, PLOT_BOTTOM - shared_height - new_height, new_height, "adds"))
        labels.append((stage.name, left + group_width / 2))
    return Chart(
        "What each stage adds (sandbox packages)",
        CHART_WIDTH,
        CHART_HEIGHT,
        tuple(bars),
        tuple(labels),
        (("already in an earlier stage", "shared"), ("added by this stage", "adds")),
        PLOT_BOTTOM,
    )


def charts(report: AuditReport) -> list[Chart]:
    monolithic = {kind: report.monolithic(kind) for kind in CLOSURE_KINDS}

    def groups(measure: str) -> list[tuple[str, list[tuple[str, int, str, str]]]]:
        result = []
        for name, closures in [
            *((s.name, (s.sandbox, s.supply_chain)) for s in report.stages),
            (MONOLITHIC, (monolithic[SANDBOX], monolithic[SUPPLY_CHAIN])),
        ]:
            series = []
            for kind, closure in zip(CLOSURE_KINDS, closures, strict=True):
                value = closure.package_count if measure == "packages" else closure.bytes
                text = str(value) if measure == "packages" else human_bytes(value)
                series.append((kind, value, text, kind))
            result.append((name, series))
        return result

    legend = [("sandbox (what the build sees)", SANDBOX), ("supply chain (what built it)", SUPPLY_CHAIN)]
    return [
        grouped_chart("Packages per stage", groups("packages"), legend),
        grouped_chart("Bytes per stage", groups("bytes"), legend),
        stacked_added_chart(report),
    ]


def _environment() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files("pywrap").joinpath("resources", "templates", name).read_text(encoding="utf-8")
    )
    environment = jinja2.Environment(
        loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    environment.filters["human_bytes"] = human_bytes
    return environment


def render_html(report: AuditReport, diffs: Sequence[StageDiff] = (), violations: Sequence[str] = ()) -> str:
    context: dict[str, Any] = {
        "report": report,
        "charts": charts(report),
        "added": report.added_by_stage(),
        "monolithic": {kind: report.monolithic(kind) for kind in CLOSURE_KINDS},
        "ratio": ratio,
        "diffs": diffs,
        "violations": violations,
        "SANDBOX": SANDBOX,
        "SUPPLY_CHAIN": SUPPLY_CHAIN,
    }
    return _environment().get_template(TEMPLATE).render(context)


# --- files ---------------------------------------------------------------------------


REPORT_JSON = "audit.json"
REPORT_HTML = "audit.html"
SBOM_DIR = "sbom"


def exported_artifacts(dist: Path, stage: str) -> list[tuple[str, str]]:
    """(name, sha256) of what ``dist/<stage>/SHA256SUMS`` lists; empty when not exported."""
    sums = dist / stage / "SHA256SUMS"
    if not sums.is_file():
        return []
    pairs = []
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if digest and name:
            pairs.append((name, digest))
    return pairs


def write_reports(
    output: Path,
    report: AuditReport,
    *,
    dist: Path,
    source_date_epoch: int,
    diffs: Sequence[StageDiff] = (),
    violations: Sequence[str] = (),
) -> list[Path]:
    """audit.json, audit.html and the SBOMs, each written atomically under ``output``."""
    from pywrap.audit import sbom

    output.mkdir(parents=True, exist_ok=True)
    document = report.to_json()
    if diffs:
        document["baseline-diff"] = [diff.to_json() for diff in diffs]
    files: dict[Path, str] = {
        output / REPORT_JSON: json.dumps(document, indent=1, sort_keys=True) + "\n",
        output / REPORT_HTML: render_html(report, diffs, violations),
    }
    for stage in report.stages:
        files[output / SBOM_DIR / f"{stage.name}.cdx.json"] = sbom.stage_sbom(
            report.project, stage, source_date_epoch=source_date_epoch
        )
        if not stage.built:
            continue  # dist/<stage> may hold an older build's files: they are not this derivation's
        for name, digest in exported_artifacts(dist, stage.name):
            files[output / SBOM_DIR / stage.name / f"{name}.cdx.json"] = sbom.artifact_sbom(
                report.project, stage, name, digest, source_date_epoch=source_date_epoch
            )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text.encode())
    return list(files)
