#!/usr/bin/env python3
"""Benchmark pyrel's source stage against a bare host sdist build.

Usage: python benchmarks/bench_source.py [--project DIR ...] [--runs N]

With no --project, two projects are measured: the bundled example
``examples/hello`` and a real flit_core project whose published sdist is
downloaded at run time with ``pip download`` (``--sdist``, default tomli).

Each project is copied into a temporary directory first (the originals are never
written to). For each one this prints, and writes to ``benchmarks/results.json``:

* the source stage's closure (packages, bytes) from ``pyrel build source --json``,
  against the targets (<= 25 packages, <= 60 MB);
* the cold ``pyrel build source`` end-to-end time: artifacts fetched and the
  toolchain derivations built, only the stage derivation new (a comment line is
  appended to one source file before each run, so the source and stage derivation
  are new while everything else is reused);
* the stage derivation alone: ``nix-instantiate -A source`` of the mutated project,
  then ``nix-store --realise`` of that .drv (its output is new, so absent), timed
  as wall time and as Nix's own build activity (from ``--log-format internal-json``);
* the bare host baseline: ``python -m build --sdist --no-isolation`` in a venv made
  by ``uv venv`` holding the same pinned wheels as the stage's lock, and pypa/build
  (the stage runs pyrel's own frontend, ``nix/tools/pep517.py``, instead); and, like
  for like, that frontend on the host in the same venv (what the sandbox adds);
* the ratios stage/bare (target <= 1.1x) and end-to-end/bare (target <= 1.3x);
* the no-op rebuild time of ``pyrel build source`` (target <= 0.5 s), with where
  its time goes (interpreter start, imports, each external command).

Everything reported is a median of --runs runs (default 5). This is a script that
prints numbers, not a test: it never fails on a missed target.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NIX_LIBRARY = REPO / "nix" / "default.nix"
FRONTEND = REPO / "nix" / "tools" / "pep517.py"
DEFAULT_RESULTS = REPO / "benchmarks" / "results.json"
DEFAULT_EXAMPLE = REPO / "examples" / "hello"
DEFAULT_SDIST = "tomli==2.2.1"  # a small, real project built with flit_core

TARGETS = {
    "closure-packages": 25,
    "closure-bytes": 60 * 10**6,
    "stage-over-bare": 1.1,
    "end-to-end-over-bare": 1.3,
    "noop-seconds": 0.5,
}
NIX_FLAGS = ["--option", "sandbox", "true", "--option", "sandbox-fallback", "false", "--option", "substituters", ""]
COPY_IGNORE = shutil.ignore_patterns(
    ".pyrel", "dist", "result", "result-*", "__pycache__", ".venv", "venv", ".tox", ".nox", "*.pyc"
)
# Messages `python -m build` prints, used to split the stage's build time in phases.
BUILD_MARKERS = (("deps", "Getting build dependencies"), ("sdist", "Building sdist"), ("built", "Successfully built"))


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(
    argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, cwd=cwd, env=None if env is None else {**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-30:])
        raise RuntimeError(f"command failed (exit {proc.returncode}): {' '.join(argv)}\n{tail}")
    return proc


def timed(argv: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = run(argv, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - started, proc


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def pyrel_command() -> list[str]:
    """The console script installed beside this interpreter, else `python -m pywrap`."""
    script = Path(sys.executable).parent / "pyrel"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "pywrap"]


def parse_json_output(text: str) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        raise RuntimeError(f"pyrel printed no JSON:\n{text[-2000:]}")
    report: dict[str, Any] = json.loads(text[start:])
    return report


def source_stage(report: dict[str, Any]) -> dict[str, Any]:
    stages: list[dict[str, Any]] = report.get("stages", [])
    for stage in stages:
        if stage.get("stage") == "source":
            return stage
    raise RuntimeError(f"no source stage in pyrel's JSON: {report}")


# --------------------------------------------------------------------------- projects


def download_sdist(spec: str, into: Path) -> Path:
    """Fetch a published sdist with pip (the host's configured index) and unpack it."""
    downloads = into / "download"
    log(f"downloading the sdist of {spec} with pip")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(downloads),
            spec,
        ]
    )
    archives = sorted(downloads.glob("*.tar.gz"))
    if not archives:
        raise RuntimeError(f"pip downloaded no .tar.gz for {spec}")
    unpacked = into / "unpacked"
    shutil.unpack_archive(str(archives[0]), str(unpacked))
    (project,) = [path for path in unpacked.iterdir() if path.is_dir()]
    return project


