"""The Debian archive read without apt: ``InRelease``, its signature, the ``Packages`` indexes, their cache.

For each suite of each mirror, ``<mirror>/dists/<suite>/InRelease`` is downloaded (a
conditional request when a copy is cached) and its OpenPGP signature verified against
the Debian archive keys pyrel ships (``pywrap/resources/keyrings``) and the keyrings the
configuration adds; only the signed text is read.  Each ``Packages`` index it lists is
taken from the cache when the cache holds a file of the listed sha256, else downloaded
(``.xz``, ``.gz`` or plain), checked against the sha256 and size InRelease lists, and
decompressed.  Nothing is written to the cache before every suite has been read and
verified: a bad signature or a tampered index leaves the cache as it was.

Downloads go through the ``get`` function the caller passes (:func:`pywrap.adapters.http.get`),
so this module is tested on archives built in memory.  :func:`snapshot_urls` says where a
locked ``.deb`` is found once its mirror has dropped it.
"""

from __future__ import annotations

import bz2
import datetime
import email.utils
import gzip
import hashlib
import importlib.resources
import json
import lzma
import marshal
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from pywrap.errors import ResolutionError
from pywrap.files import write_atomically
from pywrap.providers import debian

if TYPE_CHECKING:
    from pysequoia import Cert

#: Index formats, most compact first (a mirror must serve at least one that InRelease lists).
COMPRESSIONS: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    (".xz", lzma.decompress), (".gz", gzip.decompress), (".bz2", bz2.decompress), ("", bytes),
)  # fmt: skip
#: The suites a mirror named without suites is read for: the suite itself, then these when it has them.
EXTRA_SUITES = ("-updates", "-security")
SNAPSHOT_TIME = "%Y%m%dT%H%M%SZ"
#: Parsed indexes kept (each is about the size of its Packages text).
PARSED_KEPT = 2
_PARALLEL = 4


class Getter(Protocol):
    """:func:`pywrap.adapters.http.get`'s shape."""

    def __call__(self, url: str, *, last_modified: str = "", etag: str = "") -> Any: ...


@attrs.frozen
class Source:
    """One mirror and the suites read there."""

    uri: str
    suites: tuple[str, ...]
    #: Suites read only if the mirror has them (a 404 skips them).
    optional_suites: tuple[str, ...] = ()
    components: tuple[str, ...] = ("main",)


@attrs.frozen
class IndexFile:
    path: str
    sha256: str
    size: int


@attrs.frozen
class Release:
    """The signed text of one suite's InRelease, the parts pyrel reads."""

    suite: str
    codename: str
    date: datetime.datetime
    valid_until: datetime.datetime | None
    components: tuple[str, ...]
    architectures: tuple[str, ...]
    files: Mapping[str, IndexFile]
    by_hash: bool
    not_automatic: bool


@attrs.frozen
class ReleaseRead:
    """A suite as the lock records it: what InRelease was read, and the archive state it dates."""

    suite: str
    url: str
    date: datetime.datetime

    @property
    def uri(self) -> str:
        """The mirror's base URL (the part before ``/dists/``)."""
        return self.url.rsplit("/dists/", 1)[0]


@attrs.frozen
class Archive:
    index: debian.PackageIndex
    releases: tuple[ReleaseRead, ...]


# --------------------------------------------------------------------------- keys and signatures


def shipped_keyrings() -> list[Path]:
    """The Debian archive keyrings pyrel ships (from Debian's debian-archive-keyring)."""
    folder = importlib.resources.files("pywrap.resources").joinpath("keyrings")
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith((".gpg", ".asc")))


