"""Intersphinx without network, in the real sandbox (tests/packages/intersphinx).

The test serves another project's inventory (``objects.inv``) on 127.0.0.1 and points the fixture's
``intersphinx_mapping`` at it.  `pyrel lock` reads the mapping in the sandbox, downloads the inventory and
pins it; the docs stage, which has no network, turns ``:py:class:`upstream.Widget``` into a link to the
served documentation from the pinned copy.  An inventory found nowhere stops the lock, unless the stage
says `intersphinx = false`; a stage that runs Sphinx itself and reaches for the network fails.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import tomllib
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]
FIXTURE = Path(__file__).resolve().parent.parent / "packages" / "intersphinx"
PLACEHOLDER = "http://127.0.0.1:1/upstream"


def inventory() -> bytes:
    """A Sphinx inventory (version 2) as Sphinx's html builder writes it: one class, documented in api.html."""
    body = b"upstream.Widget py:class 1 api.html#$ -\n"
    return (
        b"# Sphinx inventory version 2\n# Project: Upstream\n# Version: 2.1\n"
        b"# The remainder of this file is compressed using zlib.\n" + zlib.compress(body)
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The other project's documentation root, served on 127.0.0.1 while the test runs."""
    site = tmp_path / "site"
    (site / "upstream").mkdir(parents=True)
    (site / "upstream" / "objects.inv").write_bytes(inventory())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/upstream"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _project(tmp_path: Path, target: str) -> Path:
    project = tmp_path / "linkdemo"
    shutil.copytree(FIXTURE, project)
    for conf in (project / "docs" / "conf.py", project / "rawdocs" / "conf.py"):
        conf.write_text(conf.read_text().replace(PLACEHOLDER, target))
    return project


def _index_html(project: Path) -> str:
    with tarfile.open(project / "dist/docs/linkdemo-1.0.0-docs-html.tar.gz") as archive:
        member = archive.extractfile("linkdemo-1.0.0-docs-html/index.html")
        assert member is not None
        return member.read().decode()


def test_cross_references_resolve_from_the_pinned_inventory_without_network(
    tmp_path: Path, run_pyrel: Run, served: str
) -> None:
    project = _project(tmp_path, served)
    locked = run_pyrel("lock", "-C", str(project), check=True)
    assert "read intersphinx_mapping as a literal" in locked.stderr + locked.stdout  # conf.py needs the wheel
    docs = tomllib.loads((project / "pyrel.lock.toml").read_text())["stages"]["docs"]
    assert docs["inventories"] == [
        {
            "name": "upstream",
            "target": served,
            "url": f"{served}/objects.inv",
            "sha256": hashlib.sha256(inventory()).hexdigest(),
            "size": len(inventory()),
            "project": "Upstream",
            "version": "2.1",
        }
    ]

    completed = run_pyrel("build", "docs", "--json", "-C", str(project), check=True)
    [stage] = [stage for stage in json.loads(completed.stdout)["stages"] if stage["stage"] == "docs"]
    assert stage["status"] == "success" and stage["hermeticity-violations"] == [] and stage["notices"] == []
    html = _index_html(project)
    # The link points where conf.py says the other project's documentation is; the inventory came from the store.
    assert f'href="{served}/api.html#upstream.Widget"' in html
    assert "inventor" not in (project / "dist/docs/sphinx-html.log").read_text()

    # The pinned copy is an input of the stage, counted like a wheel.
    audit = json.loads(run_pyrel("audit", "docs", "--json", "-C", str(project), check=True).stdout)
    [docs_audit] = [entry for entry in audit["stages"] if entry["name"] == "docs"]
    assert docs_audit["intersphinx"] == {
        "enabled": True,
        "inventories": [
            {"name": "upstream", "url": f"{served}/objects.inv", "sha256": hashlib.sha256(inventory()).hexdigest()}
        ],
    }
    assert "inventory:upstream=2.1" in {component["id"] for component in docs_audit["sandbox"]["components"]}

    # Sphinx run by the stage itself tries to download the inventory: the stage built, and still fails.
    raw = run_pyrel("build", "sphinx-raw", "--json", "-C", str(project))
    assert raw.returncode == 1, raw.stderr
    [raw_stage] = json.loads(raw.stdout)["stages"]
    assert raw_stage["status"] == "failed" and "network" in raw_stage["reason"]
    assert [violation["kind"] for violation in raw_stage["hermeticity-violations"]] == ["network"]
    assert "intersphinx inventory" in raw_stage["hermeticity-violations"][0]["explanation"]
    assert not (project / "dist" / "sphinx-raw").exists()
    assert "hermeticity violation (network)" in raw.stderr + raw.stdout


def test_an_inventory_found_nowhere_stops_the_lock_unless_the_stage_opts_out(tmp_path: Path, run_pyrel: Run) -> None:
    unreachable = f"http://127.0.0.1:{_closed_port()}/upstream"
    project = _project(tmp_path, unreachable)
    failed = run_pyrel("lock", "-C", str(project))
    assert failed.returncode == 3, failed.stderr
    assert f"{unreachable}/objects.inv" in failed.stderr and "intersphinx = false" in failed.stderr
    assert not (project / "pyrel.lock.toml").exists()

    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n[tool.pyrel.stages.docs]\nintersphinx = false\n")
    locked = run_pyrel("lock", "-C", str(project), check=True)
    assert "intersphinx = false" in locked.stderr + locked.stdout
    assert "inventories" not in tomllib.loads((project / "pyrel.lock.toml").read_text())["stages"]["docs"]

    built = run_pyrel("build", "docs", "-C", str(project), check=True)
    assert "warning: intersphinx = false" in built.stdout + built.stderr  # said by every build
    html = _index_html(project)
    assert "upstream.Widget" in html and unreachable not in html  # plain text, not a link
    assert "inventor" not in (project / "dist/docs/sphinx-html.log").read_text()  # nothing was tried
    audit = json.loads(run_pyrel("audit", "docs", "--json", "-C", str(project), check=True).stdout)
    [docs_audit] = [entry for entry in audit["stages"] if entry["name"] == "docs"]
    assert docs_audit["intersphinx"] == {"enabled": False, "inventories": []}
