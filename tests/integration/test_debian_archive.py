"""pyrel's own reader of the Debian archive against the machine's configured mirror (no apt involved).

The mirror comes from the host's apt sources, read as files.  Where apt is installed
too, the candidates pyrel picks are the ones apt picks from the same InRelease.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from pywrap.adapters import apt, http
from pywrap.config.archive import ArchiveSettings
from pywrap.errors import ResolutionError
from pywrap.locking.resolver import debian_sources
from pywrap.providers import debian_archive
from pywrap.providers.debian import python_version_of, resolve_closure, with_urls

pytestmark = [pytest.mark.network]

ROOTS = {
    "bookworm": ["python3.11-minimal", "libpython3.11-stdlib", "busybox-static"],
    "trixie": ["python3.13-minimal", "libpython3.13-stdlib", "busybox-static"],
}
NO_SETTINGS = ArchiveSettings((), "", (), "", "")
HOST_APT_DIRS = [Path("/var/lib/apt/lists"), Path("/var/cache/apt")]


def _host_or_skip() -> str:
    if not apt.host_paragraphs():
        pytest.skip("these tests read the mirror the host's apt sources name")
    return apt.host_suite()


def _read(suite: str, cache: Path) -> debian_archive.Archive:
    sources = debian_sources(NO_SETTINGS, suite, apt.host_arch())
    return debian_archive.read_archive(
        sources, suite=suite, arch=apt.host_arch(), cache=debian_archive.IndexCache(cache), get=http.get
    )


def _snapshot(dirs: list[Path]) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for d in dirs
        if d.is_dir()
        for p in sorted(d.rglob("*"))
        if not p.is_symlink()
    }


@pytest.fixture(scope="module")
def host_archive(tmp_path_factory: pytest.TempPathFactory) -> debian_archive.Archive:
    suite = _host_or_skip()
    if suite not in ROOTS:
        pytest.skip(f"no roots known for the host's suite {suite}")
    return _read(suite, tmp_path_factory.mktemp("cache"))


def test_the_host_suite_resolves_and_each_url_serves_its_pinned_file(
    host_archive: debian_archive.Archive, tmp_path: Path
) -> None:
    suite = host_archive.index.suite or ""
    debs = {deb.name: deb for deb in with_urls(resolve_closure(host_archive.index, ROOTS[suite], apt.host_arch()))}
    assert {"libc6", "zlib1g", *ROOTS[suite]} <= debs.keys()
    assert {release.suite for release in host_archive.releases} >= {suite}
    assert all(release.url.endswith(f"/dists/{release.suite}/InRelease") for release in host_archive.releases)
    busybox = debs["busybox-static"]
    target = tmp_path / busybox.filename
    assert http.download(busybox.url, target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == busybox.sha256
    assert not http.download(busybox.url.replace("/pool/", "/pool/no-such-dir/"), tmp_path / "missing")


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="compares with apt where apt exists")
def test_pyrel_picks_the_candidates_apt_picks(host_archive: debian_archive.Archive) -> None:
    """Only while the host's apt lists are of the same InReleases as the mirror's now (else apt is stale)."""
    lists = Path("/var/lib/apt/lists")
    ours = {release.url.split("://", 1)[1].replace("/", "_") for release in host_archive.releases}
    if not all((lists / name).is_file() for name in ours):
        pytest.skip("the host's apt lists are not those of the mirror's current InReleases")
    names = sorted(
        {name for roots in ROOTS.values() for name in roots if name in host_archive.index.packages}
        | {"libc6", "zlib1g", "libssl3", "openssl", "tzdata"}
    )
    policy = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True, check=True).stdout
    candidates: dict[str, str] = {}
    current = ""
    for line in policy.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif line.strip().startswith("Candidate:"):
            candidates[current] = line.split(":", 1)[1].strip()
    assert candidates
    for name, version in candidates.items():
        if name in host_archive.index.packages and version != "(none)":
            assert host_archive.index.packages[name].version == version, name


def test_another_suite_is_read_from_the_same_mirrors_leaving_apt_alone(tmp_path: Path) -> None:
    host = _host_or_skip()
    other = "trixie" if host == "bookworm" else "bookworm"
    before = _snapshot(HOST_APT_DIRS)
    archive = _read(other, tmp_path / "cache")
    assert python_version_of(archive.index) == ((3, 13) if other == "trixie" else (3, 11))
    closure = resolve_closure(archive.index, ROOTS[other], apt.host_arch())
    assert {"libc6", "zlib1g"} <= {package.name for package in closure}
    assert _snapshot(HOST_APT_DIRS) == before
    # A second read asks only for the InReleases and takes the candidates from the cache.
    indexes = sorted((tmp_path / "cache" / "indexes").iterdir())
    again = _read(other, tmp_path / "cache")
    assert again.index.packages.keys() == archive.index.packages.keys()
    assert sorted((tmp_path / "cache" / "indexes").iterdir()) == indexes


def test_a_suite_the_mirror_lacks_is_named(tmp_path: Path) -> None:
    _host_or_skip()
    with pytest.raises(ResolutionError, match="no-such-suite"):
        _read("no-such-suite", tmp_path)
