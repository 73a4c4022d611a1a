#!/usr/bin/env python3
"""A conformance corpus: build real published projects with pyrel, every stage, and report.

Usage: python benchmarks/corpus.py [--only NAME ...] [--list] [--budget SECONDS] [--output FILE]

Each project of ``CORPUS`` below is a published release, pinned by version and by
the sha256 of its sdist, and resolved as of the day after that release
(``exclude-newer``). For each one, in a temporary directory, the script:

1. downloads the published sdist with ``pip download --no-deps --no-binary NAME``
   (the machine's configured index; cached under ``<pyrel cache>/corpus-sdists``
   and checked by sha256 on every use) and unpacks it;
2. writes the overlay, the one configuration pyrel is given: ``exclude-newer``,
   appended to the sdist's ``pyproject.toml`` as ``[tool.pyrel]``, or written as
   ``pyrel.toml`` for a project without ``pyproject.toml`` (setup.py only);
3. runs ``pyrel lock`` and ``pyrel build all --json``, under a time budget for
   the whole project (``--budget``, default 270 s: 13 projects in under 60
   minutes on a 2-core machine when run alone);
4. reports, from what pyrel exported:

   * source: the rebuilt sdist (``dist/source/*.tar.gz``) against the published
     one, file names missing and extra (the overlay's own file is marked);
   * docs: whether the project has docs (Sphinx or MkDocs, by the files in the
     sdist), whether pyrel planned and built a docs stage, the intersphinx
     inventories the lock pinned, and every network attempt: the
     ``hermeticity-violations`` of ``--json`` and, as a cross-check, the network
     lines of the stage's exported logs (Sphinx's or MkDocs' warnings log);
   * tests: passed, failed, errored and skipped, from ``dist/test/junit.xml``,
     and the network lines of ``dist/test/pytest.log``;
   * each stage's closure (packages, bytes) and status, from ``build --json``;
   * the time taken (download, lock, build);

   and one status line per stage.

A failing project does not stop the run. The results go to
``benchmarks/corpus-results.json`` and a Markdown table is printed. This is a
script that prints numbers, not a test: it is not part of pytest and never fails
on a project's result (exit 0 unless the script itself cannot run).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = REPO / "benchmarks" / "corpus-results.json"
#: Seconds for one project, lock and build together (the download is not counted: it is cached).
DEFAULT_BUDGET = 270
STAGES = ("source", "wheel", "docs", "test")
#: A project's statuses where pyrel reported no stage: the error is all there is to say.
NO_STAGES = ("download-failed", "lock-failed", "lock-timeout", "build-failed")


@dataclass(frozen=True)
class Entry:
    name: str  # the distribution's name, as pip is asked for it
    version: str
    sha256: str  # of the published sdist: a re-upload or another file fails loudly
    released: str  # the sdist's upload time (the index's PEP 700 upload-time)
    exclude_newer: str  # the day after the release: requirements resolve as they did then
    backend: str
    layout: str  # how the build is configured (setup.py, pyproject only, ...)
    tests: str  # the suite's framework: "pytest" or "unittest" (run by pyrel's pytest)
    docs: str | None  # "sphinx", "mkdocs" or None: what the sdist ships
    features: tuple[str, ...] = field(default=())

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


# Projects not used by pyrel's own tests (tests/), each small and quick, each sdist checked to ship
# its tests (and its docs where ``docs`` is set). Together: setuptools with setup.py and
# pyproject-only, setuptools-scm, hatchling with and without hatch-vcs, flit-core, pdm-backend,
# poetry-core, two C extensions, Sphinx with intersphinx and third-party extensions, MkDocs Material,
# pytest and unittest suites, and releases from 2022 (three years old and more).
# Left out: mmh3 (every 5.x sdist leaves out tests/helper.py, which its tests import).
CORPUS: tuple[Entry, ...] = (
    Entry(
        "jmespath",
        "1.0.1",
        "90261b206d6defd58fdd5e85f478bf633a2901798906be2ad389150c5c60edbe",
        "2022-06-17T18:00:12Z",
        "2022-06-18",
        "setuptools",
        "setup.py + setup.cfg, no pyproject.toml",
        "unittest",
        None,
        ("old release (2022)", "pure Python"),
    ),
    Entry(
        "tabulate",
        "0.9.0",
        "0095b12bf5966de529c0feb1fa08671671b3368eec77d7ef7ab114be2c068b3c",
        "2022-10-06T17:21:48Z",
        "2022-10-07",
        "setuptools + setuptools-scm",
        "pyproject.toml only",
        "pytest",
        None,
        ("old release (2022)", "setuptools-scm version from PKG-INFO", "test/ directory"),
    ),
    Entry(
        "termcolor",
        "2.5.0",
        "998d8d27da6d48442e8e1f016119076b690d962507531df4890fcd2db2ef8a6f",
        "2024-10-06T19:50:04Z",
        "2024-10-07",
        "hatchling + hatch-vcs",
        "pyproject.toml",
        "pytest",
        None,
        ("hatch-vcs version without .git", "pure Python"),
    ),
    Entry(
        "platformdirs",
        "4.3.6",
        "357fb2acbc885b0419afd3ce3ed34564c13c9b95c89360cd9563f73aa5e2b907",
        "2024-09-17T19:06:50Z",
        "2024-09-18",
        "hatchling + hatch-vcs",
        "pyproject.toml",
        "pytest",
        None,
        ("test extra (appdirs, covdefaults, pytest-mock)",),
    ),
    Entry(
        "more-itertools",
        "10.5.0",
        "5482bfef7849c25dc3c6dd53a6173ae4795da2a41a80faea6700d9f5846c5da6",
        "2024-09-05T15:28:22Z",
        "2024-09-06",
        "flit-core",
        "pyproject.toml",
        "unittest",
        "sphinx",
        ("Sphinx with sphinx_rtd_theme (docs/requirements.txt)",),
    ),
    Entry(
        "installer",
        "0.7.0",
        "a26d3e3116289bb08216e0d0f7d925fcef0b0194eedfa0c944bcaaa106c4b631",
        "2023-03-17T20:39:38Z",
        "2023-03-18",
        "flit-core",
        "pyproject.toml",
        "pytest",
        "sphinx",
        ("Sphinx with intersphinx, furo, myst-parser, sphinx-argparse", "tests/requirements.txt"),
    ),
    Entry(
        "findpython",
        "0.6.2",
        "e0c75ba9f35a7f9bb4423eb31bd17358cccf15761b6837317719177aeff46723",
        "2024-10-17T01:34:14Z",
        "2024-10-18",
        "pdm-backend",
        "pyproject.toml",
        "pytest",
        None,
        ("pdm scm version from PKG-INFO", "[tool.pdm.dev-dependencies] tests"),
    ),
    Entry(
        "cleo",
        "2.1.0",
        "0b2c880b5d13660a7ea651001fb4acb527696c01f15c9ee650f377aa543fd523",
        "2023-10-30T18:54:12Z",
        "2023-10-31",
        "poetry-core",
        "pyproject.toml ([tool.poetry])",
        "pytest",
        None,
        (
            "Poetry dev group with multiple-constraint entries (lists with python markers)",
            "binary-wheel dependency (rapidfuzz)",
        ),
    ),
    Entry(
        "cbor2",
        "5.6.5",
        "b682820677ee1dbba45f7da11898d2720f92e06be36acec290867d5ebf3d7e09",
        "2024-10-09T12:26:24Z",
        "2024-10-10",
        "setuptools + setuptools-scm",
        "pyproject.toml + setup.py (the C part)",
        "pytest",
        "sphinx",
        ("C extension", "Sphinx with intersphinx, sphinx-autodoc-typehints, sphinx_rtd_theme", "hypothesis tests"),
    ),
    Entry(
        "xxhash",
        "3.5.0",
        "84f2caddf951c9cbf8dc2e22a89d4ccf5d86391ac6418fe81e3c67d0cf60b45f",
        "2024-08-17T09:20:38Z",
        "2024-08-18",
        "setuptools",
        "setup.py + pyproject.toml",
        "unittest",
        None,
        ("C extension (bundled libxxhash)",),
    ),
    Entry(
        "wcwidth",
        "0.2.13",
        "72ea0c06399eb286d978fdedb6923a9eb47e1c486ce63e9b4e64fc18303972b5",
        "2024-01-06T02:10:57Z",
        "2024-01-07",
        "setuptools",
        "setup.py + setup.cfg, no pyproject.toml",
        "pytest",
        "sphinx",
        ("Sphinx with intersphinx (pinned Sphinx 4.5 in docs/requirements.txt)",),
    ),
    Entry(
        "python-dotenv",
        "1.0.1",
        "e324ee90a023d808f1959c46bcbc04446a10ced277783dc6ee09987c37ec10ca",
        "2024-01-23T06:33:00Z",
        "2024-01-24",
        "setuptools",
        "setup.py + setup.cfg, no pyproject.toml",
        "pytest",
        "mkdocs",
        ("MkDocs Material + mkdocstrings (requirements-docs.txt)",),
    ),
    Entry(
        "dirty-equals",
        "0.8.0",
        "798db3b9481b9a5024c0e520946507676ed2f0c65317d3e95bdce1a01657cf60",
        "2024-08-13T19:59:22Z",
        "2024-08-14",
        "hatchling",
        "pyproject.toml",
        "pytest",
        "mkdocs",
        ("MkDocs Material + mkdocstrings (requirements/docs.txt)", "requirements/tests.txt"),
    ),
)

#: Lines of a log that show a network attempt beyond what pyrel's own classifier knows (intersphinx
#: says "not fetchable" before quoting the exception; requests' wrapper without the errno).
NETWORK_EXTRA = re.compile(
    r"intersphinx inventory .* not fetchable|failed to reach any of the inventories"
    r"|Max retries exceeded with url|ConnectionRefusedError|urlopen error"
)


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"corpus: {message}", file=sys.stderr, flush=True)


def pyrel_command() -> list[str]:
    """The console script installed beside this interpreter, else `python -m pywrap`."""
    script = Path(sys.executable).parent / "pyrel"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "pywrap"]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_root() -> Path:
    try:
        from pywrap.cache import cache_dir  # pyrel's download cache, as the tests' sdists use

        return Path(cache_dir()) / "corpus-sdists"
    except ImportError:
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pyrel" / "corpus-sdists"


@dataclass
class Ran:
    argv: list[str]
    code: int | None  # None: killed at the budget
    stdout: str
    stderr: str
    seconds: float


def run_within(argv: list[str], seconds: float) -> Ran:
    """Run a command in its own process group; past ``seconds``, end that group (only it)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=max(seconds, 1))
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        code = None
    return Ran(argv, code, out or "", err or "", round(time.perf_counter() - started, 1))


