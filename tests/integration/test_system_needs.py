"""What a stage needs from the system, said even when it succeeds, in the real sandbox.

``tests/packages/system-needs``: a stage whose optional compile step fails for ``yaml.h`` (and
whose link misses ``-lyaml`` and pkg-config ``yaml-0.1``) and goes on, so it succeeds; a stage
that runs ``make`` without declaring it, so it fails (``undeclared-tool``); one whose compile
step misses ``yaml.h`` and fails.  The project is locked against the host's mirror as usual; the
Contents index pyrel reads to name the packages comes from a mirror this module serves on
127.0.0.1 and signs with its own key (so the test does not depend on the real mirror's 40 MB of
indexes).  With no mirror reachable, the warnings
still appear and say why no package is named.

One opt-in check (``PYREL_TEST_REAL_CONTENTS=1``) reads the real suite's index through the host's
apt sources.
"""

from __future__ import annotations

import datetime
import functools
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from pywrap.execution import system_needs
from pywrap.locking.lockfile import read_lock
from pywrap.providers.debian_contents import Wanted
from tests.debian_mirror import make_key, write_suite

pytestmark = [pytest.mark.nix, pytest.mark.network]
FIXTURE = Path(__file__).resolve().parent.parent / "packages" / "system-needs"
DATE = datetime.datetime(2025, 11, 1, 6, 30, tzinfo=datetime.UTC)


#: The paths the local mirror was asked for.
ASKED: list[str] = []


class _Recording(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        ASKED.append(self.path)


@functools.cache
def _serve(directory: str) -> str:
    """Serve ``directory`` on 127.0.0.1 (a daemon thread, for the rest of the session)."""
    handler = functools.partial(_Recording, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def _pyrel(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    local = {"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run(
        [sys.executable, "-m", "pywrap", *args, "-C", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, **local, **env},
        check=False,
    )


def _config(path: Path, mirror: str, keyring: Path | None = None) -> dict[str, str]:
    lines = [f'debian-mirror = "{mirror}"'] + ([f'debian-keyring = "{keyring}"'] if keyring else [])
    path.write_text("\n".join(lines) + "\n")
    return {"PYREL_CONFIG": str(path)}


def _stages(completed: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert completed.returncode == 1, completed.stdout + completed.stderr  # undeclared-tool fails
    return {stage["stage"]: stage for stage in json.loads(completed.stdout)["stages"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("system-needs") / "system-needs"
    shutil.copytree(FIXTURE, root)
    locked = _pyrel(root, "lock", env={})
    assert locked.returncode == 0, locked.stderr
    return root


def _mirror(root: Path, suite: str, arch: str) -> tuple[str, Path]:
    """A signed suite listing a Contents index with the fixture's files (and a line of this run, so that
    its sha256 is new and pyrel downloads it)."""
    key, keyring = make_key(root / "keys", "local-archive")
    triplet = _triplet(arch)
    contents = (
        f"usr/share/doc/pyrel-test/{uuid.uuid4().hex}                 doc/pyrel-test\n"
        "usr/bin/make                                            devel/make\n"
        "usr/include/yaml.h                                      libdevel/libyaml-dev\n"
        "usr/share/doc/libyaml-dev/examples/libyaml.so           doc/not-where-ld-looks\n"
        f"usr/lib/{triplet}/libyaml.so                     libdevel/libyaml-dev\n"
        f"usr/lib/{triplet}/pkgconfig/yaml-0.1.pc          libdevel/libyaml-dev\n"
    )
    extra = {f"main/Contents-{arch}.gz": gzip.compress(contents.encode(), mtime=0)}
    write_suite(root / "debian", suite, "", key, date=DATE, arch=arch, extra=extra, by_hash=True)
    return _serve(str(root)), keyring


def test_a_stage_that_succeeds_without_its_optional_extension_is_warned_with_the_package_to_add(
    project: Path, tmp_path: Path
) -> None:
    lock = read_lock(project)
    cache = {"PYREL_CACHE_DIR": str(tmp_path / "cache")}

    # No mirror answers: the stage still succeeds and its warnings say why no package is named.
    offline = _config(tmp_path / "offline.toml", f"http://127.0.0.1:1/debian {lock.suite}")
    stages = _stages(_pyrel(project, "build", "all", "--json", env={**cache, **offline}))
    optional = stages["optional-extension"]
    assert optional["status"] == "success", optional
    [header, link, module] = optional["notices"]
    assert header.startswith("a compile step did not find the header 'yaml.h', and the stage went on without it")
    assert "none is named: the suite's Contents index could not be read: cannot download" in header
    assert "fatal error: yaml.h: No such file or directory" in header
    assert "a link did not find the library -lyaml" in link and "cannot find -lyaml" in link
    assert "pkg-config did not find the pkg-config module 'yaml-0.1'" in module
    [tool] = stages["undeclared-tool"]["hermeticity-violations"]
    assert tool["kind"] == "undeclared-tool" and "none is named" in tool["explanation"]

    # The index from the local mirror: the stage is not rebuilt, what its log showed was remembered.
    base, keyring = _mirror(tmp_path / "mirror", lock.suite, lock.architecture)
    local = _config(tmp_path / "local.toml", f"{base}/debian {lock.suite}", keyring)
    ASKED.clear()
    built = _pyrel(project, "build", "all", "--json", env={**cache, **local})
    stages = _stages(built)
    [header, link, module] = stages["optional-extension"]["notices"]
    add = "add it to [stages.optional-extension].system and run `pyrel lock`"  # as pyrel.toml spells it
    assert "'libyaml-dev' ships it (/usr/include/yaml.h, " in header and add in header
    assert f"'libyaml-dev' ships it (/usr/lib/{_triplet(lock.architecture)}/libyaml.so" in link
    assert "'libyaml-dev' ships it" in module and "yaml-0.1.pc" in module
    [required] = stages["required-extension"]["notices"]
    assert required.startswith("a compile step did not find the header 'yaml.h': 'libyaml-dev' ships it")
    assert stages["required-extension"]["status"] == "failed"
    [tool] = stages["undeclared-tool"]["hermeticity-violations"]
    assert "For the program 'make': 'make' ships it (/usr/bin/make" in tool["explanation"]
    assert "[stages.undeclared-tool].system" in tool["explanation"]
    assert any("/main/by-hash/SHA256/" in path for path in ASKED), ASKED

    # Printed under the stage's result, as `warning:` lines.
    printed = _pyrel(project, "build", "optional-extension", env={**cache, **local})
    assert printed.returncode == 0, printed.stderr
    assert "warning: a compile step did not find the header 'yaml.h'" in " ".join(
        (printed.stdout + printed.stderr).split()
    )


def _triplet(arch: str) -> str:
    return {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[arch]


@pytest.mark.skipif(not os.environ.get("PYREL_TEST_REAL_CONTENTS"), reason="opt-in: reads the real suite's index")
def test_the_real_suites_contents_index_names_libyaml_dev(project: Path, tmp_path: Path) -> None:
    from pywrap.config.loader import load_project

    lock = read_lock(project)
    packages = system_needs.archive_lookup(load_project(project), lock, lambda message: None)
    wanted = [Wanted("header", "yaml.h"), Wanted("tool", "make"), Wanted("pkg-config", "yaml-0.1")]
    packages.ask(wanted)
    assert not packages.failure, packages.failure
    answers = {item.name: found.packages for item, found in packages.known.items() if found is not None}
    assert answers["yaml.h"] == ("libyaml-dev",) and answers["yaml-0.1"] == ("libyaml-dev",)
    assert "make" in answers["make"]
