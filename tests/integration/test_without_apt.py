"""Lock, fetch and build with only Nix and Python: apt, apt-get, apt-cache and dpkg hidden.

Each pyrel run here happens in a mount namespace (``unshare --mount``, as root) where an
empty, non-executable file is bind-mounted over every ``apt*`` and ``dpkg*`` program.
The example is locked and built there against the real mirror (the host's apt sources,
read as files) and against a local mirror this module builds from the locked .debs and
signs with its own key, served on 127.0.0.1: a version the mirror dropped is fetched from
a snapshot directory, and a tampered index, a tampered InRelease and an unknown key are
refused with nothing written to the lock or the cache.
"""

from __future__ import annotations

import datetime
import functools
import glob
import http.server
import lzma
import os
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pywrap.adapters import nixcache
from pywrap.cache import cache_dir
from pywrap.execution.fetch import artifact_store_path
from pywrap.locking.lockfile import read_lock
from pywrap.providers import debian_archive
from tests.conftest import copy_example
from tests.debian_mirror import make_key, write_suite

pytestmark = [
    pytest.mark.nix,
    pytest.mark.network,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare"),
]

HIDDEN_PATTERNS = ("/usr/bin/apt*", "/usr/bin/dpkg*", "/usr/sbin/apt*", "/usr/sbin/dpkg*")
SNAPSHOT_DATE = datetime.datetime(2025, 11, 1, 6, 30, tzinfo=datetime.UTC)
DROPPED = "zlib1g"  # in every stage's closure: the build cannot go on without it