def error_lines(text: str, limit: int = 12) -> list[str]:
    """pyrel's own error and hint lines with an error's indented continuation (the URLs an intersphinx
    error tried, say), else the output's last lines."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    picked: list[tuple[str, bool]] = []  # (line, is an error's or hint's own line)
    in_error = False
    for line in lines:
        if re.match(r"\s*(error|hint|hermeticity violation)\b", line):
            picked.append((line, True))
            in_error = line.lstrip().startswith("error")
        elif in_error and line[:1].isspace():
            picked.append((line, False))
        else:
            in_error = False
    if not picked:
        return lines[-limit:]
    # Every error and hint line is kept; their continuations fill what is left of ``limit``.
    room = max(limit - sum(head for _, head in picked), 0)
    kept, dropped = [], 0
    for line, head in picked:
        if head or room > 0:
            kept.append(line)
            room -= not head
        else:
            dropped += 1
    return kept + ([f"  ... {dropped} more lines"] if dropped else [])


def parse_json(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        report: dict[str, Any] = json.loads(text[start:])
    except json.JSONDecodeError:
        return None
    return report


# --------------------------------------------------------------------------- one project


def published_sdist(entry: Entry, cache: Path) -> Path:
    directory = cache / f"{entry.name}-{entry.version}"
    cached = sorted(directory.glob("*.tar.gz")) if directory.is_dir() else []
    if len(cached) == 1 and sha256_of(cached[0]) == entry.sha256:
        return cached[0]
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=directory.parent) as scratch:
        # --no-binary NAME, not :all: (which would also build the backend's own requirements from their
        # sdists to prepare the metadata: minutes instead of seconds); --no-deps: the sdist alone.
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                entry.name,
                "--dest",
                scratch,
                entry.spec,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"pip download {entry.spec} failed: {proc.stderr.strip()[-600:]}")
        files = sorted(Path(scratch).glob("*.tar.gz"))
        if len(files) != 1:
            raise RuntimeError(f"pip download {entry.spec} gave {[f.name for f in files]}, not one .tar.gz")
        digest = sha256_of(files[0])
        if digest != entry.sha256:
            raise RuntimeError(f"{files[0].name} has sha256 {digest}, not the pinned {entry.sha256}")
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        target = directory / files[0].name
        files[0].replace(target)
    return target


def member_names(sdist: Path) -> set[str]:
    """The sdist's files (not directories), without the top directory."""
    with tarfile.open(sdist, "r:gz") as archive:
        return {
            member.name.split("/", 1)[1] for member in archive.getmembers() if not member.isdir() and "/" in member.name
        }


