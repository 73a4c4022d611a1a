"""Fetch: every locked artifact into the cache, hash-verified, then into the store.

An artifact the store lacks is first asked of the Nix binary caches the build
names (``--from``, ``--substituter``): each is a fixed-output path, which Nix
checks by its content.  Else it is downloaded into a private temporary
directory -- a ``.deb`` by its locked URL (pyrel's own HTTP client: no apt), or,
when its mirror no longer has it, from the snapshot archive (``debian-snapshot``)
as of the date of the InRelease the lock was resolved against; a wheel by pip --
its sha256 checked against the lock, and only then moved into the cache and
added to the Nix store as a fixed-output path -- the same path the Nix library's
fixed-output derivation names, so Nix itself never downloads anything.  A file
with the wrong hash is deleted and enters neither the cache nor the store.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from pywrap import testhooks
from pywrap.adapters import nix, nixcache, pip
from pywrap.cache import cache_dir
from pywrap.config.archive import ArchiveConfig
from pywrap.digest import file_sha256
from pywrap.errors import DownloadError, FetchError, HashMismatchError
from pywrap.execution import recovery
from pywrap.execution.nixlib import ElfPlatform, elf_platform, nix_system
from pywrap.files import write_atomically
from pywrap.locking.lockfile import DebEntry, InventoryEntry, Lock, WheelEntry
from pywrap.logger import human_bytes
from pywrap.progress import fetch_item, fetch_summary
from pywrap.storepath import fixed_output_path, nix_base32, store_name

#: Where busybox-static keeps its binary (trixie moved it under /usr).
BUSYBOX_MEMBERS = ("./bin/busybox", "./usr/bin/busybox")
BOOTSTRAP_NAME = "pyrel-bootstrap-busybox"
LOADER_NAME = "pyrel-bootstrap-loader"
#: The Debian package whose ELF loader pyrel mounts in the sandbox (in every lock: patchelf's closure).
LOADER_PACKAGE = "libc6"


@attrs.frozen
class Bootstrap:
    store_name: str
    nar_hash: str  # nix base32 sha256 of the NAR, as the derivation's outputHash
    store_path: str

    @property
    def shell(self) -> str:
        """The binary every stage's sandbox has at /bin/sh (busybox picks `sh` from that name)."""
        return f"{self.store_path}/bin/busybox"


@attrs.frozen
class Loader:
    """The locked glibc's ELF loader, taken out of libc6: mounted where programs ask for it."""

    store_name: str
    nar_hash: str  # nix base32 sha256 of the NAR, as the derivation's outputHash
    store_path: str
    #: Its file in the store path (``ld-linux-x86-64.so.2``).
    file: str
    #: Where programs ask for it, their PT_INTERP (``/lib64/ld-linux-x86-64.so.2``): the mount's target.
    mount_point: str

    @property
    def binary(self) -> str:
        return f"{self.store_path}/{self.file}"


@attrs.frozen
class FetchReport:
    fetched: tuple[str, ...]  # artifacts downloaded this run
    present: int  # artifacts already in the store
    bootstrap: Bootstrap
    substituted: tuple[str, ...] = ()  # artifacts a Nix binary cache had
    #: None for an architecture whose loader layout nix/platforms.json does not know.
    loader: Loader | None = None


@attrs.frozen
class Origins:
    """Where an artifact the store lacks may come from, besides its locked URL."""

    #: The project's debian-snapshot (and its other archive settings); the user's file fills in.
    archive: ArchiveConfig = attrs.field(factory=ArchiveConfig)
    #: Nix binary caches tried before any download (``--from``, ``--substituter``).
    substituters: tuple[str, ...] = ()
    trusted_public_keys: tuple[str, ...] = ()


#: What a lock pins and the store gets as a fixed-output path: a .deb, a wheel, an intersphinx inventory.
LockedArtifact = DebEntry | WheelEntry | InventoryEntry


def artifact_store_path(artifact: LockedArtifact) -> str:
    return fixed_output_path(artifact.sha256, artifact.store_name)


def _cache_file(artifact: LockedArtifact) -> Path:
    return cache_dir() / "artifacts" / artifact.sha256[:2] / artifact.sha256 / artifact.store_name


def _download(artifact: LockedArtifact, lock: Lock, scratch: Path, origins: Origins) -> Path:
    if isinstance(artifact, DebEntry):
        return _download_deb(artifact, lock, scratch, origins)
    if isinstance(artifact, InventoryEntry):
        return _download_inventory(artifact, scratch)
    return _download_wheel(artifact, lock.python_version, scratch)