def load_keys(extra: Sequence[Path] = ()) -> list[Cert]:
    """The certificates of pyrel's keyrings and of ``extra`` (the configured ``debian-keyring``)."""
    from pysequoia import Cert

    certs: list[Cert] = []
    for path in [*shipped_keyrings(), *extra]:
        try:
            certs += Cert.split_bytes(path.read_bytes())
        except OSError as exc:
            raise ResolutionError(
                f"cannot read the keyring {path}: {exc.strerror or exc}", hint="fix the path of debian-keyring"
            ) from exc
        except Exception as exc:  # pysequoia raises plain exceptions for data it cannot parse
            raise ResolutionError(
                f"{path} is not an OpenPGP keyring: {_first_line(exc)}",
                hint="debian-keyring names a keyring file (binary or ASCII-armored public keys)",
            ) from exc
    return certs


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def verify_signed(data: bytes, keys: Sequence[Cert], url: str, keyrings: Sequence[Path] = ()) -> str:
    """The text ``data`` (a cleartext-signed InRelease) carries, if a key of ``keys`` signed it."""
    from pysequoia import verify

    try:
        verified = verify(data, lambda wanted: list(keys))
        text = verified.bytes
    except Exception as exc:  # pysequoia raises plain exceptions (RuntimeError) for a failed verification
        configured = f" and {', '.join(str(path) for path in keyrings)}" if keyrings else ""
        raise ResolutionError(
            f"{url}: the signature does not verify with any trusted key (pyrel's Debian archive keys{configured}): "
            f"{_first_line(exc)}; nothing was read from this archive",
            hint="an archive signed by another key (a local mirror, another distribution) needs its public keys: "
            'debian-keyring = "path" in [tool.pyrel] or in ~/.config/pyrel/config.toml',
        ) from exc
    if text is None:
        raise ResolutionError(f"{url}: the signature verified but carried no text")
    return text.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- InRelease


def _date(text: str, field: str, url: str) -> datetime.datetime:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError) as exc:
        raise ResolutionError(f"{url}: {field} {text!r} is not a date") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def _fields(text: str) -> dict[str, str]:
    """The first deb822 paragraph, field names lower-cased, continuation lines joined by newlines."""
    fields: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t" and current:
            fields[current] += "\n" + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            current = name.strip().lower()
            fields[current] = value.strip()
    return fields


