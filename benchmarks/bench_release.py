#!/usr/bin/env python3
"""Benchmark pyrel's release targets: warm lock, wheel stage, test closure, compilers.

Usage: python benchmarks/bench_release.py [--project DIR ...] [--runs N]

The bundled example ``examples/hello`` (and every ``--project DIR``) is copied
into a temporary directory, made a git repository (``git init`` + one commit, so
the source tree is git's) and measured; the originals are never written to. For
each project this prints, and writes to ``benchmarks/release-results.json``:

* the warm ``pyrel lock`` of all its stages: one untimed run first (the indexes,
  the Debian archive's included, are then cached and unchanged), then --runs timed
  runs: median, min, max (target <= 3 s);
* the wheel stage against the host. Each run appends a comment line to a source
  file and runs ``pyrel build source`` untimed, so only the wheel stage's inputs
  are new, then times, alternately: ``pyrel build wheel`` (end to end: the CLI,
  the source tree read from git, Nix's evaluation, the stage, the export with
  checksums, attestation and SBOM); ``uv build --wheel`` of the same sdist on
  the host, as the target names it: uv's default isolated build, with the
  wheel stage's pinned wheels as build constraints and uv's cache warm
  (``--offline``); the stricter ``uv build --wheel --no-build-isolation
  --offline``, in a ``uv venv`` already holding those wheels; and, after a
  second mutation, the wheel stage derivation alone (``nix-instantiate -A
  wheel`` + ``nix-store --realise``, as bench_source.py times the source stage).
  Ratios of medians; the target (<= 1.3x) is the stage's derivation over ``uv
  build --wheel``, and every other ratio is printed beside it;
* the test stage's closure package count from ``pyrel build all --json``
  (target <= 30);
* per stage, whether a C compiler is in it: the lock's per-stage Debian packages
  matching gcc*/cpp*/binutils* (``gcc-*-base`` is listed apart: it holds only
  /usr/share/doc), the same names in ``pyrel audit --json``'s sandbox
  components, and compiler executables in the stage's root (target for the docs
  and test stages: none).

The compiler check also runs on ``tests/packages/c-extension`` (a C project:
lock + build all + audit), unless ``--no-c-extension``.

pyrel runs as installed: its package's bytecode is compiled first (pip compiles it
on install; an editable checkout run with PYTHONDONTWRITEBYTECODE would compile
every module on every run instead).

Medians of --runs runs (default 5). This is a script that prints numbers, not a
test: it never fails on a missed target.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import importlib.util
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

# The helpers both benchmark scripts share (run from benchmarks/, which is on sys.path).
from bench_source import log, mutate, parse_json_output, pyrel_command, ratio, run, timed

REPO = Path(__file__).resolve().parent.parent
NIX_LIBRARY = REPO / "nix" / "default.nix"
DEFAULT_RESULTS = REPO / "benchmarks" / "release-results.json"
DEFAULT_EXAMPLE = REPO / "examples" / "hello"
C_EXTENSION = REPO / "tests" / "packages" / "c-extension"

TARGETS = {
    "warm-lock-seconds": 3.0,
    "wheel-over-host": 1.3,
    "test-closure-packages": 30,
    "compilers-in-docs-and-test": 0,
}
NIX_FLAGS = ["--option", "sandbox", "true", "--option", "sandbox-fallback", "false", "--option", "substituters", ""]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".pyrel", "dist", "result", "result-*", "__pycache__", ".venv", "venv", ".tox", ".nox", "*.pyc"
)
COMPILER_PACKAGES = ("gcc*", "cpp*", "binutils*")
NOT_A_COMPILER = ("gcc-*-base",)  # Debian's base package of the GCC runtime libraries: /usr/share/doc only
COMPILER_EXECUTABLES = ("cc", "c++", "gcc", "gcc-*", "g++*", "cpp", "cpp-*", "as", "ld", "ld.*", "*-linux-gnu-gcc*")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "pyrel bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "pyrel bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


# --------------------------------------------------------------------------- helpers


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"samples": [], "median": None, "min": None, "max": None}
    return {
        "samples": [round(v, 4) for v in values],
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def uv_command() -> str:
    try:
        from pywrap.adapters.uv import uv_binary  # the uv pyrel came with

        return str(uv_binary())
    except Exception:  # fall back to the uv beside this interpreter, then PATH
        beside = Path(sys.executable).parent / "uv"
        return str(beside) if beside.is_file() else (shutil.which("uv") or "uv")


def stage_of(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in report.get("stages", []) if s.get("stage", s.get("name")) == name), None)


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def compile_bytecode() -> None:
    """Compile pyrel's package as pip does on install (its __pycache__ is ignored by git)."""
    spec = importlib.util.find_spec("pywrap")
    if spec is None or not spec.submodule_search_locations:
        return
    for location in spec.submodule_search_locations:
        if os.access(location, os.W_OK):  # compileall writes even under PYTHONDONTWRITEBYTECODE
            run([sys.executable, "-m", "compileall", "-q", location])