def deb_urls(deb: DebEntry, lock: Lock, snapshot: str) -> list[str]:
    """The locked URL, then the snapshot archive's copies as of the dates of the suites the lock read there."""
    from pywrap.providers.debian_archive import parse_lock_date, snapshot_urls

    base = deb.url.partition("/pool/")[0]
    releases = [release for release in lock.releases if release.url.startswith(base + "/dists/")] or lock.releases
    dates = sorted({parse_lock_date(release.date) for release in releases}, reverse=True)
    return [deb.url, *snapshot_urls(deb.url, dates, snapshot)]


def _download_deb(deb: DebEntry, lock: Lock, scratch: Path, origins: Origins) -> Path:
    from pywrap.adapters import http
    from pywrap.config.archive import archive_settings

    settings = archive_settings(origins.archive)
    target = scratch / deb.store_name
    tried = [f"the Nix binary cache {cache}" for cache in origins.substituters]
    for url in deb_urls(deb, lock, settings.snapshot):
        try:
            if http.download(url, target):
                return target
            tried.append(f"{url} (not found)")
        except DownloadError as exc:
            tried.append(f"{url} ({exc.message.removeprefix(f'cannot download {url}: ')})")
    raise FetchError(
        f"Debian package {deb.name} {deb.version} (sha256 {deb.sha256}) was found nowhere; tried:\n  "
        + "\n  ".join(tried),
        hint=_nowhere_hint(lock, settings.snapshot),
    )


def _nowhere_hint(lock: Lock, snapshot: str) -> str:
    if not lock.releases:
        return (
            "this lock records no archive date (an older pyrel made it), so no snapshot can be asked: "
            "run `pyrel lock` to pin what the mirror has now"
        )
    if not snapshot:
        return (
            'the mirror has dropped this version: set debian-snapshot = "URL" (a snapshot archive, '
            "<URL>/archive/debian/<date>/pool/...) in [tool.pyrel] or ~/.config/pyrel/config.toml, pass "
            "`--from CACHE` with a Nix binary cache that has it, or run `pyrel lock` to pin current versions"
        )
    return (
        "no snapshot of the lock's date has it either: pass `--from CACHE` with a Nix binary cache that has "
        "it, or run `pyrel lock` to pin current versions"
    )


def _download_wheel(wheel: WheelEntry, python_version: str, scratch: Path) -> Path:
    return pip.download(wheel.url, scratch, filename=wheel.filename, python_version=python_version)


def _download_inventory(inventory: InventoryEntry, scratch: Path) -> Path:
    """An intersphinx inventory, by the URL `pyrel lock` pinned it from (a site republishes it with its docs)."""
    from pywrap.adapters import http

    target = scratch / inventory.store_name
    if not http.download(inventory.url, target):
        raise FetchError(
            f"{_label(inventory)} is gone from {inventory.url} (not found)",
            hint="run `pyrel lock` to pin the inventory the site publishes now, or build with "
            "`--from CACHE`, a Nix binary cache that has the pinned one",
        )
    return target


def keep_inventory(inventory: InventoryEntry, content: bytes) -> Path:
    """Put an inventory `pyrel lock` just downloaded (and hashed) into the cache: the build needs no second download."""

    def write(scratch: Path) -> Path:
        (scratch / inventory.store_name).write_bytes(content)
        return scratch / inventory.store_name

    return _ensure_cached(inventory, write)


def ensure_wheel_cached(wheel: WheelEntry, python_version: str) -> Path:
    """The verified cache file of a locked wheel, before a whole lock exists (`pyrel lock` reads binary wheels)."""
    return _ensure_cached(wheel, lambda scratch: _download_wheel(wheel, python_version, scratch))


def _label(artifact: LockedArtifact) -> str:
    if isinstance(artifact, InventoryEntry):
        return f"intersphinx inventory '{artifact.name}' ({artifact.url})"
    kind = "Debian package" if isinstance(artifact, DebEntry) else "wheel"
    return f"{kind} {artifact.name} {artifact.version} ({artifact.filename})"


def ensure_cached(artifact: LockedArtifact, lock: Lock, origins: Origins | None = None) -> Path:
    """The verified cache file of ``artifact``, downloading it if needed."""
    return _ensure_cached(artifact, lambda scratch: _download(artifact, lock, scratch, origins or Origins()))