def unpack(sdist: Path, destination: Path) -> Path:
    destination.mkdir(parents=True)
    with tarfile.open(sdist, "r:gz") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
        else:  # Python before 3.11.4 (Debian 12's is 3.11.2): the same refusals, by hand
            for member in archive.getmembers():
                parts = Path(member.name).parts
                # A link's target as data_filter reads it: a symlink's relative to its directory (griffe's
                # docs/logo.svg -> ../logo.svg stays in the tree), a hard link's relative to the top.
                base = os.path.dirname(member.name) if member.issym() else ""
                target = os.path.normpath(os.path.join(base, member.linkname))
                if (
                    member.name.startswith("/")
                    or ".." in parts
                    or member.isdev()
                    or (
                        (member.issym() or member.islnk())
                        and (member.linkname.startswith("/") or target == ".." or target.startswith("../"))
                    )
                ):
                    raise RuntimeError(f"{sdist.name}: refusing to unpack {member.name!r}")
            archive.extractall(destination)
    (top,) = destination.iterdir()
    return top


def write_overlay(project: Path, entry: Entry, exclude_newer: bool = True) -> str | None:
    """exclude-newer, the only configuration: into pyproject.toml, else a pyrel.toml. Returns the file."""
    if not exclude_newer:
        return None
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        if "pyrel" in tomllib.loads(pyproject.read_text()).get("tool", {}):
            raise RuntimeError(f"{entry.name}'s pyproject.toml has a [tool.pyrel] table already")
        with pyproject.open("a") as stream:
            stream.write(f'\n[tool.pyrel]\nexclude-newer = "{entry.exclude_newer}"\n')
        return "pyproject.toml"
    (project / "pyrel.toml").write_text(f'exclude-newer = "{entry.exclude_newer}"\n')
    return "pyrel.toml"


