"""The Debian archive read without apt, on archives the tests build and sign (file:// URLs, no network).

Each InRelease is verified against the keys pyrel trusts, each index against the
sha256 the signed InRelease lists; whatever fails leaves the cache as it was.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import lzma
from pathlib import Path
from typing import Any

import pytest

from pywrap.adapters import apt, http
from pywrap.config.archive import ArchiveConfig, archive_settings, load_user_config
from pywrap.errors import ConfigError, FetchError, ResolutionError
from pywrap.execution import fetch
from pywrap.locking.lockfile import ArchiveRelease, DebEntry, Lock
from pywrap.providers import debian_archive
from pywrap.providers.debfile import extract_member
from pywrap.providers.debian import resolve_closure, with_urls
from tests.debian_mirror import make_deb, make_key, paragraph, pool_path, write_suite

DATE = datetime.datetime(2025, 11, 1, 6, 30, tzinfo=datetime.UTC)
NOW = datetime.datetime(2025, 11, 2, tzinfo=datetime.UTC)
BUSYBOX = make_deb({"./bin/busybox": b"\x7fELF busybox"})
LIBC = make_deb({"./lib/libc.so.6": b"\x7fELF libc"})
PACKAGES = (
    paragraph("busybox-static", "1:1.35.0-4+b1", BUSYBOX, Depends="libc6 (>= 2.34)")
    + "\n"
    + paragraph("libc6", "2.36-9~deb12u1", LIBC)
)


class Counting:
    """http.get, counting what was asked."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, *, last_modified: str = "", etag: str = "") -> http.Response:
        self.urls.append(url)
        return http.get(url, last_modified=last_modified, etag=etag)


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, Path]:
    """A signed one-suite archive at ``<tmp>/debian`` and the keyring that verifies it."""
    key, keyring = make_key(tmp_path / "keys", "archive")
    root = tmp_path / "debian"
    write_suite(root, "bookworm", PACKAGES, key, date=DATE)
    for name, version, deb in (("busybox-static", "1:1.35.0-4+b1", BUSYBOX), ("libc6", "2.36-9~deb12u1", LIBC)):
        (root / pool_path(name, version)).parent.mkdir(parents=True, exist_ok=True)
        (root / pool_path(name, version)).write_bytes(deb)
    return root, keyring


def _read(root: Path, keyrings: list[Path], cache: Path, get: Any = http.get, **options: Any) -> debian_archive.Archive:
    sources = debian_archive.sources_from_mirrors([f"file://{root}"], "bookworm")
    return debian_archive.read_archive(
        sources,
        suite="bookworm",
        arch="amd64",
        cache=debian_archive.IndexCache(cache),
        get=get,
        keyrings=keyrings,
        now=NOW,
        **options,
    )


def _files(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file())


def test_a_signed_archive_resolves_with_urls_and_dates(mirror: tuple[Path, Path], tmp_path: Path) -> None:
    root, keyring = mirror
    archive = _read(root, [keyring], tmp_path / "cache")
    assert [(r.suite, r.url, r.date) for r in archive.releases] == [
        ("bookworm", f"file://{root}/dists/bookworm/InRelease", DATE)
    ]
    debs = {deb.name: deb for deb in with_urls(resolve_closure(archive.index, ["busybox-static"], "amd64"))}
    assert (
        debs["busybox-static"].url == f"file://{root}/pool/main/b/busybox-static/busybox-static_1.35.0-4%2bb1_amd64.deb"
    )
    assert debs["libc6"].url.endswith("libc6_2.36-9%7edeb12u1_amd64.deb")
    assert debs["libc6"].sha256 == hashlib.sha256(LIBC).hexdigest()
    assert debian_archive.lock_date(DATE) == "2025-11-01T06:30:00Z"


def test_the_second_read_downloads_only_the_inrelease(mirror: tuple[Path, Path], tmp_path: Path) -> None:
    root, keyring = mirror
    first, again = Counting(), Counting()
    _read(root, [keyring], tmp_path / "cache", first)
    assert any(url.endswith("Packages.xz") for url in first.urls)
    archive = _read(root, [keyring], tmp_path / "cache", again)
    assert all(url.endswith("/InRelease") for url in again.urls)  # the indexes and candidates came from the cache
    assert set(archive.index.packages) == {"busybox-static", "libc6"}
    refreshed = Counting()
    _read(root, [keyring], tmp_path / "cache", refreshed, refresh=True)
    assert any(url.endswith("Packages.xz") for url in refreshed.urls)


