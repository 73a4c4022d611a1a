"""What every stage's environment gives it, proved in the sandbox (tests/packages/stage-env):

* a private, empty, writable home: ``$HOME`` and the XDG directories under the
  build directory; writing ``~/.cache/x`` and ``$XDG_CONFIG_HOME`` succeeds, the
  host's home stays out of sight, and nothing written there reaches an output;
* with ``system = ["tzdata"]``, the time-zone database where Python's zoneinfo
  (``PYTHONTZPATH``) and the C library (``TZDIR``) look, and UTC as the local
  zone; without it, a zone lookup fails and pyrel says to add tzdata;
* a wheel's ``.data/scripts`` on PATH: docutils' ``#!python`` tools and ruff's
  dynamically linked program (which asks for a /lib64 loader the sandbox lacks);
* outside git, the build reports the source tree it listed (``source`` in --json).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]
PACKAGES = Path(__file__).resolve().parent.parent / "packages"
BUILT = ["home", "timezone", "wheel-scripts"]


@pytest.fixture(scope="module")
def home_probe() -> Iterator[Path]:
    """A file in the host's home, which the home stage tries to read."""
    probe = Path.home() / f".pyrel-stage-env-probe-{uuid.uuid4().hex[:8]}"
    probe.write_text("a secret of the host\n")
    yield probe
    probe.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def nonce() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, home_probe: Path, nonce: str) -> Path:
    root = tmp_path_factory.mktemp("stage-env") / "stage-env"
    shutil.copytree(PACKAGES / "stage-env", root)
    config = (root / "pyrel.toml").read_text()
    config = config.replace(
        'outputs = ["env.txt", "home.txt", "host-home.txt"]',
        'outputs = ["env.txt", "home.txt", "host-home.txt"]\n'
        f'env = {{ HOST_PROBE = "{home_probe}", NONCE = "{nonce}" }}',
    )
    (root / "pyrel.toml").write_text(config)
    completed = subprocess.run([*_pyrel(), "lock", "-C", str(root)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    return root


def _pyrel() -> list[str]:
    return [sys.executable, "-m", "pywrap"]


@pytest.fixture(scope="module")
def built(project: Path) -> tuple[dict[str, object], str]:
    completed = subprocess.run(
        [*_pyrel(), "build", *BUILT, "--json", "-C", str(project)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    report: dict[str, object] = json.loads(completed.stdout)
    return report, completed.stderr


def _stage(report: dict[str, object], name: str) -> dict[str, object]:
    stages = report["stages"]
    assert isinstance(stages, list)
    return next(stage for stage in stages if stage["stage"] == name)


def test_a_stage_writes_to_its_own_home_and_xdg_directories(
    built: tuple[dict[str, object], str], project: Path
) -> None:
    report, _ = built
    assert _stage(report, "home")["status"] == "success"
    dist = project / "dist" / "home"
    home, cache, config, data = (dist / "env.txt").read_text().splitlines()
    assert home == "/build/home"  # $TMPDIR/home: the build directory, never the host's home
    assert (cache, config, data) == (f"{home}/.cache", f"{home}/.config", f"{home}/.local/share")
    assert (dist / "home.txt").read_text().splitlines() == [
        "./.cache/x/data",
        "./.config/tool/settings.ini",
        "./.local/share/tool/db",
    ]


def test_the_host_home_stays_unreadable_and_nothing_of_the_home_reaches_an_output(
    built: tuple[dict[str, object], str], project: Path, nonce: str
) -> None:
    report, stderr = built
    dist = project / "dist" / "home"
    assert (dist / "host-home.txt").read_text().splitlines() == ["unreadable", "absent"]
    assert "a secret of the host" not in stderr
    store_path = _stage(report, "home")["store-path"]
    assert isinstance(store_path, str)
    assert sorted(os.listdir(store_path)) == ["env.txt", "home.txt", "host-home.txt"]
    written = Path.home() / ".cache" / "x" / "data"
    assert not (written.is_file() and nonce in written.read_text())


def test_a_stage_with_tzdata_has_the_time_zone_database_and_utc_as_local_zone(
    built: tuple[dict[str, object], str], project: Path
) -> None:
    report, _ = built
    assert _stage(report, "timezone")["status"] == "success"
    assert (project / "dist" / "timezone" / "tz.txt").read_text().splitlines() == [
        "1:00:00",  # Europe/Paris in January (zoneinfo, PYTHONTZPATH)
        "2:00:00",  # and in July
        "UTC 0 UTC",  # the local zone: TZ=UTC
        "CET 1",  # the C library's localtime, TZ=Europe/Paris read from TZDIR
        "True True",
    ]


def test_without_tzdata_a_zone_lookup_fails_and_pyrel_names_tzdata(
    project: Path, built: tuple[dict[str, object], str]
) -> None:
    completed = subprocess.run(
        [*_pyrel(), "build", "timezone-missing", "--json", "-C", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    [stage] = json.loads(completed.stdout)["stages"]
    [violation] = stage["hermeticity-violations"]
    assert violation["kind"] == "host-file"
    assert "add 'tzdata' to [stages.timezone-missing].system" in violation["explanation"]  # pyrel.toml's spelling


def test_a_wheels_data_scripts_are_on_path(built: tuple[dict[str, object], str], project: Path) -> None:
    report, _ = built
    assert _stage(report, "wheel-scripts")["status"] == "success"
    dist = project / "dist" / "wheel-scripts"
    docutils, ruff = (dist / "scripts.txt").read_text().splitlines()
    assert docutils.startswith("rst2html.py (Docutils 0.17.1")  # a `#!python` script of docutils' wheel
    assert ruff == "ruff 0.6.9"  # a dynamically linked program, started through the root's loader
    assert '<h1 class="title">Title</h1>' in (dist / "doc.html").read_text()
    assert "F401" in (dist / "ruff.txt").read_text()


def test_the_build_reports_the_source_tree_it_listed(built: tuple[dict[str, object], str], project: Path) -> None:
    report, _ = built
    source = report["source"]
    assert isinstance(source, dict)
    assert source["origin"] == "walked" and source["files"] == 1  # pyrel.toml; the test's tmp is no git tree
    excluded = {entry["path"]: entry["kind"] for entry in source["excluded"]}
    assert excluded["pyrel.lock.toml"] == "pyrel" and excluded[".pyrel/"] == "pyrel"
    # Without --json: one step line, then each entry left out with its reason.
    completed = subprocess.run(
        [*_pyrel(), "build", "home", "-C", str(project)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "pyrel: source tree: 1 file, every file under the project (no git work tree);" in completed.stderr
    assert "\n  pyrel.lock.toml: pyrel's lock file\n" in completed.stderr
    assert "\n  dist/: build output at the project's root" in completed.stderr