def docs_kind(project: Path) -> str | None:
    """What the sdist ships: a Sphinx conf.py where pyrel looks, or an mkdocs.yml."""
    if any((project / d / "conf.py").is_file() for d in ("docs", "doc", "Doc", "docs/source", "doc/source")):
        return "sphinx"
    if (project / "mkdocs.yml").is_file() or (project / "mkdocs.yaml").is_file():
        return "mkdocs"
    return None


def network_findings(stage: str, text: str) -> list[dict[str, str]]:
    """Network attempts in a stage's log, as pyrel's classifier names them, plus intersphinx's words."""
    found: list[dict[str, str]] = []
    try:
        from pywrap.execution.hermeticity import classify

        found = [v.to_json() for v in classify(text, stage) if v.kind == "network"]
    except ImportError:
        pass
    seen = {item["evidence"] for item in found}
    for line in text.splitlines():
        line = line.strip()
        if NETWORK_EXTRA.search(line) and line not in seen and not any(line in e or e in line for e in seen):
            seen.add(line)
            found.append(
                {"kind": "network", "explanation": f"the stage '{stage}' tried to reach the network", "evidence": line}
            )
    return found


def junit_counts(path: Path) -> dict[str, int] | None:
    if not path.is_file():
        return None
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, 0) or 0)
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return counts


def read_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def compare_sdist(project: Path, published: Path, overlay: str | None) -> dict[str, Any]:
    rebuilt = sorted((project / "dist" / "source").glob("*.tar.gz"))
    if not rebuilt:
        return {"rebuilt": None}
    ours, theirs = member_names(rebuilt[0]), member_names(published)
    missing, extra = sorted(theirs - ours), sorted(ours - theirs)
    return {
        "rebuilt": rebuilt[0].name,
        "published": published.name,
        "same-name": rebuilt[0].name == published.name,
        "files": len(ours),
        "published-files": len(theirs),
        "missing": missing,
        "extra": extra,
        # The overlay's file is ours, not the project's: an sdist that ships it is not a difference.
        "extra-overlay": [name for name in extra if name == overlay],
    }


