"""The apt adapter against the machine's real apt and its configured registry.

Every URL here comes from apt; these tests need apt-get and network access to
the configured Debian mirror (marker ``apt``).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from pywrap.adapters import apt
from pywrap.errors import ResolutionError
from pywrap.providers.debian import (
    DebPackage,
    PackageIndex,
    parse_index,
    python_version_of,
    resolve_closure,
    with_urls,
)

pytestmark = [
    pytest.mark.apt,
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get"),
]

BOOKWORM_ROOTS = ["python3.11-minimal", "libpython3.11-stdlib", "busybox-static"]
HOST_APT_DIRS = [Path("/var/lib/apt/lists"), Path("/var/cache/apt")]


def _snapshot(dirs: list[Path]) -> dict[str, tuple[int, int]]:
    """Names, sizes and mtimes under the host's apt dirs, to prove we left them alone."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for d in dirs
        if d.is_dir()
        for p in sorted(d.rglob("*"))
        if not p.is_symlink()
    }


@pytest.fixture(scope="module")
def host_ctx(tmp_path_factory: pytest.TempPathFactory) -> apt.AptContext:
    if apt.host_suite() != "bookworm":
        pytest.skip("the host-suite tests expect a bookworm host")
    return apt.prepare("bookworm", apt.host_arch(), tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def bookworm(host_ctx: apt.AptContext) -> PackageIndex:
    return parse_index(apt.dump_available(host_ctx), suite="bookworm")


@pytest.fixture(scope="module")
def bookworm_debs(host_ctx: apt.AptContext, bookworm: PackageIndex) -> list[DebPackage]:
    closure = resolve_closure(bookworm, BOOKWORM_ROOTS, host_ctx.arch)
    return with_urls(closure, apt.print_uris(host_ctx, [(p.name, p.version) for p in closure]))


def test_host_context_uses_the_host_apt_config(host_ctx: apt.AptContext) -> None:
    assert host_ctx.state_dir is None and host_ctx.options() == []


def test_host_closure_matches_apt_print_uris(
    host_ctx: apt.AptContext, bookworm: PackageIndex, bookworm_debs: list[DebPackage]
) -> None:
    by_name = {d.name: d for d in bookworm_debs}
    assert {"libc6", "zlib1g", *BOOKWORM_ROOTS} <= by_name.keys()
    assert python_version_of(bookworm) == (3, 11)
    # an independent --print-uris call for a few packages gives the same pins
    uris = apt.print_uris(host_ctx, [(n, by_name[n].version) for n in ("libc6", "zlib1g")])
    for name in ("libc6", "zlib1g"):
        url, _apt_file, size, sha256 = uris[name]
        assert (url, size, sha256) == (by_name[name].url, by_name[name].size, by_name[name].sha256)
        assert len(sha256) == 64
    # apt prints URLs percent-encoded and we keep them so
    assert "%3a" not in by_name["zlib1g"].url  # the pool file name carries no epoch
    assert all(d.url.endswith(".deb") for d in bookworm_debs)
    assert [d.name for d in bookworm_debs] == sorted(by_name)


def test_download_matches_the_resolved_sha256(
    host_ctx: apt.AptContext, bookworm_debs: list[DebPackage], tmp_path: Path
) -> None:
    busybox = next(d for d in bookworm_debs if d.name == "busybox-static")
    path = apt.download(host_ctx, busybox.name, busybox.version, tmp_path)
    assert path.parent == tmp_path
    data = path.read_bytes()
    assert len(data) == busybox.size
    assert hashlib.sha256(data).hexdigest() == busybox.sha256


def test_unknown_package_names_it_and_the_suite(host_ctx: apt.AptContext) -> None:
    with pytest.raises(ResolutionError, match=r"bookworm[\s\S]*no-such-package-xyz"):
        apt.print_uris(host_ctx, [("no-such-package-xyz", "1.0")])


def test_private_state_for_another_suite_leaves_host_apt_alone(tmp_path: Path) -> None:
    before = _snapshot(HOST_APT_DIRS)
    ctx = apt.prepare("trixie", apt.host_arch(), tmp_path)
    assert ctx.state_dir is not None and ctx.state_dir.is_relative_to(tmp_path)
    trixie = parse_index(apt.dump_available(ctx), suite="trixie")
    assert python_version_of(trixie) == (3, 13)
    closure = resolve_closure(
        trixie, ["python3.13-minimal", "libpython3.13-stdlib", "busybox-static"], ctx.arch
    )
    debs = with_urls(closure, apt.print_uris(ctx, [(p.name, p.version) for p in closure]))
    assert {"libc6", "zlib1g", "python3.13-minimal"} <= {d.name for d in debs}
    assert _snapshot(HOST_APT_DIRS) == before
    # a second prepare within the freshness window does not update again
    stamp = ctx.state_dir / "updated"
    mtime = stamp.stat().st_mtime_ns
    assert apt.prepare("trixie", apt.host_arch(), tmp_path) == ctx
    assert stamp.stat().st_mtime_ns == mtime