def parse_release(text: str, url: str) -> Release:
    """The parts of an InRelease's signed text that pyrel reads; the SHA256 list is required."""
    fields = _fields(text)
    files: dict[str, IndexFile] = {}
    for line in fields.get("sha256", "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            files[parts[2]] = IndexFile(parts[2], parts[0].lower(), int(parts[1]))
    if not files:
        raise ResolutionError(f"{url}: lists no SHA256 of its indexes", hint="is this a Debian archive's InRelease?")
    if "date" not in fields:
        raise ResolutionError(f"{url}: has no Date")
    until = fields.get("valid-until")
    return Release(
        suite=fields.get("suite", ""),
        codename=fields.get("codename", ""),
        date=_date(fields["date"], "Date", url),
        valid_until=_date(until, "Valid-Until", url) if until else None,
        components=tuple(fields.get("components", "").split()),
        architectures=tuple(fields.get("architectures", "").split()),
        files=files,
        by_hash=fields.get("acquire-by-hash", "").lower() == "yes",
        not_automatic=fields.get("notautomatic", "").lower() == "yes",
    )


def check_release(release: Release, suite: str, arch: str, url: str, now: datetime.datetime) -> None:
    """Refuse an InRelease of another suite (a signed file swapped in), an expired one, or one without ``arch``."""
    if suite not in (release.suite, release.codename):
        raise ResolutionError(
            f"{url}: is the InRelease of suite '{release.suite}' ({release.codename}), not of '{suite}'",
            hint="the mirror serves another suite under this name: check debian-mirror",
        )
    if release.valid_until is not None and release.valid_until < now:
        raise ResolutionError(
            f"{url}: expired on {release.valid_until:%Y-%m-%d %H:%M} UTC (Valid-Until): the mirror serves an "
            "outdated state of the archive",
            hint="use an up-to-date mirror, or try again once it has synced",
        )
    if release.architectures and arch not in release.architectures:
        raise ResolutionError(
            f"{url}: suite '{suite}' has no packages for architecture '{arch}' "
            f"(it has {', '.join(release.architectures)})"
        )


def index_files(release: Release, component: str, arch: str) -> tuple[IndexFile, IndexFile | None] | None:
    """The ``Packages`` file to download (most compact listed) and the uncompressed one's entry, if listed."""
    base = f"{component}/binary-{arch}/Packages"
    listed = [release.files[base + suffix] for suffix, _ in COMPRESSIONS if base + suffix in release.files]
    if not listed:
        return None
    return listed[0], release.files.get(base)


def decompress(data: bytes, path: str) -> bytes:
    for suffix, function in COMPRESSIONS:
        if suffix and path.endswith(suffix):
            return function(data)
    return data


def snapshot_stamp(date: datetime.datetime) -> str:
    return date.astimezone(datetime.UTC).strftime(SNAPSHOT_TIME)


def lock_date(date: datetime.datetime) -> str:
    """The date as the lock records it (RFC 3339, UTC)."""
    return date.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_lock_date(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


# --------------------------------------------------------------------------- sources


def sources_from_mirrors(mirrors: Iterable[str], suite: str) -> list[Source]:
    """``debian-mirror`` entries (``"URL [SUITE ...]"``): without suites, the suite and, where the
    mirror has them, its ``-updates`` and ``-security`` suites."""
    sources = []
    for entry in mirrors:
        uri, *suites = entry.split()
        if suites:
            sources.append(Source(uri.rstrip("/"), tuple(suites)))
        else:
            sources.append(Source(uri.rstrip("/"), (suite,), tuple(suite + extra for extra in EXTRA_SUITES)))
    return sources


def sources_from_apt(paragraphs: Iterable[Mapping[str, str]]) -> list[Source]:
    """The deb822 sources apt would read (already rewritten for the suite: ``apt.derive_sources``)."""
    sources = []
    for para in paragraphs:
        suites = tuple(para.get("Suites", "").split())
        components = tuple(para.get("Components", "").split()) or ("main",)
        for uri in para.get("URIs", "").split():
            if uri.startswith(("http://", "https://", "file:")) and suites:
                sources.append(Source(uri.rstrip("/"), suites, (), components))
    return sources


def snapshot_urls(url: str, dates: Sequence[datetime.datetime], snapshot: str) -> list[str]:
    """Where the snapshot archive keeps the pool file behind ``url`` at each of ``dates`` (and a day later:
    the snapshot of a date may predate the archive run that published the InRelease of that date)."""
    base, separator, pool = url.partition("/pool/")
    if not separator or not snapshot:
        return []
    archive = base.rstrip("/").rsplit("/", 1)[-1]
    stamps: list[str] = []
    for date in dates:
        for moment in (date, date + datetime.timedelta(days=1)):
            if snapshot_stamp(moment) not in stamps:
                stamps.append(snapshot_stamp(moment))
    return [f"{snapshot.rstrip('/')}/archive/{archive}/{stamp}/pool/{pool}" for stamp in stamps]


# --------------------------------------------------------------------------- the cache


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.frozen
class IndexCache:
    """``<cache>/debian/``: each InRelease as last downloaded (with its HTTP validators and the indexes
    it lists), each index by its sha256, and the parsed candidates of the last indexes read."""

    root: Path

    def _release_key(self, url: str) -> Path:
        return self.root / "releases" / _digest(url)[:32]

    def release(self, url: str) -> tuple[bytes, dict[str, Any]] | None:
        key = self._release_key(url)
        try:
            meta = json.loads(key.with_suffix(".json").read_text())
            return key.with_suffix(".InRelease").read_bytes(), meta
        except (OSError, ValueError):
            return None

    def put_release(self, url: str, data: bytes, meta: dict[str, Any]) -> None:
        key = self._release_key(url)
        write_atomically(key.with_suffix(".InRelease"), data)
        write_atomically(key.with_suffix(".json"), json.dumps({**meta, "url": url}, sort_keys=True).encode())

    def index(self, sha256: str, size: int) -> bytes | None:
        """The cached index of this sha256 (checked: a damaged file is read as missing)."""
        path = self.root / "indexes" / sha256
        try:
            if path.stat().st_size != size:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None

    def put_index(self, sha256: str, data: bytes) -> None:
        write_atomically(self.root / "indexes" / sha256, data)

    def prune_indexes(self) -> None:
        """Drop the indexes no cached InRelease lists any more (a suite moved on)."""
        wanted: set[str] = set()
        for meta_file in (self.root / "releases").glob("*.json"):
            try:
                wanted.update(json.loads(meta_file.read_text()).get("indexes", []))
            except (OSError, ValueError):
                continue
        for path in (self.root / "indexes").glob("*"):
            if path.name not in wanted and not path.name.startswith("."):
                path.unlink(missing_ok=True)

    def _parsed_file(self, key: str) -> Path:
        return self.root / "parsed" / key

    def parsed(self, key: str, suite: str) -> debian.PackageIndex | None:
        try:
            rows, providers = marshal.loads(self._parsed_file(key).read_bytes())
            packages = {row[0]: debian.IndexEntry(*row) for row in rows}
            return debian.PackageIndex(
                packages,
                {name: tuple(debian.Provision(*p) for p in listed) for name, listed in providers.items()},
                suite,
            )
        except (OSError, ValueError, EOFError, TypeError):
            return None

    def put_parsed(self, key: str, index: debian.PackageIndex) -> None:
        rows = [(e.name, e.version, e.architecture, e.text, e.origin) for e in index.packages.values()]
        providers = {name: [(p.provider, p.version) for p in listed] for name, listed in index.providers.items()}
        write_atomically(self._parsed_file(key), marshal.dumps((rows, providers)))
        kept = sorted((self.root / "parsed").glob("*"), key=lambda path: path.stat().st_mtime, reverse=True)
        for path in kept[PARSED_KEPT:]:
            if not path.name.startswith("."):
                path.unlink(missing_ok=True)


def parsed_key(arch: str, parts: Sequence[tuple[str, str]]) -> str:
    """Names the parsed candidates of these ``(origin, index sha256)`` for ``arch`` (and this Python's marshal)."""
    return _digest(json.dumps([arch, list(parts), marshal.version, list(sys.version_info[:2])]))


# --------------------------------------------------------------------------- reading


@attrs.frozen
class _Suite:
    """One suite of one mirror as read: the InRelease bytes and what to write to the cache."""

    source: Source
    suite: str
    url: str
    data: bytes
    meta: dict[str, Any]
    changed: bool
    release: Release | None = None


def _inrelease_url(source: Source, suite: str) -> str:
    return f"{source.uri}/dists/{suite}/InRelease"


def _fetch_release(
    source: Source, suite: str, optional: bool, cache: IndexCache, get: Getter, refresh: bool
) -> _Suite | None:
    url = _inrelease_url(source, suite)
    cached = None if refresh else cache.release(url)
    validators = cached[1] if cached else {}
    answer = get(url, last_modified=validators.get("last-modified", ""), etag=validators.get("etag", ""))
    if answer.status == 304:
        if cached is None:
            raise ResolutionError(f"{url}: the server answered 304 (not modified) to a request for the whole file")
        return _Suite(source, suite, url, cached[0], cached[1], changed=False)
    if not answer.found:
        if optional:
            return None
        raise ResolutionError(
            f"{url} does not exist: the mirror has no suite '{suite}'",
            hint="check the suite (debian-suite) and the mirror (debian-mirror or the host's apt sources)",
        )
    meta = {"last-modified": answer.last_modified, "etag": answer.etag}
    changed = cached is None or cached[0] != answer.body
    return _Suite(source, suite, url, answer.body, meta, changed)


def _read_index(
    suite: _Suite, component: str, arch: str, cache: IndexCache, get: Getter, refresh: bool
) -> tuple[str, bytes, bool] | None:
    """``(sha256, Packages text, newly downloaded)`` of one component, verified against the signed InRelease."""
    assert suite.release is not None
    found = index_files(suite.release, component, arch)
    if found is None:
        return None
    listed, plain = found
    if plain is not None and not refresh:
        cached = cache.index(plain.sha256, plain.size)
        if cached is not None:
            return plain.sha256, cached, False
    directory = f"{suite.source.uri}/dists/{suite.suite}/{posix_dir(listed.path)}"
    name = listed.path.rsplit("/", 1)[-1]
    url = f"{directory}/by-hash/SHA256/{listed.sha256}" if suite.release.by_hash else f"{directory}/{name}"
    answer = get(url)
    if not answer.found:
        raise ResolutionError(
            f"{url} does not exist, though {suite.url} lists it",
            hint="the mirror is being updated, or inconsistent: try again later",
        )
    _check(answer.body, listed, url, suite.url)
    try:
        text = decompress(answer.body, listed.path)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise ResolutionError(f"{url}: cannot decompress: {exc}") from exc
    if plain is not None:
        _check(text, plain, f"{url} (decompressed)", suite.url)
    return hashlib.sha256(text).hexdigest(), text, True


def posix_dir(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _check(data: bytes, listed: IndexFile, url: str, release_url: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != listed.sha256 or len(data) != listed.size:
        raise ResolutionError(
            f"{url}: sha256 {actual} ({len(data)} bytes) differs from what the signed {release_url} lists "
            f"({listed.sha256}, {listed.size} bytes); the index was neither used nor cached",
            hint="the mirror is inconsistent (mid-update) or was tampered with: try again later, or another mirror",
        )


def _verified(
    suites: list[_Suite],
    keys: Sequence[Cert],
    keyrings: Sequence[Path],
    suite: str,
    arch: str,
    now: datetime.datetime,
    progress: Callable[[str], None],
) -> list[_Suite]:
    out = []
    for read in suites:
        release = parse_release(verify_signed(read.data, keys, read.url, keyrings), read.url)
        check_release(release, read.suite, arch, read.url, now)
        if release.not_automatic and read.suite != suite:
            progress(f"{read.url}: left out (NotAutomatic: yes, as apt leaves it out by default)")
            continue
        out.append(attrs.evolve(read, release=release))
    return out


def read_release(
    source: Source,
    suite: str,
    *,
    arch: str,
    cache: IndexCache,
    get: Getter,
    keyrings: Sequence[Path] = (),
    now: datetime.datetime | None = None,
) -> tuple[str, Release] | None:
    """One suite's InRelease read as a lock reads it (a conditional request against the cached copy, the
    signature verified, the suite and Valid-Until checked), for a reader of its other indexes (Contents);
    None when the mirror lacks the suite.  The cache is read, never written: the lock's state stays as it was."""
    read = _fetch_release(source, suite, True, cache, get, refresh=False)
    if read is None:
        return None
    release = parse_release(verify_signed(read.data, load_keys(keyrings), read.url, keyrings), read.url)
    check_release(release, suite, arch, read.url, now or datetime.datetime.now(datetime.UTC))
    return read.url, release


def read_archive(
    sources: Sequence[Source],
    *,
    suite: str,
    arch: str,
    cache: IndexCache,
    get: Getter,
    keyrings: Sequence[Path] = (),
    progress: Callable[[str], None] = lambda message: None,
    now: datetime.datetime | None = None,
    refresh: bool = False,
) -> Archive:
    """Every candidate package of ``sources`` for ``arch``, each InRelease verified and each index checked.

    ``refresh``: download every InRelease and index again, whatever the cache holds.
    """
    wanted = [(source, name, False) for source in sources for name in source.suites]
    wanted += [(source, name, True) for source in sources for name in source.optional_suites]
    with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
        answers = list(pool.map(lambda item: _fetch_release(item[0], item[1], item[2], cache, get, refresh), wanted))
        found = [answer for answer in answers if answer is not None]
        if not any(read.suite == suite for read in found):
            raise ResolutionError(
                f"no mirror has Debian suite '{suite}' (read: {', '.join(_inrelease_url(s, n) for s, n, _ in wanted)})"
            )
        keys = load_keys(keyrings)
        verified = _verified(found, keys, keyrings, suite, arch, now or datetime.datetime.now(datetime.UTC), progress)
        # A component the suite lacks lists no index (Components may say "updates/main" for main/).
        jobs = [(read, component) for read in verified for component in read.source.components if read.release]
        listed = [index_files(read.release, component, arch) if read.release else None for read, component in jobs]
        known = [
            (read.source.uri, found[1].sha256)
            for (read, _c), found in zip(jobs, listed, strict=True)
            if found is not None and found[1] is not None
        ]
        if not refresh and len(known) == sum(found is not None for found in listed):
            # Every index's sha256 is in the signed InRelease: the candidates parsed from them last time serve.
            index = cache.parsed(parsed_key(arch, known), suite)
            if index is not None:
                _commit(cache, verified, _suite_indexes(jobs, listed), [])
                return Archive(index, _releases(verified))
        indexes = list(pool.map(lambda job: _read_index(job[0], job[1], arch, cache, get, refresh), jobs))
    by_suite: dict[str, list[str]] = {}
    parts: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    for (read, _component), got in zip(jobs, indexes, strict=True):
        if got is not None:
            by_suite.setdefault(read.url, []).append(got[0])
            parts.append((read.source.uri, got[0]))
            texts.append((read.source.uri, got[1].decode("utf-8", errors="replace")))
    empty = [read.url for read in verified if read.url not in by_suite]
    if empty:
        raise ResolutionError(
            f"{', '.join(empty)}: no Packages index for architecture '{arch}' in the "
            f"components read ({', '.join(sorted({c for _r, c in jobs}))})",
            hint="check the components of the mirror's sources",
        )
    progress(f"reading the package indexes of {len(verified)} suite(s)")
    index = debian.parse_indexes(texts, suite=suite, arch=arch)
    _commit(cache, verified, by_suite, indexes)
    cache.put_parsed(parsed_key(arch, parts), index)
    return Archive(index, _releases(verified))


def _suite_indexes(
    jobs: Sequence[tuple[_Suite, str]], listed: Sequence[tuple[IndexFile, IndexFile | None] | None]
) -> dict[str, list[str]]:
    by_suite: dict[str, list[str]] = {}
    for (read, _component), found in zip(jobs, listed, strict=True):
        if found is not None and found[1] is not None:
            by_suite.setdefault(read.url, []).append(found[1].sha256)
    return by_suite


def _releases(verified: Sequence[_Suite]) -> tuple[ReleaseRead, ...]:
    return tuple(ReleaseRead(read.suite, read.url, read.release.date) for read in verified if read.release)


def _commit(
    cache: IndexCache,
    verified: Sequence[_Suite],
    by_suite: Mapping[str, list[str]],
    indexes: Sequence[tuple[str, bytes, bool] | None],
) -> None:
    """Write what was read to the cache: only now, once every suite and index verified."""
    for got in indexes:
        if got is not None and got[2]:
            cache.put_index(got[0], got[1])
    for read in verified:
        if read.changed or read.meta.get("indexes") != by_suite.get(read.url, []):
            cache.put_release(read.url, read.data, {**read.meta, "indexes": by_suite.get(read.url, [])})
    if any(read.changed for read in verified):
        cache.prune_indexes()


__all__ = ["Archive", "IndexCache", "ReleaseRead", "Source", "read_archive", "read_release", "snapshot_urls"]