def test_an_unchanged_inrelease_is_not_downloaded_again(mirror: tuple[Path, Path], tmp_path: Path) -> None:
    """Over HTTP the validators go along and the server answers 304 (file:// always answers whole)."""
    root, keyring = mirror
    cache = tmp_path / "cache"
    _read(root, [keyring], cache)
    sent: list[tuple[str, str]] = []

    def not_modified(url: str, *, last_modified: str = "", etag: str = "") -> http.Response:
        sent.append((url, last_modified))
        return http.Response(url, 304 if last_modified else 404)

    key = debian_archive.IndexCache(cache)._release_key(f"file://{root}/dists/bookworm/InRelease")
    validators = json.loads(key.with_suffix(".json").read_text())
    assert validators["last-modified"]  # urllib dates a file:// answer by the file's mtime
    archive = _read(root, [keyring], cache, not_modified)
    assert set(archive.index.packages) == {"busybox-static", "libc6"}
    # The suites' InReleases are asked for side by side, in no fixed order.
    assert (f"file://{root}/dists/bookworm/InRelease", validators["last-modified"]) in sent


@pytest.mark.parametrize("damage", ["inrelease", "key", "index", "expired"])
def test_a_forged_archive_is_refused_and_nothing_is_cached(
    mirror: tuple[Path, Path], tmp_path: Path, damage: str
) -> None:
    root, keyring = mirror
    inrelease = root / "dists" / "bookworm" / "InRelease"
    keyrings = [keyring]
    words = "signature does not verify"
    if damage == "inrelease":  # one byte of the signed text changed
        inrelease.write_bytes(inrelease.read_bytes().replace(b"Label: pyrel-test", b"Label: pyrel-tesT"))
    elif damage == "key":  # signed by a key nobody configured
        other, _ = make_key(tmp_path / "keys", "someone-else")
        write_suite(root, "bookworm", PACKAGES, other, date=DATE)
    elif damage == "index":
        (root / "dists/bookworm/main/binary-amd64/Packages.xz").write_bytes(lzma.compress(PACKAGES.encode() + b"\n"))
        words = "differs from what the signed"
    elif damage == "expired":
        key, keyring = make_key(tmp_path / "keys2", "archive2")
        keyrings = [keyring]
        write_suite(root, "bookworm", PACKAGES, key, date=DATE, valid_until=DATE + datetime.timedelta(hours=1))
        words = "expired on 2025-11-01 07:30 UTC"
    with pytest.raises(ResolutionError) as caught:
        _read(root, keyrings, tmp_path / "cache")
    assert words in str(caught.value)
    cache = tmp_path / "cache"
    assert not cache.exists() or _files(cache) == []


def test_an_inrelease_of_another_suite_is_refused(tmp_path: Path) -> None:
    key, keyring = make_key(tmp_path / "keys", "archive")
    write_suite(tmp_path / "debian", "bookworm", PACKAGES, key, date=DATE, codename="trixie")
    text = (tmp_path / "debian/dists/bookworm/InRelease").read_bytes()
    assert b"Suite: bookworm" in text  # suite matches: accepted
    _read(tmp_path / "debian", [keyring], tmp_path / "cache")
    write_suite(tmp_path / "other", "trixie", PACKAGES, key, date=DATE)
    (tmp_path / "other/dists/bookworm").mkdir(parents=True)
    for path in (tmp_path / "other/dists/trixie").rglob("*"):
        if path.is_file():
            target = tmp_path / "other/dists/bookworm" / path.relative_to(tmp_path / "other/dists/trixie")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    with pytest.raises(ResolutionError, match="is the InRelease of suite 'trixie'"):
        _read(tmp_path / "other", [keyring], tmp_path / "cache2")


def test_extra_suites_are_read_where_the_mirror_has_them(mirror: tuple[Path, Path], tmp_path: Path) -> None:
    root, keyring = mirror
    key, _ = make_key(tmp_path / "keys-updates", "updates")
    newer = make_deb({"./lib/libc.so.6": b"\x7fELF libc, newer"})
    write_suite(root, "bookworm-updates", paragraph("libc6", "2.36-9~deb12u2", newer), key, date=NOW)
    keyrings = [keyring, tmp_path / "keys-updates" / "updates.asc"]
    archive = _read(root, keyrings, tmp_path / "cache")
    assert archive.index.packages["libc6"].version == "2.36-9~deb12u2"
    assert [release.suite for release in archive.releases] == ["bookworm", "bookworm-updates"]
    named = debian_archive.sources_from_mirrors([f"file://{root} bookworm-security"], "bookworm")
    with pytest.raises(ResolutionError, match="has no suite 'bookworm-security'"):
        debian_archive.read_archive(
            named,
            suite="bookworm",
            arch="amd64",
            get=http.get,
            now=NOW,
            cache=debian_archive.IndexCache(tmp_path / "c"),
            keyrings=keyrings,
        )


def test_snapshot_urls_follow_the_archive_name_and_the_dates() -> None:
    url = "http://mirror.invalid/debian-security/pool/updates/main/o/openssl/libssl3_3.0.17-1%7edeb12u3_amd64.deb"
    assert debian_archive.snapshot_urls(url, [DATE], "file:///srv/snap/") == [
        "file:///srv/snap/archive/debian-security/20251101T063000Z/pool/updates/main/o/openssl/"
        "libssl3_3.0.17-1%7edeb12u3_amd64.deb",
        "file:///srv/snap/archive/debian-security/20251102T063000Z/pool/updates/main/o/openssl/"
        "libssl3_3.0.17-1%7edeb12u3_amd64.deb",
    ]
    assert debian_archive.snapshot_urls(url, [DATE], "") == []