# --------------------------------------------------------------------------- projects


def git_copy(origin: Path, work: Path) -> Path:
    """Copy a project and commit it, so pyrel's source tree is the files git tracks."""
    shutil.copytree(origin, work, symlinks=True, ignore=COPY_IGNORE)
    run(["git", "init", "--quiet", str(work)])
    run(["git", "-C", str(work), "add", "-A"])
    run(["git", "-C", str(work), "commit", "--quiet", "--no-gpg-sign", "-m", "benchmark copy"], env=GIT_IDENTITY)
    return work


def mutation_target(root: Path) -> Path:
    """A Python module (not setup.py) that git tracks: changing it changes the sdist only."""
    tracked = run(["git", "-C", str(root), "ls-files"]).stdout.split()
    modules = sorted(p for p in tracked if p.endswith(".py") and Path(p).name != "setup.py" and "test" not in p)
    if not modules:
        raise RuntimeError(f"{root}: found no Python module to touch")
    preferred = [p for p in modules if p.startswith("src/")] or modules
    return root / preferred[0]


def wheel_pins(root: Path) -> list[str]:
    """The wheel stage's pinned wheels (its PEP 751 lock), as name==version."""
    lock = root / "pylock.wheel.toml"
    if not lock.is_file():
        return []
    data = tomllib.loads(lock.read_text())
    return [f"{package['name']}=={package['version']}" for package in data.get("packages", [])]


def stage_system(root: Path) -> dict[str, list[str]]:
    """Each stage's Debian packages, from pyrel.lock.toml."""
    lock = root / "pyrel.lock.toml"
    data = tomllib.loads(lock.read_text()) if lock.is_file() else {}
    return {name: list(table.get("system", [])) for name, table in data.get("stages", {}).items()}


# --------------------------------------------------------------------------- measurements


def warm_lock(pyrel: list[str], work: Path, runs: int) -> dict[str, Any]:
    log(f"pyrel lock -C {work} (untimed: caches the indexes)")
    run([*pyrel, "lock", "-C", str(work)])
    samples = [timed([*pyrel, "lock", "-C", str(work)])[0] for _ in range(runs)]
    result = summary(samples)
    result["met"] = None if result["median"] is None else result["median"] <= TARGETS["warm-lock-seconds"]
    return result


def build_json(pyrel: list[str], work: Path, *stages: str) -> tuple[float, dict[str, Any]]:
    seconds, proc = timed([*pyrel, "build", *stages, "-C", str(work), "--json"])
    return seconds, parse_json_output(proc.stdout)


def sdist_of(work: Path) -> Path:
    archives = sorted((work / "dist" / "source").glob("*.tar.gz"))
    if len(archives) != 1:
        raise RuntimeError(f"expected one sdist in {work / 'dist' / 'source'}, found {archives}")
    return archives[0]