def build_project(
    entry: Entry, scratch: Path, pyrel: list[str], budget: float, cache: Path, exclude_newer: bool = True
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": entry.name,
        "version": entry.version,
        "backend": entry.backend,
        "layout": entry.layout,
        "tests-framework": entry.tests,
        "docs-expected": entry.docs,
        "features": list(entry.features),
        "released": entry.released,
        "exclude-newer": entry.exclude_newer if exclude_newer else None,
        "budget-seconds": budget,
    }
    times: dict[str, float | None] = {}
    result["seconds"] = times
    started = time.perf_counter()
    try:
        published = published_sdist(entry, cache)
    except RuntimeError as error:
        result.update(status="download-failed", error=[str(error)])
        return result
    times["download"] = round(time.perf_counter() - started, 1)
    project = unpack(published, scratch / entry.name)
    overlay = write_overlay(project, entry, exclude_newer)
    result["overlay"] = overlay
    result["docs-in-sdist"] = docs_kind(project)

    log(f"[{entry.name}] pyrel lock")
    deadline = time.perf_counter() + budget
    lock = run_within([*pyrel, "lock", "-C", str(project), "--json"], budget)
    times["lock"] = lock.seconds
    if lock.code != 0:
        result.update(
            status="lock-timeout" if lock.code is None else "lock-failed",
            error=error_lines(lock.stderr + lock.stdout),
            exit=lock.code,
        )
        times["total"] = round(time.perf_counter() - started, 1)
        return result
    # A stage the lock skipped (a requirement without a wheel, say) is only a warning: keep its reason.
    result["lock-warnings"] = [
        line.strip()[len("pyrel: warning: ") :]
        for line in lock.stderr.splitlines()
        if line.strip().startswith("pyrel: warning: ")
    ]
    locked = parse_json(lock.stdout) or {}
    result["locked-stages"] = [stage.get("name") for stage in locked.get("stages", [])]
    result["locked"] = {
        stage.get("name"): {
            "debian-packages": len(stage.get("debian-packages", [])),
            "wheels": len(stage.get("wheels", [])),
            "inventories": [i.get("url") for i in stage.get("inventories", [])],
        }
        for stage in locked.get("stages", [])
    }

    log(f"[{entry.name}] pyrel build all ({', '.join(result['locked-stages'])})")
    build = run_within([*pyrel, "build", "all", "-C", str(project), "--json"], deadline - time.perf_counter())
    times["build"] = build.seconds
    times["total"] = round(time.perf_counter() - started, 1)
    report = parse_json(build.stdout)
    result["exit"] = build.code
    if build.code is None:
        result["status"] = "build-timeout"
    elif report is None:
        result.update(status="build-failed", error=error_lines(build.stderr + build.stdout))
    else:
        result["status"] = "success" if build.code == 0 else "stage-failed"
    if build.code not in (0, None) and "error" not in result:
        result["error"] = error_lines(build.stderr)
    if report is not None:
        times["build-reported"] = report.get("seconds")
        result["source-tree"] = {k: v for k, v in (report.get("source") or {}).items() if k != "excluded"}
    stages: dict[str, dict[str, Any]] = {}
    for stage in (report or {}).get("stages", []):
        stages[stage["stage"]] = {
            "status": stage.get("status"),
            "reason": stage.get("reason"),
            "closure": stage.get("closure"),
            "outputs": [output.get("name") for output in stage.get("outputs", [])],
            "hermeticity-violations": stage.get("hermeticity-violations", []),
            "notices": stage.get("notices", []),
            "hint": stage.get("hint") or None,
        }
    result["stages"] = stages
    dist = project / "dist"
    result["sdist"] = compare_sdist(project, published, overlay)
    docs_logs = "\n".join(read_text(path) for path in sorted((dist / "docs").glob("*.log")))
    docs_archives = sorted(p.name for p in (dist / "docs").glob("*.tar.gz"))
    result["docs"] = {
        "planned": "docs" in stages or "docs" in result["locked-stages"],
        "built": bool(docs_archives),
        "archives": docs_archives,
        "warnings": sum(1 for line in docs_logs.splitlines() if "WARNING" in line),
        "network": network_findings("docs", docs_logs),
    }
    result["tests"] = {
        "planned": "test" in stages or "test" in result["locked-stages"],
        "junit": junit_counts(dist / "test" / "junit.xml"),
        "network": network_findings("test", read_text(dist / "test" / "pytest.log")),
    }
    return result