def without_apt(args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m pywrap ARGS`` in a mount namespace where apt and dpkg do not exist."""
    empty = Path(os.environ.get("TMPDIR", "/tmp")) / "pyrel-no-apt-empty"
    empty.write_bytes(b"")
    empty.chmod(0o644)
    hidden = sorted({path for pattern in HIDDEN_PATTERNS for path in glob.glob(pattern) if os.path.isfile(path)})
    mounts = "".join(f"mount --bind {shlex.quote(str(empty))} {shlex.quote(path)}; " for path in hidden)
    check = "for tool in apt apt-get apt-cache dpkg dpkg-deb; do ! command -v $tool >/dev/null || exit 97; done; "
    command = shlex.join([sys.executable, "-m", "pywrap", *args])
    script = f"set -e; {mounts}{check}exec {command}"
    # The local mirrors are on 127.0.0.1: never through a proxy.
    local = {"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    completed = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **local, **(env or {})},
        check=False,
    )
    assert completed.returncode != 97, "apt or dpkg was still there"
    return completed


def _pyrel(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pywrap", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _ok(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def _entries(lock: dict[str, Any], *, urls: bool = True) -> dict[str, dict[str, Any]]:
    return {
        package["name"]: {key: value for key, value in package.items() if urls or key != "url"}
        for package in lock["debian"]["packages"]
    }


def _sums(project: Path) -> dict[str, str]:
    return {
        str(path.relative_to(project)): path.read_text() for path in sorted((project / "dist").glob("*/SHA256SUMS"))
    }


@pytest.fixture(scope="module")
def host_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example locked and built on the host, as a user with apt would."""
    project = copy_example("hello", tmp_path_factory.mktemp("host"))
    _ok(_pyrel(["lock", "-C", str(project)]))
    _ok(_pyrel(["build", "all", "-C", str(project)]))
    return project


def test_lock_and_build_all_without_apt_give_the_hosts_lock_and_outputs(host_built: Path, tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)
    # A fresh cache and an empty store: every .deb is downloaded by its locked URL, busybox read without dpkg.
    env = {"PYREL_CACHE_DIR": str(tmp_path / "cache")}
    _ok(without_apt(["lock", "-C", str(project)], env=env))
    ours = tomllib.loads((project / "pyrel.lock.toml").read_text())
    theirs = tomllib.loads((host_built / "pyrel.lock.toml").read_text())
    assert _entries(ours) == _entries(theirs)
    assert ours["stages"] == theirs["stages"] and ours["debian"]["releases"] == theirs["debian"]["releases"]
    built = _ok(without_apt(["build", "all", "-C", str(project), "--store", str(tmp_path / "store")], env=env))
    assert "fetching Debian package" in built.stderr + built.stdout
    assert _sums(project) == _sums(host_built)


@functools.cache
def _http_root(directory: str) -> str:
    """Serve ``directory`` on 127.0.0.1 (a daemon thread, for the rest of the test session)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def _locked_index_text(lock_root: Path) -> str:
    """The Packages text of every suite the host's lock read, from pyrel's index cache (verified when cached)."""
    cache = debian_archive.IndexCache(cache_dir() / "debian")
    texts = []
    for release in read_lock(lock_root).releases:
        cached = cache.release(release.url)
        assert cached is not None, f"{release.url} is not in pyrel's cache"
        keys = debian_archive.load_keys()
        signed = debian_archive.parse_release(debian_archive.verify_signed(cached[0], keys, release.url), release.url)
        for component in ("main",):
            found = debian_archive.index_files(signed, component, "amd64")
            assert found is not None and found[1] is not None
            data = cache.index(found[1].sha256, found[1].size)
            assert data is not None
            texts.append(data.decode())
    return "\n".join(texts)


@pytest.fixture(scope="module")
def local_mirror(host_built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, str]]:
    """``<root>/debian``: the host's candidates in one suite, the locked .debs in its pool, signed by our key;
    ``<root>/snapshot`` is empty until a test puts files there.  Yields (root, keyring, base URL)."""
    root = tmp_path_factory.mktemp("mirror")
    key, keyring = make_key(root / "keys", "local-archive")
    write_suite(root / "debian", "bookworm", _locked_index_text(host_built), key, date=SNAPSHOT_DATE, compression="")
    for deb in read_lock(host_built).packages:
        pool = deb.url.partition("/pool/")[2]
        target = root / "debian" / "pool" / pool.replace("%2b", "+").replace("%7e", "~")
        target.parent.mkdir(parents=True, exist_ok=True)
        source = cache_dir() / "artifacts" / deb.sha256[:2] / deb.sha256 / deb.store_name
        shutil.copyfile(source if source.is_file() else nixcache.real_path(artifact_store_path(deb)), target)
    yield root, keyring, _http_root(str(root))


def _user_config(path: Path, **keys: str) -> dict[str, str]:
    path.write_text("".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in keys.items()))
    return {"PYREL_CONFIG": str(path)}


def test_a_version_the_mirror_dropped_is_built_from_the_snapshot_of_the_lock_date(
    host_built: Path, local_mirror: tuple[Path, Path, str], tmp_path: Path
) -> None:
    root, keyring, base = local_mirror
    project = copy_example("hello", tmp_path)
    config = tmp_path / "config.toml"
    env = {
        "PYREL_CACHE_DIR": str(tmp_path / "cache"),
        **_user_config(config, **{"debian-mirror": f"{base}/debian bookworm", "debian-keyring": str(keyring)}),
    }
    _ok(without_apt(["lock", "-C", str(project)], env=env))
    ours = tomllib.loads((project / "pyrel.lock.toml").read_text())
    host = tomllib.loads((host_built / "pyrel.lock.toml").read_text())
    assert _entries(ours, urls=False) == _entries(host, urls=False)
    assert all(entry["url"].startswith(f"{base}/debian/pool/") for entry in _entries(ours).values())
    assert ours["debian"]["releases"] == [
        {"suite": "bookworm", "url": f"{base}/debian/dists/bookworm/InRelease", "date": "2025-11-01T06:30:00Z"}
    ]

    dropped = next(deb for deb in read_lock(project).packages if deb.name == DROPPED)
    pool = dropped.url.partition("/pool/")[2]
    kept = root / "snapshot" / "archive" / "debian" / "20251101T063000Z" / "pool" / pool.replace("%2b", "+")
    kept.parent.mkdir(parents=True, exist_ok=True)
    (root / "debian" / "pool" / pool.replace("%2b", "+")).rename(kept)  # the mirror moved on
    store = ["--store", str(tmp_path / "store")]
    failed = without_apt(["build", "source", "-C", str(project), *store], env=env)
    assert failed.returncode == 4, failed.stderr
    message = " ".join(failed.stderr.split())
    for word in (dropped.name, dropped.version, dropped.sha256, f"{dropped.url} (not found)", "debian-snapshot"):
        assert word in message

    env.update(
        _user_config(
            config,
            **{
                "debian-mirror": f"{base}/debian bookworm",
                "debian-keyring": str(keyring),
                "debian-snapshot": f"{base}/snapshot",
            },
        )
    )
    _ok(without_apt(["build", "source", "-C", str(project), *store], env=env))
    assert _sums(project)["dist/source/SHA256SUMS"] == _sums(host_built)["dist/source/SHA256SUMS"]


PACKAGES = (
    "Package: demo\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/d/demo/demo_1.0_amd64.deb\n"
    "Size: 4\nSHA256: " + "0" * 64 + "\n"
)


@pytest.mark.parametrize("damage", ["index", "inrelease", "key"])
def test_a_forged_archive_is_refused_with_nothing_written(tmp_path: Path, damage: str) -> None:
    key, keyring = make_key(tmp_path / "keys", "archive")
    write_suite(tmp_path / "debian", "bookworm", PACKAGES, key, date=SNAPSHOT_DATE)
    if damage == "index":
        index = tmp_path / "debian/dists/bookworm/main/binary-amd64/Packages.xz"
        index.write_bytes(lzma.compress(PACKAGES.replace("1.0", "6.6").encode()))
    elif damage == "inrelease":
        inrelease = tmp_path / "debian/dists/bookworm/InRelease"
        inrelease.write_bytes(inrelease.read_bytes().replace(b"Label: pyrel-test", b"Label: pyrel-tesT"))
    else:
        _, keyring = make_key(tmp_path / "other-keys", "someone-else")
    project = copy_example("hello", tmp_path)
    base = _http_root(str(tmp_path))
    env = {
        "PYREL_CACHE_DIR": str(tmp_path / "cache"),
        **_user_config(
            tmp_path / "config.toml", **{"debian-mirror": f"{base}/debian bookworm", "debian-keyring": str(keyring)}
        ),
    }
    failed = without_apt(["lock", "-C", str(project)], env=env)
    assert failed.returncode == 3, failed.stdout + failed.stderr
    expected = "differs from what the signed" if damage == "index" else "signature does not verify"
    assert expected in " ".join(failed.stderr.split())
    assert not (project / "pyrel.lock.toml").exists() and not list(project.glob("pylock.*.toml"))
    assert not (tmp_path / "cache" / "debian").exists() or not [
        path for path in (tmp_path / "cache" / "debian").rglob("*") if path.is_file()
    ]


def test_a_dropped_version_is_substituted_from_a_nix_binary_cache(
    host_built: Path, local_mirror: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """``--from CACHE``: the locked .deb's fixed-output path comes from the cache, unsigned, before any download."""
    root, keyring, base = local_mirror
    project = copy_example("hello", tmp_path)
    mirror = {"debian-mirror": f"{base}/debian bookworm", "debian-keyring": str(keyring)}
    env = {"PYREL_CACHE_DIR": str(tmp_path / "cache"), **_user_config(tmp_path / "config.toml", **mirror)}
    _ok(without_apt(["lock", "-C", str(project)], env=env))
    dropped = next(deb for deb in read_lock(project).packages if deb.name == DROPPED)
    (root / "debian" / "pool" / dropped.url.partition("/pool/")[2].replace("%2b", "+")).unlink(missing_ok=True)
    cache = f"file://{tmp_path / 'binary-cache'}"
    host_deb = next(deb for deb in read_lock(host_built).packages if deb.name == DROPPED)
    subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command", "copy", "--to", cache, artifact_store_path(host_deb)],
        check=True,
        capture_output=True,
    )
    key = "pyrel-test-1:" + "A" * 43 + "="  # any key: a fixed-output path needs no signature
    store = ["--store", str(tmp_path / "store")]
    built = _ok(
        without_apt(["build", "source", "-C", str(project), *store, "--from", cache, "--trusted-key", key], env=env)
    )
    assert f"asking {cache} for" in built.stderr + built.stdout
    assert _sums(project)["dist/source/SHA256SUMS"] == _sums(host_built)["dist/source/SHA256SUMS"]