def host_venv(work: Path, scratch: Path, uv: str) -> tuple[Path, list[str]]:
    """A uv venv holding the wheel stage's pinned wheels (its build backend among them)."""
    venv = scratch / "wheel-venv"
    pins = wheel_pins(work)
    log(f"uv venv + uv pip install {' '.join(pins)}")
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    if pins:
        run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(venv / "bin" / "python"), *pins])
    return venv, pins


def host_wheel(uv: str, venv: Path, sdist: Path, outdir: Path, epoch: str) -> float:
    """``uv build --wheel --no-build-isolation``: the backend already installed in ``venv``."""
    argv = [
        uv,
        "build",
        "--wheel",
        "--no-build-isolation",
        "--offline",
        "--quiet",
        "--python",
        str(venv / "bin" / "python"),
        "--out-dir",
        str(outdir),
        str(sdist),
    ]
    seconds, _ = timed(argv, env={"SOURCE_DATE_EPOCH": epoch, "VIRTUAL_ENV": str(venv)})
    if not list(outdir.glob("*.whl")):
        raise RuntimeError(f"uv build wrote no wheel to {outdir}")
    return seconds


def host_wheel_isolated(uv: str, constraints: Path, sdist: Path, outdir: Path, epoch: str, *, offline: bool) -> float:
    """``uv build --wheel`` as uv runs it by default: a fresh build environment from uv's cache, with the
    wheel stage's pins as build constraints (the same backend versions)."""
    argv = [uv, "build", "--wheel", "--quiet", "--python", sys.executable, "--build-constraint", str(constraints)]
    argv += ["--offline"] if offline else []
    seconds, _ = timed([*argv, "--out-dir", str(outdir), str(sdist)], env={"SOURCE_DATE_EPOCH": epoch})
    if not list(outdir.glob("*.whl")):
        raise RuntimeError(f"uv build wrote no wheel to {outdir}")
    return seconds


def realise_wheel_stage(work: Path) -> float:
    """The wheel stage derivation alone: its source stage realised first, untimed."""
    args = ["--argstr", "planFile", str(work / ".pyrel" / "plan.json"), "--argstr", "projectRoot", str(work)]
    drvs = {}
    for attr in ("source", "wheel"):
        drvs[attr] = run(["nix-instantiate", str(NIX_LIBRARY), *args, "-A", attr]).stdout.split()[0]
    run(["nix-store", "--realise", *NIX_FLAGS, drvs["source"]])
    outputs = run(["nix-store", "--query", "--outputs", drvs["wheel"]]).stdout.split()
    invalid = set(run(["nix-store", "--check-validity", "--print-invalid", *outputs]).stdout.split())
    if set(outputs) != invalid:
        raise RuntimeError(f"{drvs['wheel']} is already built: the mutation did not reach the wheel stage")
    seconds, _ = timed(["nix-store", "--realise", *NIX_FLAGS, drvs["wheel"]])
    return seconds