# --------------------------------------------------------------------------- report


def mb(value: int | None) -> str:
    return "?" if value is None else f"{value / 1e6:.0f} MB"


def skipped_at_lock(result: dict[str, Any], stage: str) -> list[str]:
    """The lock's warnings that it skipped this stage (a requirement without a wheel, say)."""
    return [w for w in result.get("lock-warnings", []) if w.startswith(f"skipping stage '{stage}'")]


def unplanned_line(result: dict[str, Any], stage: str) -> str:
    expected = stage == "docs" and result.get("docs-in-sdist")
    note = f" (the sdist ships {result['docs-in-sdist']} docs)" if expected else ""
    return f"{result['name']} {stage}: not planned{note}" + "".join(
        f"; lock: {w}" for w in skipped_at_lock(result, stage)
    )


def stage_detail(result: dict[str, Any], stage: str) -> str:
    """What the corpus measures of a stage: the sdist against the published one, docs warnings, test counts."""
    if stage == "source":
        sdist = result.get("sdist", {})
        if not sdist.get("rebuilt"):
            return ""
        extra = [x for x in sdist["extra"] if x not in sdist["extra-overlay"]]
        text = (
            f"; sdist {sdist['files']} files vs published {sdist['published-files']}: "
            f"{len(sdist['missing'])} missing, {len(extra)} extra"
        )
        if sdist["extra-overlay"]:
            text += " (+ the overlay's " + ", ".join(sdist["extra-overlay"]) + ")"
        return text
    if stage == "docs":
        docs = result["docs"]
        return f"; {docs['warnings']} warnings, {len(docs['network'])} network attempts"
    counts = result["tests"]["junit"] if stage == "test" else None
    if not counts:
        return ""
    return (
        f"; {counts['passed']} passed, {counts['failures']} failed, {counts['errors']} errors, "
        f"{counts['skipped']} skipped; {len(result['tests']['network'])} network attempts"
    )


def stage_lines(result: dict[str, Any]) -> list[str]:
    """One status line per stage."""
    name = result["name"]
    if result.get("status") in NO_STAGES:
        return [f"{name}: {result['status']}: {' / '.join(line.strip() for line in result.get('error', []))[:900]}"]
    lines = []
    stages = result.get("stages", {})
    for stage in STAGES:
        info = stages.get(stage)
        if info is None:
            lines.append(unplanned_line(result, stage))
            continue
        closure = info.get("closure") or {}
        text = f"{name} {stage}: {info['status']}"
        if closure.get("packages") is not None:
            text += f", closure {closure['packages']} packages, {mb(closure.get('bytes'))}"
        text += stage_detail(result, stage)
        violations = info.get("hermeticity-violations") or []
        if violations:
            text += "; hermeticity: " + ", ".join(sorted({v.get("kind", "?") for v in violations}))
        if info["status"] != "success" and info.get("reason"):
            text += f" ({info['reason']})"
        if info.get("hint"):
            text += f"; hint: {info['hint']}"
        for notice in info.get("notices") or []:
            text += f"; notice: {notice}"
        lines.append(text)
    return lines


def row(result: dict[str, Any]) -> str:
    stages = result.get("stages", {})

    def cell(stage: str) -> str:
        info = stages.get(stage)
        if info is None:
            if result.get("status") in NO_STAGES:
                return "✗ build" if result.get("status") == "build-failed" else "✗ lock"
            return "skipped at lock" if skipped_at_lock(result, stage) else "—"
        closure = info.get("closure") or {}
        mark = {"success": "ok", "failed": "FAILED", "aborted": "aborted"}.get(info["status"], str(info["status"]))
        if closure.get("packages") is None:  # a stage that failed or never ran has no closure to count
            return mark
        return f"{mark} ({closure['packages']} pkgs, {mb(closure.get('bytes'))})"

    sdist = result.get("sdist") or {}
    if sdist.get("rebuilt"):
        extra = [x for x in sdist["extra"] if x not in sdist["extra-overlay"]]
        source_diff = f"−{len(sdist['missing'])} / +{len(extra)}"
    else:
        source_diff = "—"
    counts = (result.get("tests") or {}).get("junit")
    tests = f"{counts['passed']} / {counts['failures']} / {counts['errors']}" if counts else "—"
    docs = result.get("docs") or {}
    network = (
        len(docs.get("network", []))
        + len((result.get("tests") or {}).get("network", []))
        + sum(
            1
            for info in stages.values()
            for v in info.get("hermeticity-violations") or []
            if v.get("kind") == "network"
        )
    )
    seconds = result.get("seconds", {}).get("total")
    pinned = "" if result.get("exclude-newer") else " (as of today)"
    return (
        f"| {result['name']} {result['version']}{pinned} | {result['backend']} | {cell('source')} | "
        f"{source_diff} | {cell('wheel')} | {cell('docs')} | {cell('test')} | {tests} | {network} | "
        f"{'?' if seconds is None else f'{seconds:.0f} s'} | {result.get('status')} |"
    )