def _ensure_cached(artifact: LockedArtifact, download: Callable[[Path], Path]) -> Path:
    target = _cache_file(artifact)
    if target.is_file():
        if file_sha256(target) == artifact.sha256:
            return target
        target.unlink()  # a damaged cache entry is re-fetched, never used
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Scratch in the cache's one temporary folder (same file system, so the move is a rename):
        # a killed download leaves nothing among the artifacts for every later run to look for.
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=recovery.scratch_dir(cache_dir())) as scratch:
            downloaded = download(Path(scratch))
            actual = file_sha256(downloaded)
            if actual != artifact.sha256:
                raise HashMismatchError(_label(artifact), artifact.sha256, actual)
            testhooks.pause("fetch")
            os.replace(downloaded, target)
    except OSError as exc:
        raise FetchError(
            f"cannot cache {_label(artifact)}: {recovery.plain_os_error(exc, f'writing to {target.parent}')}"
        ) from exc
    return target


def _bootstrap_record(busybox_deb: DebEntry) -> Path:
    return cache_dir() / "bootstrap" / f"{busybox_deb.sha256}.json"


def _known_bootstrap(busybox_deb: DebEntry) -> Bootstrap | None:
    try:
        known = json.loads(_bootstrap_record(busybox_deb).read_text())
        return Bootstrap(known["store_name"], known["nar_hash"], known["store_path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ensure_bootstrap(busybox_deb: DebEntry, lock: Lock, origins: Origins) -> Bootstrap:
    """busybox, taken out of its verified .deb: the one binary Nix cannot unpack for us."""
    from pywrap.providers.debfile import extract_member

    record = _bootstrap_record(busybox_deb)
    # The .deb is valid in the store by now (fetched, or substituted from a binary cache).
    in_store = nixcache.real_path(artifact_store_path(busybox_deb))
    deb = in_store if in_store.is_file() else ensure_cached(busybox_deb, lock, origins)
    binary = extract_member(deb, *BUSYBOX_MEMBERS)
    with tempfile.TemporaryDirectory(prefix="pyrel-bootstrap-", dir=recovery.scratch_dir(cache_dir())) as scratch:
        tree = Path(scratch) / BOOTSTRAP_NAME
        (tree / "bin").mkdir(parents=True)
        (tree / "bin" / "busybox").write_bytes(binary)
        (tree / "bin" / "busybox").chmod(0o755)
        store_path = nix.add_fixed(tree, recursive=True)
    bootstrap = Bootstrap(BOOTSTRAP_NAME, _nar_hash(store_path), store_path)
    record.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(record, json.dumps(attrs.asdict(bootstrap)).encode())
    return bootstrap


def _loader_record(libc6: DebEntry) -> Path:
    return cache_dir() / "bootstrap" / f"loader-{libc6.sha256}.json"


def _known_loader(libc6: DebEntry) -> Loader | None:
    try:
        known = json.loads(_loader_record(libc6).read_text())
        return Loader(known["store_name"], known["nar_hash"], known["store_path"], known["file"], known["mount_point"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ensure_loader(libc6: DebEntry, platform: ElfPlatform, lock: Lock, origins: Origins) -> Loader:
    """The ELF loader, taken out of the verified libc6 .deb and added to the store by content."""
    from pywrap.providers.debfile import extract_member

    in_store = nixcache.real_path(artifact_store_path(libc6))
    deb = in_store if in_store.is_file() else ensure_cached(libc6, lock, origins)
    binary = extract_member(deb, *platform.loader_members)
    with tempfile.TemporaryDirectory(prefix="pyrel-loader-", dir=recovery.scratch_dir(cache_dir())) as scratch:
        tree = Path(scratch) / LOADER_NAME
        tree.mkdir()
        (tree / platform.loader).write_bytes(binary)
        (tree / platform.loader).chmod(0o755)
        store_path = nix.add_fixed(tree, recursive=True)
    loader = Loader(LOADER_NAME, _nar_hash(store_path), store_path, platform.loader, platform.loader_path)
    record = _loader_record(libc6)
    record.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(record, json.dumps(attrs.asdict(loader)).encode())
    return loader


def _nar_hash(store_path: str) -> str:
    nar_hash = nix.query_hash(store_path).removeprefix("sha256:")
    if len(nar_hash) == 64:  # some Nix versions print hex
        nar_hash = nix_base32(bytes.fromhex(nar_hash))
    return nar_hash


def artifacts_of(lock: Lock, stage_names: Iterable[str]) -> list[LockedArtifact]:
    names: set[str] = set(lock.bootstrap)
    wheels: dict[str, WheelEntry] = {}
    inventories: dict[str, InventoryEntry] = {}
    for stage_name in stage_names:
        stage = lock.stage(stage_name)
        names.update(stage.system)
        wheels.update({wheel.sha256: wheel for wheel in stage.wheels})
        inventories.update({artifact_store_path(entry): entry for entry in stage.inventories})
    debs: list[LockedArtifact] = [lock.package(name) for name in sorted(names)]
    return [
        *debs,
        *sorted(wheels.values(), key=lambda wheel: wheel.filename),
        *(inventories[path] for path in sorted(inventories)),
    ]


def fetch(
    lock: Lock,
    stage_names: Iterable[str],
    progress: Callable[[str], None] = lambda message: None,
    origins: Origins | None = None,
) -> FetchReport:
    """Make every artifact the stages need valid in the Nix store."""
    origins = origins or Origins()
    artifacts = artifacts_of(lock, stage_names)
    by_path = {artifact_store_path(artifact): artifact for artifact in artifacts}
    busybox_deb = lock.package("busybox-static")
    known = _known_bootstrap(busybox_deb)
    platform = elf_platform(nix_system(lock.architecture))
    libc6 = lock.package(LOADER_PACKAGE) if platform is not None and LOADER_PACKAGE in lock.bootstrap else None
    known_loader = _known_loader(libc6) if libc6 is not None else None
    wanted = [*by_path, *([known.store_path] if known else []), *([known_loader.store_path] if known_loader else [])]
    # What pyrel rooted is valid (no process: a no-op build must stay fast); one store query for the rest.
    rooted = nix.rooted_paths(roots_dir(), wanted)
    present = rooted | nix.valid_paths([path for path in wanted if path not in rooted])
    fetched = []
    missing = [(path, artifact) for path, artifact in by_path.items() if path not in present]
    substituted: set[str] = set()
    if missing and origins.substituters:
        # Fixed-output paths: Nix checks each against its name's hash, whoever signed the cache.
        progress(f"asking {', '.join(origins.substituters)} for {len(missing)} artifacts")
        asked = [path for path, _ in missing]
        asked += [
            made.store_path for made in (known, known_loader) if made is not None and made.store_path not in present
        ]
        substituted = nix.substitute(asked, origins.substituters, origins.trusted_public_keys)
        present |= substituted
        missing = [(path, artifact) for path, artifact in missing if path not in substituted]
    if missing:
        total = sum(artifact.size or 0 for _, artifact in missing)
        progress(fetch_summary(len(missing), total, human_bytes))
    for index, (path, artifact) in enumerate(missing, start=1):
        progress(fetch_item(index, len(missing), f"fetching {_label(artifact)}", artifact.size, human_bytes))
        cached = ensure_cached(artifact, lock, origins)
        with tempfile.TemporaryDirectory(prefix="pyrel-add-", dir=recovery.scratch_dir(cache_dir())) as scratch:
            # --add-fixed names the path after the file: give it the store name.
            named = Path(scratch) / artifact.store_name
            try:
                os.link(cached, named)
            except OSError:
                shutil.copyfile(cached, named)
            added = nix.add_fixed(named)
        if added != path:  # the lock's name and hash disagree with what Nix computed
            raise HashMismatchError(f"{_label(artifact)} in the Nix store", path, added)
        fetched.append(artifact.filename)
    usable = known is not None and known.store_path in present
    bootstrap = known if usable and known is not None else _ensure_bootstrap(busybox_deb, lock, origins)
    loader = None
    if libc6 is not None and platform is not None:
        usable = known_loader is not None and known_loader.store_path in present
        loader = known_loader if usable and known_loader is not None else _ensure_loader(libc6, platform, lock, origins)
    made = {bootstrap.store_path, *([loader.store_path] if loader else [])}
    nix.add_roots(roots_dir(), sorted({*by_path, *made} - rooted))
    from_caches = tuple(by_path[path].filename for path in sorted(substituted) if path in by_path)
    return FetchReport(tuple(fetched), len(present - substituted), bootstrap, from_caches, loader)


def roots_dir() -> Path:
    """GC roots of the artifacts pyrel fetched, beside their cache: a garbage collection keeps what the
    cache holds (a rebuild needs no download, offline too), and clearing the cache releases them."""
    return cache_dir() / "gcroots"


__all__ = ["Bootstrap", "FetchReport", "Loader", "Origins", "artifact_store_path", "fetch", "store_name"]