def wheel_stage(pyrel: list[str], work: Path, scratch: Path, runs: int, uv: str) -> dict[str, Any]:
    target = mutation_target(work)
    venv, pins = host_venv(work, scratch, uv)
    plan = json.loads((work / ".pyrel" / "plan.json").read_text())
    epochs = {str(s.get("sourceDateEpoch")) for s in plan.get("stages", []) if s.get("name") == "wheel"}
    epoch = epochs.pop() if len(epochs) == 1 else "315532800"
    constraints = scratch / "build-constraints.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in pins))
    host_wheel(uv, venv, sdist_of(work), scratch / "host-warmup", epoch)  # warm-ups, not counted; the
    host_wheel_isolated(uv, constraints, sdist_of(work), scratch / "isolated-warmup", epoch, offline=False)  # cache
    end_to_end: list[float] = []
    reported: list[float] = []
    host: list[float] = []
    isolated: list[float] = []
    alone: list[float] = []
    seen: set[str] = set()
    log(f"wheel stage x{runs}: pyrel build wheel / uv build --wheel (twice) / nix-store --realise, alternating")
    for index in range(runs):
        mutate(target)
        run([*pyrel, "build", "source", "-C", str(work)])
        wall, report = build_json(pyrel, work, "wheel")
        stage = stage_of(report, "wheel") or {}
        if stage.get("store-path") in seen:
            raise RuntimeError("pyrel build wheel reused a wheel stage: the mutation did not reach it")
        seen.add(str(stage.get("store-path")))
        end_to_end.append(wall)
        if isinstance(report.get("seconds"), (int, float)):
            reported.append(float(report["seconds"]))
        host.append(host_wheel(uv, venv, sdist_of(work), scratch / f"host-{index}", epoch))
        isolated.append(
            host_wheel_isolated(uv, constraints, sdist_of(work), scratch / f"isolated-{index}", epoch, offline=True)
        )
        mutate(target)  # the plan.json of `pyrel build wheel` now names both stages
        alone.append(realise_wheel_stage(work))
    run([*pyrel, "build", "source", "wheel", "-C", str(work)])  # settle dist/ on the last mutation
    e2e, bare, stage_alone, uv_default = summary(end_to_end), summary(host), summary(alone), summary(isolated)
    return {
        "mutated": str(target.relative_to(work)),
        "host-pins": pins,
        "pyrel-build-wheel": {**e2e, "reported-median": summary(reported)["median"]},
        "stage-derivation-realise": stage_alone,
        "uv-build-wheel-on-host": uv_default,
        "uv-build-wheel-no-build-isolation-on-host": bare,
        "ratios": {
            "stage-derivation-over-host": ratio(stage_alone["median"], uv_default["median"]),
            "end-to-end-over-host": ratio(e2e["median"], uv_default["median"]),
            "stage-derivation-over-no-isolation": ratio(stage_alone["median"], bare["median"]),
            "end-to-end-over-no-isolation": ratio(e2e["median"], bare["median"]),
        },
    }


def compilers(work: Path, report: dict[str, Any] | None, audit: dict[str, Any] | None) -> dict[str, Any]:
    """Per stage: compiler packages in the lock, in the audit's sandbox, compiler executables in the root."""
    systems = stage_system(work)
    audited = {s.get("name"): s for s in (audit or {}).get("stages", [])}
    result: dict[str, Any] = {}
    for name in sorted(set(systems) | set(audited), key=lambda n: (n not in systems, n)):
        locked = systems.get(name, [])
        matched = [p for p in locked if any(fnmatch.fnmatch(p, g) for g in COMPILER_PACKAGES)]
        base = [p for p in matched if any(fnmatch.fnmatch(p, g) for g in NOT_A_COMPILER)]
        sandbox = audited.get(name, {}).get("sandbox", {})
        in_audit = sorted(
            {
                str(c.get("name"))
                for c in sandbox.get("components", [])
                if c.get("kind") == "deb"
                and any(fnmatch.fnmatch(str(c.get("name")), g) for g in COMPILER_PACKAGES)
                and not any(fnmatch.fnmatch(str(c.get("name")), g) for g in NOT_A_COMPILER)
            }
        )
        executables: list[str] = []
        for entry in sandbox.get("store-paths", []):
            if entry.get("role") != "root":
                continue
            for bindir in ("usr/bin", "bin"):
                directory = Path(entry["path"]) / bindir
                if directory.is_dir():
                    executables += sorted(
                        f"{bindir}/{f.name}"
                        for f in directory.iterdir()
                        if any(fnmatch.fnmatch(f.name, g) for g in COMPILER_EXECUTABLES)
                    )
        built = stage_of(report or {}, name)
        result[name] = {
            "debian-packages": len(locked),
            "closure-packages": (built or {}).get("closure", {}).get("packages"),
            "lock-matches": matched,
            "lock-compilers": [p for p in matched if p not in base],
            "audit-compilers": in_audit,
            "root-executables": executables,
            "has-compiler": bool([p for p in matched if p not in base] or in_audit or executables),
        }
    return result