def mutation_target(root: Path) -> Path:
    """A file whose content may change harmlessly: a Python module, else the README."""
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in ("dist", "build"))
        for name in sorted(names):
            if name.endswith(".py") and name != "setup.py":
                return Path(directory) / name
    for name in ("README.md", "README.rst", "README", "README.txt"):
        if (root / name).is_file():
            return root / name
    raise RuntimeError(f"{root}: found no file to touch for a cold build")


def mutate(target: Path) -> None:
    """Append a distinct comment line: new source, new stage derivation, same toolchain."""
    with target.open("a") as stream:
        stream.write(f"\n# pyrel benchmark {uuid.uuid4().hex}\n")


def build_system_requires(root: Path) -> list[str]:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    return list(data.get("build-system", {}).get("requires", ["setuptools>=40.8.0"]))


def locked_pins(root: Path) -> list[str]:
    """The source stage's pinned wheels (from its PEP 751 lock), as name==version."""
    lock = root / "pylock.source.toml"
    if not lock.is_file():
        return []
    data = tomllib.loads(lock.read_text())
    return [f"{package['name']}=={package['version']}" for package in data.get("packages", [])]


# --------------------------------------------------------------------------- measurements


def pyrel_build_json(pyrel: list[str], work: Path) -> tuple[float, dict[str, Any]]:
    seconds, proc = timed([*pyrel, "build", "source", "-C", str(work), "--json"])
    return seconds, parse_json_output(proc.stdout)


def prepare(pyrel: list[str], work: Path) -> dict[str, Any]:
    """Lock when needed, then build once: artifacts fetched, toolchain built."""
    locked = False
    if not (work / "pyrel.lock.toml").is_file():
        log(f"pyrel lock -C {work}")
        run([*pyrel, "lock", "-C", str(work)])
        locked = True
    try:
        _, report = pyrel_build_json(pyrel, work)
    except RuntimeError as error:
        if locked or "lock" not in str(error):
            raise
        log(f"the copied lock is stale; pyrel lock -C {work}")
        run([*pyrel, "lock", "-C", str(work)])
        _, report = pyrel_build_json(pyrel, work)
    return report


def cold_builds(pyrel: list[str], work: Path, target: Path, runs: int, seen: set[str]) -> list[dict[str, Any]]:
    samples = []
    for _ in range(runs):
        mutate(target)
        wall, report = pyrel_build_json(pyrel, work)
        path = source_stage(report).get("store-path", "")
        if path in seen:
            raise RuntimeError(f"cold build reused {path}: the mutation did not reach the stage")
        seen.add(path)
        samples.append({"wall": round(wall, 4), "reported": report.get("seconds")})
    return samples