def markdown_table(results: list[dict[str, Any]]) -> str:
    header = (
        "| project | backend | source | sdist files vs published (missing / extra) | wheel | docs | test | "
        "tests passed / failed / errors | network attempts | time | status |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([header, *(row(result) for result in results)])


def list_corpus() -> None:
    print(f"{'name':<16} {'version':<8} {'exclude-newer':<13} {'backend':<28} {'tests':<9} {'docs':<7} features")
    for entry in CORPUS:
        print(
            f"{entry.name:<16} {entry.version:<8} {entry.exclude_newer:<13} {entry.backend:<28} "
            f"{entry.tests:<9} {entry.docs or '-':<7} {entry.layout}; {'; '.join(entry.features)}"
        )


def host_facts(pyrel: list[str]) -> dict[str, Any]:
    def out(argv: list[str]) -> str:
        # From /: `python -c` would import the pywrap of the working directory first.
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/")
        return proc.stdout.strip() if proc.returncode == 0 else ""

    pywrap = out([sys.executable, "-c", "import pywrap; print(pywrap.__file__)"])
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "nix": out(["nix-build", "--version"]),
        "pyrel-command": pyrel,
        "pywrap": pywrap,  # the pyrel that ran: this repository's, or another checkout (PYTHONPATH)
        "repository-commit": out(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
        "repository-dirty": bool(out(["git", "-C", str(REPO), "status", "--porcelain", "--", "pywrap", "nix"])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="build only this project (repeatable); see --list"
    )
    parser.add_argument("--list", action="store_true", help="list the corpus and exit")
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        help=f"seconds for one project's lock and build ({DEFAULT_BUDGET})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_RESULTS, help="where to write the JSON results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (the built projects)")
    parser.add_argument(
        "--no-exclude-newer",
        action="store_true",
        help="diagnostic: resolve requirements as of today, not as of each release (no overlay); the results record it",
    )
    options = parser.parse_args()

    if options.list:
        list_corpus()
        return 0
    known = {entry.name for entry in CORPUS}
    unknown = [name for name in options.only if name not in known]
    if unknown:
        parser.error(f"not in the corpus: {', '.join(unknown)} (see --list)")
    selected = [entry for entry in CORPUS if not options.only or entry.name in options.only]

    pyrel = pyrel_command()
    cache = cache_root()
    scratch = Path(tempfile.mkdtemp(prefix="pyrel-corpus-"))
    started = time.perf_counter()
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results = []
    try:
        for index, entry in enumerate(selected, 1):
            log(f"({index}/{len(selected)}) {entry.spec}: {entry.backend}; budget {options.budget:.0f} s")
            try:
                result = build_project(
                    entry, scratch, pyrel, options.budget, cache, exclude_newer=not options.no_exclude_newer
                )
            except Exception as error:  # one project's surprise never stops the corpus
                result = {
                    "name": entry.name,
                    "version": entry.version,
                    "backend": entry.backend,
                    "status": "script-error",
                    "error": [f"{type(error).__name__}: {error}"],
                }
            results.append(result)
            for line in stage_lines(result):
                log(line)
    finally:
        if options.keep:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    table = markdown_table(results)
    print(table)
    print()
    for result in results:
        for line in stage_lines(result):
            print(f"- {line}")
    document = {
        "schema-version": 1,
        "kind": "pyrel-corpus",
        "created": created,
        "host": host_facts(pyrel),
        "budget-seconds-per-project": options.budget,
        "exclude-newer": not options.no_exclude_newer,
        "run": [entry.name for entry in selected],
        "not-run": [entry.name for entry in CORPUS if entry not in selected],
        "projects": results,
        "table": table,
        "seconds": round(time.perf_counter() - started, 1),
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {options.output} ({len(results)} projects, {document['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