def build_all_and_audit(pyrel: list[str], work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    log(f"pyrel build all -C {work} --json")
    _, report = build_json(pyrel, work, "all")
    log(f"pyrel audit -C {work} --json")
    audit = parse_json_output(run([*pyrel, "audit", "-C", str(work), "--json"]).stdout)
    return report, audit


def compiler_verdict(table: dict[str, Any]) -> dict[str, Any]:
    checked = {name: table[name]["has-compiler"] for name in ("docs", "test") if name in table}
    return {
        "checked": checked,
        "not-planned": [name for name in ("docs", "test") if name not in table],
        "met": None if not checked else not any(checked.values()),
    }


# --------------------------------------------------------------------------- one project


def bench_project(label: str, origin: Path, scratch: Path, runs: int, pyrel: list[str], uv: str) -> dict[str, Any]:
    work = git_copy(origin, scratch / "project")
    log(f"[{label}] copied to {work}")
    lock = warm_lock(pyrel, work, runs)
    report, audit = build_all_and_audit(pyrel, work)
    test = stage_of(report, "test")
    test_packages = None if test is None else test.get("closure", {}).get("packages")
    table = compilers(work, report, audit)
    wheel = wheel_stage(pyrel, work, scratch, runs, uv)
    return {
        "label": label,
        "origin": str(origin),
        "stages": [s.get("stage") for s in report.get("stages", [])],
        "statuses": {s.get("stage"): s.get("status") for s in report.get("stages", [])},
        "warm-lock": lock,
        "wheel-stage": {**wheel, "met": _le(wheel["ratios"]["stage-derivation-over-host"], TARGETS["wheel-over-host"])},
        "test-closure": {"packages": test_packages, "met": _le(test_packages, TARGETS["test-closure-packages"])},
        "compilers": {"stages": table, **compiler_verdict(table)},
    }


def bench_c_extension(scratch: Path, pyrel: list[str]) -> dict[str, Any]:
    work = git_copy(C_EXTENSION, scratch / "c-extension")
    log(f"[c-extension] pyrel lock -C {work}")
    run([*pyrel, "lock", "-C", str(work)])
    report, audit = build_all_and_audit(pyrel, work)
    table = compilers(work, report, audit)
    return {
        "label": "tests/packages/c-extension",
        "stages": [s.get("stage") for s in report.get("stages", [])],
        "statuses": {s.get("stage"): s.get("status") for s in report.get("stages", [])},
        "compilers": {"stages": table, **compiler_verdict(table)},
    }


# --------------------------------------------------------------------------- report


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")


def secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def print_compilers(compilers_result: dict[str, Any]) -> None:
    for name, row in compilers_result["stages"].items():
        found = row["lock-compilers"] or row["audit-compilers"] or row["root-executables"]
        text = ", ".join(dict.fromkeys([*row["lock-compilers"], *row["audit-compilers"], *row["root-executables"]]))
        extra = f" (also {', '.join(p for p in row['lock-matches'] if p not in row['lock-compilers'])}: no compiler)"
        extra = extra if len(row["lock-matches"]) > len(row["lock-compilers"]) else ""
        print(f"  {name:<8} compiler: {'yes: ' + text[:90] if found else 'none'}{extra}")
    planned = ", ".join(compilers_result["not-planned"])
    note = f"; not planned: {planned}" if planned else ""
    print(f"  docs + test without a compiler: {verdict(compilers_result['met'])}{note}")


def print_project(result: dict[str, Any], runs: int) -> None:
    lock, wheel = result["warm-lock"], result["wheel-stage"]
    title = f"{result['label']}  (stages: {', '.join(result['stages'])})"
    print(f"\n{title}\n{'=' * len(title)}")
    print(f"{'metric':<52} {'value':>14}  {'target':<8} status")
    rows = [
        (f"warm pyrel lock, median of {runs}", secs(lock["median"]), "<= 3 s", verdict(lock["met"])),
        ("  min / max", f"{lock['min']:.2f} / {lock['max']:.2f}" if lock["median"] is not None else "n/a", "", ""),
        ("pyrel build wheel (source built first, untimed)", secs(wheel["pyrel-build-wheel"]["median"]), "", ""),
        ("wheel stage derivation, nix-store --realise", secs(wheel["stage-derivation-realise"]["median"]), "", ""),
        ("uv build --wheel (host, isolated, cache warm)", secs(wheel["uv-build-wheel-on-host"]["median"]), "", ""),
        (
            "uv build --wheel --no-build-isolation (host)",
            secs(wheel["uv-build-wheel-no-build-isolation-on-host"]["median"]),
            "",
            "",
        ),
        (
            "wheel stage derivation / uv build --wheel",
            _x(wheel["ratios"]["stage-derivation-over-host"]),
            "<= 1.3x",
            verdict(wheel["met"]),
        ),
        ("  pyrel build wheel / uv build --wheel", _x(wheel["ratios"]["end-to-end-over-host"]), "", ""),
        (
            "  wheel stage derivation / --no-build-isolation",
            _x(wheel["ratios"]["stage-derivation-over-no-isolation"]),
            "",
            "",
        ),
        ("  pyrel build wheel / --no-build-isolation", _x(wheel["ratios"]["end-to-end-over-no-isolation"]), "", ""),
        (
            "test stage closure packages",
            str(result["test-closure"]["packages"]),
            "<= 30",
            verdict(result["test-closure"]["met"]),
        ),
    ]
    for name, value, target, status in rows:
        print(f"{name:<52} {value:>14}  {target:<8} {status}")
    print_compilers(result["compilers"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--project", action="append", type=Path, default=[], help="another project to measure (repeatable)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement; medians are reported (5)")
    parser.add_argument("--output", type=Path, default=DEFAULT_RESULTS, help="where to write the JSON results")
    parser.add_argument("--no-c-extension", action="store_true", help="skip tests/packages/c-extension")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()

    pyrel, uv = pyrel_command(), uv_command()
    compile_bytecode()
    scratch_root = Path(tempfile.mkdtemp(prefix="pyrel-bench-release-"))
    started = time.perf_counter()
    load_before = load_average()
    results: list[dict[str, Any]] = []
    c_extension: dict[str, Any] | None = None
    try:
        projects = [("examples/hello", DEFAULT_EXAMPLE)] + [(p.resolve().name, p.resolve()) for p in options.project]
        for index, (label, origin) in enumerate(projects):
            scratch = scratch_root / f"p{index}"
            scratch.mkdir()
            result = bench_project(label, origin, scratch, options.runs, pyrel, uv)
            print_project(result, options.runs)
            results.append(result)
        if not options.no_c_extension:
            c_extension = bench_c_extension(scratch_root, pyrel)
            print("\ntests/packages/c-extension (lock + build all + audit)\n" + "=" * 52)
            print_compilers(c_extension["compilers"])
    finally:
        if options.keep:
            log(f"kept {scratch_root}")
        else:
            shutil.rmtree(scratch_root, ignore_errors=True)

    document = {
        "schema-version": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load-average-before": load_before,
            "load-average-after": load_average(),
            "nix": run(["nix-build", "--version"]).stdout.strip(),
            "uv": run([uv, "--version"]).stdout.strip(),
            "pyrel-command": pyrel,
        },
        "runs": options.runs,
        "targets": TARGETS,
        "projects": results,
        "c-extension": c_extension,
        "seconds": round(time.perf_counter() - started, 1),
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