def realise_stage(work: Path, target: Path) -> dict[str, Any]:
    """Instantiate the mutated stage and realise only it, timing Nix's build activity."""
    mutate(target)
    args = ["--argstr", "planFile", str(work / ".pyrel" / "plan.json"), "--argstr", "projectRoot", str(work)]
    drv = run(["nix-instantiate", str(NIX_LIBRARY), *args, "-A", "source"]).stdout.split()[0]
    outputs = run(["nix-store", "--query", "--outputs", drv]).stdout.split()
    invalid = set(run(["nix-store", "--check-validity", "--print-invalid", *outputs]).stdout.split())
    if set(outputs) != invalid:  # already built (cannot happen with a fresh mutation): delete it
        run(["nix-store", "--delete", *outputs])
    argv = ["nix-store", "--realise", *NIX_FLAGS, "--log-format", "internal-json", drv]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    build_id = None
    marks: dict[str, float] = {}
    tail: list[str] = []
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        now = time.perf_counter() - started
        tail = [*tail, line][-30:]
        if not line.startswith("@nix "):
            continue
        event = json.loads(line[5:])
        action = event.get("action")
        if action == "start" and event.get("type") == 105:  # actBuild
            build_id, marks["start"] = event.get("id"), now
        elif action == "stop" and build_id is not None and event.get("id") == build_id:
            marks["stop"] = now
        elif action == "result" and event.get("id") == build_id and event.get("type") == 101:
            text = str(event.get("fields", [""])[0])
            for key, marker in BUILD_MARKERS:
                if marker in text and key not in marks:
                    marks[key] = now
    stdout = proc.stdout.read()
    code = proc.wait()
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"nix-store --realise {drv} failed:\n{''.join(tail)}")
    sample: dict[str, object] = {"wall": round(wall, 4), "output": stdout.strip()}
    if "start" in marks and "stop" in marks:
        sample["build-activity"] = round(marks["stop"] - marks["start"], 4)
        points = [("start", marks["start"])] + [(k, marks[k]) for k, _ in BUILD_MARKERS if k in marks]
        points.append(("stop", marks["stop"]))
        sample["phases"] = {f"{a}->{b}": round(tb - ta, 4) for (a, ta), (b, tb) in itertools.pairwise(points)}
    return sample


def bare_builds(project: Path, pins: list[str], scratch: Path, runs: int, epoch: str) -> dict[str, Any]:
    """`python -m build --sdist --no-isolation` on the host, in a throwaway uv venv."""
    venv = scratch / "venv"
    log(f"uv venv + uv pip install {' '.join(pins)}")
    from pywrap.adapters.uv import uv_binary  # the uv pyrel came with

    uv = uv_binary()
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), *pins])
    tree = scratch / "bare-src"
    shutil.copytree(project, tree, symlinks=True, ignore=COPY_IGNORE)
    samples = []
    frontend_samples = []
    backend = build_backend_env(tree)
    for index in range(runs + 1):  # the first run is a warm-up, not counted
        outdir = scratch / f"bare-out-{index}"
        seconds, _ = timed(
            [str(python), "-m", "build", "--sdist", "--no-isolation", "--outdir", str(outdir), "."],
            cwd=tree,
            env={"SOURCE_DATE_EPOCH": epoch},
        )
        # The stage's own frontend on the host, same venv: what the sandbox adds, like for like.
        frontend_seconds, _ = timed(
            [str(python), str(FRONTEND), "sdist", str(scratch / f"frontend-out-{index}")],
            cwd=tree,
            env={"SOURCE_DATE_EPOCH": epoch, **backend},
        )
        if index:
            samples.append(round(seconds, 4))
            frontend_samples.append(round(frontend_seconds, 4))
    return {
        "python": run([str(python), "--version"]).stdout.strip(),
        "pins": pins,
        "samples": samples,
        "frontend-samples": frontend_samples,
    }


def build_backend_env(root: Path) -> dict[str, str]:
    """What the plan passes pyrel's frontend: the backend of [build-system] (PEP 517's default without one)."""
    table = (
        tomllib.loads((root / "pyproject.toml").read_text()).get("build-system", {})
        if (root / "pyproject.toml").is_file()
        else {}
    )
    return {
        "PYREL_BUILD_BACKEND": table.get("build-backend", "setuptools.build_meta:__legacy__"),
        "PYREL_BACKEND_PATH": json.dumps(table.get("backend-path", [])),
    }