def _lock(deb: DebEntry, releases: tuple[ArchiveRelease, ...]) -> Lock:
    return Lock("debian", "bookworm", "amd64", "3.11", "3.11.2", "2.36", (), (deb,), (), releases)


def test_a_deb_the_mirror_dropped_comes_from_the_snapshot_of_the_lock_date(
    mirror: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYREL_CACHE_DIR", str(tmp_path / "pyrel-cache"))
    monkeypatch.setenv("PYREL_CONFIG", str(tmp_path / "no-user-config.toml"))
    root, _ = mirror
    path = pool_path("libc6", "2.36-9~deb12u1")
    url = f"file://{root}/{path.replace('~', '%7e')}"
    deb = DebEntry("libc6", "2.36-9~deb12u1", "amd64", hashlib.sha256(LIBC).hexdigest(), len(LIBC),
                   "libc6_2.36-9~deb12u1_amd64.deb", url)  # fmt: skip
    lock = _lock(deb, (ArchiveRelease("bookworm", f"file://{root}/dists/bookworm/InRelease", "2025-11-01T06:30:00Z"),))
    (root / path).unlink()  # superseded: the mirror has dropped it
    snapshot = tmp_path / "snapshot"
    kept = snapshot / "archive" / "debian" / "20251101T063000Z" / path
    kept.parent.mkdir(parents=True)
    kept.write_bytes(LIBC)

    with pytest.raises(FetchError) as caught:
        fetch.ensure_cached(deb, lock)
    message = str(caught.value)
    assert caught.value.exit_code == 4
    assert all(word in message for word in ("libc6", "2.36-9~deb12u1", deb.sha256, url, "debian-snapshot"))

    origins = fetch.Origins(ArchiveConfig(snapshot=f"file://{snapshot}"), substituters=("file:///nix-cache",))
    cached = fetch.ensure_cached(deb, lock, origins)
    assert cached.read_bytes() == LIBC

    kept.unlink()
    cached.unlink()
    with pytest.raises(FetchError) as caught:
        fetch.ensure_cached(deb, lock, origins)
    tried = str(caught.value)
    assert "the Nix binary cache file:///nix-cache" in tried and url in tried
    assert f"file://{snapshot}/archive/debian/20251101T063000Z/{path.replace('~', '%7e')} (not found)" in tried
    assert f"file://{snapshot}/archive/debian/20251102T063000Z/" in tried


def test_busybox_is_read_out_of_its_deb_without_dpkg(tmp_path: Path) -> None:
    deb = tmp_path / "busybox.deb"
    deb.write_bytes(BUSYBOX)
    assert extract_member(deb, "./usr/bin/busybox", "./bin/busybox") == b"\x7fELF busybox"
    with pytest.raises(FetchError, match="has none of"):
        extract_member(deb, "./usr/bin/nothing")
    deb.write_bytes(b"not an archive")
    with pytest.raises(FetchError, match=r"not a \.deb"):
        extract_member(deb, "./bin/busybox")


def test_the_user_configuration_fills_in_what_the_project_leaves_out(tmp_path: Path) -> None:
    config = tmp_path / "pyrel" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        'debian-mirror = "http://mirror.invalid/debian/"\n'
        'debian-snapshot = "http://snapshot.invalid"\ndebian-keyring = ["keys/local.asc"]\n'
    )
    user = load_user_config(config)
    assert user.mirrors == ("http://mirror.invalid/debian",)
    assert user.keyrings == (tmp_path / "pyrel" / "keys" / "local.asc",)
    project = ArchiveConfig(mirrors=("file:///srv/debian bookworm",), keyrings=(tmp_path / "p.asc",))
    settings = archive_settings(project, user)
    assert settings.mirrors == ("file:///srv/debian bookworm",) and settings.snapshot == "http://snapshot.invalid"
    assert settings.keyrings == (tmp_path / "p.asc", tmp_path / "pyrel" / "keys" / "local.asc")
    config.write_text('debian-mirror = "mirror.invalid"\n')
    with pytest.raises(ConfigError, match="is not a URL"):
        load_user_config(config)
    config.write_text('debian-mirrors = "http://mirror.invalid"\n')
    with pytest.raises(ConfigError, match="unknown key 'debian-mirrors'"):
        load_user_config(config)
    assert load_user_config(tmp_path / "absent.toml") == ArchiveConfig()


def test_the_host_architecture_needs_no_dpkg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert apt.host_arch() == "arm64"
    monkeypatch.setattr("platform.machine", lambda: "sparc64-unknown")
    with pytest.raises(ResolutionError, match="nixpkgs"):
        apt.host_arch()
    monkeypatch.setattr("platform.freedesktop_os_release", lambda: {"ID": "nixos", "VERSION_CODENAME": "vicuna"})
    with pytest.raises(ResolutionError, match="debian-suite"):
        apt.host_suite()