INSTRUMENTED_NOOP = r"""
import gc, json, subprocess, sys, time
started = time.perf_counter()
gc.disable()  # as the console script (pywrap/__main__.py) loads the CLI
from pywrap.cli.app import app
gc.freeze()
gc.enable()
imported = time.perf_counter()
calls = []
original = subprocess.run
def timed_run(args, *a, **k):
    t = time.perf_counter()
    try:
        return original(args, *a, **k)
    finally:
        argv = [str(x) for x in args]
        name = argv[0].rsplit("/", 1)[-1]
        detail = next((x for x in argv[1:] if x.startswith("-") and x not in ("--option",)), "")
        calls.append([f"{name} {detail}".strip(), time.perf_counter() - t])
subprocess.run = timed_run
try:
    app(["build", "source", "-C", sys.argv[1]], prog_name="pyrel", standalone_mode=False)
finally:
    done = time.perf_counter()
    print("BENCH-JSON" + json.dumps({"import": imported - started, "total": done - started, "calls": calls}),
          file=sys.stderr)
"""


def noop_builds(pyrel: list[str], work: Path, runs: int) -> dict[str, Any]:
    run([*pyrel, "build", "source", "-C", str(work)])  # settle: the stage-alone runs changed the source
    samples = [round(timed([*pyrel, "build", "source", "-C", str(work)])[0], 4) for _ in range(runs)]
    breakdowns = []
    for _ in range(runs):
        proc = run([sys.executable, "-c", INSTRUMENTED_NOOP, str(work)])
        line = next(x for x in proc.stderr.splitlines() if x.startswith("BENCH-JSON"))
        breakdowns.append(json.loads(line[len("BENCH-JSON") :]))
    chosen = sorted(breakdowns, key=lambda b: b["total"])[len(breakdowns) // 2]
    external = sum(seconds for _, seconds in chosen["calls"])
    return {
        "samples": samples,
        "median": median(samples),
        "in-process": {
            "total": round(chosen["total"], 4),
            "import-pywrap-cli": round(chosen["import"], 4),
            "external-commands": round(external, 4),
            "python-rest": round(chosen["total"] - chosen["import"] - external, 4),
            "calls": [[name, round(seconds, 4)] for name, seconds in chosen["calls"]],
        },
    }


def startup_costs(pyrel: list[str], runs: int) -> dict[str, Any]:
    def med(argv: list[str]) -> float | None:
        return median([timed(argv)[0] for _ in range(runs)])

    result: dict[str, object] = {
        "python -c pass": med([sys.executable, "-c", "pass"]),
        "python -c 'import pywrap.cli.app'": med([sys.executable, "-c", "import pywrap.cli.app"]),
        "pyrel --help": med([*pyrel, "--help"]),
    }
    on_path = shutil.which("pyrel")
    if on_path and Path(on_path).resolve() != Path(pyrel[0]).resolve():
        result[f"{on_path} --help (the pyrel on PATH)"] = med([on_path, "--help"])
    proc = run([sys.executable, "-X", "importtime", "-m", "pywrap", "--help"])
    top: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and not match.group(3).strip(" ") and len(match.group(3)) == 1:
            top[match.group(4)] = top.get(match.group(4), 0) + int(match.group(2))
    ranked = sorted(top.items(), key=lambda item: -item[1])
    result["importtime-top-level-ms"] = {name: round(us / 1000, 1) for name, us in ranked[:12]}
    result["importtime-total-ms"] = round(sum(top.values()) / 1000, 1)
    return result


# --------------------------------------------------------------------------- one project


def bench_project(label: str, origin: Path, scratch: Path, runs: int, pyrel: list[str]) -> dict[str, Any]:
    work = scratch / "project"
    shutil.copytree(origin, work, symlinks=True, ignore=COPY_IGNORE)
    log(f"[{label}] preparing {work} (lock if needed, fetch, build the toolchain)")
    report = prepare(pyrel, work)
    stage = source_stage(report)
    closure = stage.get("closure", {})
    target = mutation_target(work)
    plan = json.loads((work / ".pyrel" / "plan.json").read_text())
    epochs = {str(s.get("sourceDateEpoch")) for s in plan.get("stages", []) if s.get("name") == "source"}
    epoch = epochs.pop() if len(epochs) == 1 else "315532800"

    log(f"[{label}] cold end-to-end x{runs} (touching {target.relative_to(work)})")
    cold = cold_builds(pyrel, work, target, runs, {stage.get("store-path", "")})
    log(f"[{label}] stage derivation alone x{runs}")
    alone = [realise_stage(work, target) for _ in range(runs)]
    log(f"[{label}] bare host baseline x{runs}")
    # The baseline is what a release manager would run by hand: pypa/build, the frontend pyrel's
    # own in-sandbox one replaces, beside the stage's pinned backend.
    pins = locked_pins(work) or build_system_requires(work)
    if not any(re.match(r"build(==|$)", pin) for pin in pins):
        pins = [*pins, "build"]
    bare = bare_builds(origin, pins, scratch, runs, epoch)
    log(f"[{label}] no-op rebuild x{runs}")
    noop = noop_builds(pyrel, work, runs)

    bare_median = median(bare["samples"])
    frontend_median = median(bare["frontend-samples"])
    stage_median = median([s["wall"] for s in alone])
    activity = [s["build-activity"] for s in alone if "build-activity" in s]
    cold_median = median([s["wall"] for s in cold])
    phase_names = list(dict.fromkeys(name for s in alone for name in s.get("phases", {})))
    phases = {name: median([s["phases"][name] for s in alone if name in s.get("phases", {})]) for name in phase_names}
    packages, size = closure.get("packages"), closure.get("bytes")
    return {
        "label": label,
        "origin": str(origin),
        "outputs": [o.get("name") for o in stage.get("outputs", [])],
        "closure": {
            "packages": packages,
            "bytes": size,
            "packages-met": None if packages is None else packages <= TARGETS["closure-packages"],
            "bytes-met": None if size is None else size <= TARGETS["closure-bytes"],
        },
        "bare": {**bare, "median": bare_median, "frontend-median": frontend_median},
        "stage-derivation": {
            "samples": alone,
            "median-wall": stage_median,
            "median-build-activity": median(activity),
            "median-phases": phases,
        },
        "cold-end-to-end": {
            "samples": cold,
            "median-wall": cold_median,
            "median-reported": median([s["reported"] for s in cold if s["reported"] is not None]),
        },
        "ratios": {
            "stage-over-bare": ratio(stage_median, bare_median),
            "stage-activity-over-bare": ratio(median(activity), bare_median),
            "stage-over-frontend-on-host": ratio(stage_median, frontend_median),
            "end-to-end-over-bare": ratio(cold_median, bare_median),
        },
        "noop": noop,
    }


# --------------------------------------------------------------------------- report


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def print_table(result: dict[str, Any], runs: int) -> None:
    closure, ratios = result["closure"], result["ratios"]
    stage, cold, noop = result["stage-derivation"], result["cold-end-to-end"], result["noop"]
    bytes_text = "n/a" if closure["bytes"] is None else f"{closure['bytes'] / 1e6:.1f} MB"
    rows = [
        (
            "closure packages (source stage)",
            str(closure["packages"]),
            f"<= {TARGETS['closure-packages']}",
            verdict(closure["packages-met"]),
        ),
        (
            "closure bytes (source stage)",
            bytes_text,
            f"<= {TARGETS['closure-bytes'] / 1e6:.0f} MB",
            verdict(closure["bytes-met"]),
        ),
        (f"bare host sdist build (median of {runs})", seconds(result["bare"]["median"]), "", ""),
        ("  its frontend (pep517.py) on the host", seconds(result["bare"]["frontend-median"]), "", ""),
        ("stage derivation, nix-store --realise", seconds(stage["median-wall"]), "", ""),
        ("  of which Nix build activity", seconds(stage["median-build-activity"]), "", ""),
        (
            "stage / bare",
            _x(ratios["stage-over-bare"]),
            f"<= {TARGETS['stage-over-bare']}x",
            _met(ratios["stage-over-bare"], TARGETS["stage-over-bare"]),
        ),
        ("  stage / its frontend on the host", _x(ratios["stage-over-frontend-on-host"]), "", ""),
        ("pyrel build source, cold end-to-end", seconds(cold["median-wall"]), "", ""),
        (
            "end-to-end / bare",
            _x(ratios["end-to-end-over-bare"]),
            f"<= {TARGETS['end-to-end-over-bare']}x",
            _met(ratios["end-to-end-over-bare"], TARGETS["end-to-end-over-bare"]),
        ),
        (
            "pyrel build source, no-op rebuild",
            seconds(noop["median"]),
            f"<= {TARGETS['noop-seconds']} s",
            _met(noop["median"], TARGETS["noop-seconds"]),
        ),
    ]
    title = f"{result['label']}  ({', '.join(result['outputs'])})"
    print(f"\n{title}\n{'=' * len(title)}")
    print(f"{'metric':<40} {'value':>12}  {'target':<10} status")
    for name, value, target, status in rows:
        print(f"{name:<40} {value:>12}  {target:<10} {status}")
    if stage["median-phases"]:
        phases = ", ".join(f"{k} {v:.3f}" for k, v in stage["median-phases"].items())
        print(f"  stage build phases (s, median): {phases}")
    inside = noop["in-process"]
    print(
        f"  no-op in-process: total {inside['total']:.3f} s = import pywrap.cli.app {inside['import-pywrap-cli']:.3f}"
        f" + external commands {inside['external-commands']:.3f} + python {inside['python-rest']:.3f}"
    )
    for name, secs in inside["calls"]:
        print(f"    {secs:7.3f} s  {name}")


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _met(value: float | None, limit: float) -> str:
    return verdict(None if value is None else value <= limit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--project",
        action="append",
        type=Path,
        default=[],
        help="a project directory to measure (repeatable; default: the example and a downloaded sdist)",
    )
    parser.add_argument(
        "--sdist",
        default=DEFAULT_SDIST,
        help=f"requirement whose published sdist is downloaded without --project ({DEFAULT_SDIST})",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement; medians are reported (5)")
    parser.add_argument("--output", type=Path, default=DEFAULT_RESULTS, help="where to write the JSON results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()

    pyrel = pyrel_command()
    scratch_root = Path(tempfile.mkdtemp(prefix="pyrel-bench-"))
    started = time.perf_counter()
    try:
        projects: list[tuple[str, Path]] = []
        if options.project:
            projects = [(path.resolve().name, path.resolve()) for path in options.project]
        else:
            projects.append(("examples/hello", DEFAULT_EXAMPLE))
            downloaded = download_sdist(options.sdist, scratch_root / "sdist")
            projects.append((f"{downloaded.name} (published sdist)", downloaded))
        results = []
        for index, (label, origin) in enumerate(projects):
            scratch = scratch_root / f"p{index}"
            scratch.mkdir()
            result = bench_project(label, origin, scratch, options.runs, pyrel)
            print_table(result, options.runs)
            results.append(result)
        log("startup costs")
        startup = startup_costs(pyrel, options.runs)
    finally:
        if options.keep:
            log(f"kept {scratch_root}")
        else:
            shutil.rmtree(scratch_root, ignore_errors=True)

    print("\nstartup (median)")
    for name, value in startup.items():
        if isinstance(value, float) and not name.startswith("importtime"):
            print(f"  {value:7.3f} s  {name}")
    print(f"  python -X importtime -m pywrap --help: {startup['importtime-total-ms']} ms of imports; top level:")
    for name, ms in startup["importtime-top-level-ms"].items():
        print(f"    {ms:8.1f} ms  {name}")

    document = {
        "schema-version": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "nix": run(["nix-build", "--version"]).stdout.strip(),
            "pyrel-command": pyrel,
        },
        "runs": options.runs,
        "targets": TARGETS,
        "projects": results,
        "startup": startup,
        "seconds": round(time.perf_counter() - started, 1),
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
