"""Which Debian package ships a file: the suite's ``Contents`` index, read without apt.

``dists/<suite>/<component>/Contents-<arch>.gz`` lists every file of every package of the suite
(``usr/include/yaml.h    libdevel/libyaml-dev``); ``Contents-all`` does the same for the
packages of architecture ``all``.  pyrel reads them only when a finding needs a package named
(a header a compile step missed, a tool a stage ran), and only for the few files asked:

* the suite's InRelease is read as a lock reads it (:func:`debian_archive.read_release`: the
  signature verified against the same keys, the suite and its date checked);
* the index is downloaded (by hash where the archive offers it) only when the cache lacks a file
  of the sha256 InRelease lists, checked against that sha256 and size, and cached by it
  (``<cache>/debian/contents/<sha256>``); ``Contents-all`` only for what ``Contents-<arch>`` lacks;
* it is read as a stream (the files are tens of MB compressed, hundreds decompressed): only the
  lines whose path ends with a wanted name are parsed; the answers are kept beside the index.

Matching (:class:`Wanted`, :func:`search`) is pure; downloads go through the ``get`` and
``download`` functions the caller passes (:mod:`pywrap.adapters.http`).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import re
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import attrs

from pywrap.digest import file_sha256
from pywrap.errors import ResolutionError
from pywrap.files import write_atomically

if TYPE_CHECKING:  # imported where the archive is read: a build that looks nothing up does not load it
    from pywrap.providers import debian_archive

#: Bytes decompressed at a time.
CHUNK = 4 << 20
#: Contents files kept in the cache (a suite's arch and ``all`` files, and the previous point release's).
KEPT = 4
#: An architecture's multiarch directory (``x86_64-linux-gnu``, ``aarch64-linux-gnu``, ``arm-linux-gnueabihf``).
_TRIPLET = r"[a-z0-9_]+-linux-gnu[a-z0-9_]*"


class Downloader(Protocol):
    """:func:`pywrap.adapters.http.download`'s shape: False when there is no such file."""

    def __call__(self, url: str, target: Path) -> bool: ...


# --------------------------------------------------------------------------- what is wanted, where it lives


@attrs.frozen
class Wanted:
    """A file a stage missed, as a build tool names it.

    ``kind``: ``header`` (``yaml.h``, ``libxml/parser.h``), ``link`` (``yaml`` of ``-lyaml``),
    ``library`` (``libyaml-0.so.2``, what a program loads), ``pkg-config`` (``yaml-0.1``) or ``tool``
    (``git``).
    """

    kind: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def files(self) -> tuple[str, ...]:
        """The file names (a path's last components) that can satisfy it."""
        return {
            "header": (self.name,),
            "link": (f"lib{self.name}.so", f"lib{self.name}.a"),
            "library": (self.name,),
            "pkg-config": (f"{self.name}.pc",),
            "tool": (self.name,),
        }.get(self.kind, ())

    def rank(self, path: str) -> int | None:
        """How well ``path`` (a Contents path: no leading ``/``) satisfies it: 0 where the tool looks by
        default, 1 where it looks when told (a header under its own include directory, a static library),
        None for a file of that name that would not be found."""
        for rank, pattern in enumerate(_patterns(self.kind, self.name)):
            if pattern.fullmatch(path):
                return rank
        return None

    def describe(self) -> str:
        return {
            "header": f"the header '{self.name}'",
            "link": f"the library -l{self.name} (lib{self.name}.so)",
            "library": f"the shared library '{self.name}'",
            "pkg-config": f"the pkg-config module '{self.name}' ({self.name}.pc)",
            "tool": f"the program '{self.name}'",
        }.get(self.kind, self.name)


def _patterns(kind: str, name: str) -> tuple[re.Pattern[str], ...]:
    quoted = re.escape(name)
    lib_dirs = rf"(?:usr/)?lib/(?:{_TRIPLET}/)?"
    sources = {
        "header": (
            rf"usr/include/(?:{_TRIPLET}/)?{quoted}",
            rf"usr/(?:lib/gcc/[^/]+/[^/]+/)?include/(?:.+/)?{quoted}",
        ),
        "link": (rf"{lib_dirs}lib{quoted}\.so", rf"{lib_dirs}lib{quoted}\.a"),
        "library": (rf"{lib_dirs}{quoted}",),
        "pkg-config": (rf"usr/(?:lib/(?:{_TRIPLET}/)?|share/)pkgconfig/{quoted}\.pc",),
        "tool": (rf"(?:usr/)?s?bin/{quoted}",),
    }
    return tuple(re.compile(source) for source in sources.get(kind, ()))


@attrs.frozen
class Found:
    """The Contents lines that satisfy a :class:`Wanted` best (the lowest rank): (path, packages) each."""

    rank: int
    paths: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(sorted({package for _path, packages in self.paths for package in packages}))

    def merged(self, other: Found | None) -> Found:
        if other is None or other.rank > self.rank:
            return self
        if other.rank < self.rank:
            return other
        return Found(self.rank, tuple(sorted(set(self.paths) | set(other.paths))))

    def to_json(self) -> list[object]:
        return [self.rank, [[path, list(packages)] for path, packages in self.paths]]

    @classmethod
    def from_json(cls, data: list[object]) -> Found:
        rank, paths = data
        assert isinstance(rank, int) and isinstance(paths, list)
        return cls(rank, tuple((str(path), tuple(str(p) for p in packages)) for path, packages in paths))


# --------------------------------------------------------------------------- parsing (pure)


def parse_line(line: bytes) -> tuple[str, tuple[str, ...]] | None:
    """``usr/include/yaml.h   libdevel/libyaml-dev`` -> (the path, the package names without their section).

    The path may hold spaces; the package list (``[area/]section/name`` separated by commas) holds none.
    """
    parts = line.rstrip().rsplit(None, 1)
    if len(parts) != 2:
        return None
    path = parts[0].rstrip().decode("utf-8", "replace").lstrip("/")
    packages = tuple(entry.rsplit(b"/", 1)[-1].decode("utf-8", "replace") for entry in parts[1].split(b","))
    return path, tuple(package for package in packages if package)


def _candidate_lines(block: bytes, needles: Sequence[bytes]) -> Iterator[bytes]:
    """The lines of ``block`` (whole lines) whose path ends with one of ``needles`` (``/name``)."""
    starts: set[int] = set()
    for needle in needles:
        position = block.find(needle)
        while position >= 0:
            after = position + len(needle)
            if after >= len(block) or block[after : after + 1] in (b" ", b"\t", b"\n"):
                start = block.rfind(b"\n", 0, position) + 1
                if start not in starts:
                    starts.add(start)
                    end = block.find(b"\n", position)
                    yield block[start : end if end >= 0 else len(block)]
            position = block.find(needle, after)


def search(chunks: Iterable[bytes], wanted: Collection[Wanted]) -> dict[Wanted, Found]:
    """What the Contents text read in ``chunks`` says about each of ``wanted`` (those it satisfies)."""
    needles = sorted({b"/" + name.encode() for item in wanted for name in item.files()})
    found: dict[Wanted, Found] = {}
    rest = b""
    for chunk in [*chunks, b"\n"]:
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        block, rest = data[:cut], data[cut:]
        for line in _candidate_lines(block, needles):
            parsed = parse_line(line)
            if parsed is None:
                continue
            path, packages = parsed
            for item in wanted:
                rank = item.rank(path)
                if rank is not None:
                    found[item] = Found(rank, ((path, packages),)).merged(found.get(item))
    return found


def contents_file(release: debian_archive.Release, component: str, arch: str) -> debian_archive.IndexFile | None:
    """The ``Contents-<arch>`` file of ``component`` to download: the most compact InRelease lists."""
    from pywrap.providers.debian_archive import COMPRESSIONS

    base = f"{component}/Contents-{arch}"
    for suffix, _ in COMPRESSIONS:
        if base + suffix in release.files and release.files[base + suffix].size:
            return release.files[base + suffix]
    return None


def read_chunks(path: Path, name: str) -> Iterator[bytes]:
    """The decompressed text of the Contents file at ``path`` (compressed as ``name`` says), a chunk at a time."""
    with (
        lzma.open(path, "rb")
        if name.endswith(".xz")
        else gzip.open(path, "rb")
        if name.endswith(".gz")
        else bz2.open(path, "rb")
        if name.endswith(".bz2")
        else path.open("rb")
    ) as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


# --------------------------------------------------------------------------- the cache


@attrs.frozen
class ContentsCache:
    """``<cache>/debian/contents/``: each Contents file by its sha256, with the answers read from it."""

    root: Path

    def path(self, listed: debian_archive.IndexFile) -> Path | None:
        """The cached file of this sha256 and size, or None (a damaged file is read as missing)."""
        path = self.root / listed.sha256
        try:
            if path.stat().st_size != listed.size:
                return None
        except OSError:
            return None
        if file_sha256(path) != listed.sha256:
            return None
        os.utime(path)  # in use: the last to be pruned
        return path

    def answers(self, sha256: str) -> dict[str, Found | None]:
        try:
            data = json.loads((self.root / f"{sha256}.json").read_text())
            return {key: Found.from_json(value) if value is not None else None for key, value in data.items()}
        except (OSError, ValueError, TypeError, AssertionError):
            return {}

    def put_answers(self, sha256: str, answers: dict[str, Found | None]) -> None:
        data = {key: found.to_json() if found is not None else None for key, found in sorted(answers.items())}
        write_atomically(self.root / f"{sha256}.json", json.dumps(data).encode())

    def prune(self) -> None:
        """Keep the :data:`KEPT` newest Contents files (each is tens of MB) and their answers."""
        files = [path for path in self.root.glob("*") if len(path.name) == 64 and path.is_file()]
        for path in sorted(files, key=lambda item: item.stat().st_mtime, reverse=True)[KEPT:]:
            path.unlink(missing_ok=True)
            path.with_name(f"{path.name}.json").unlink(missing_ok=True)


# --------------------------------------------------------------------------- reading the archive


@attrs.frozen
class _Listed:
    """One Contents file a verified InRelease lists."""

    url: str
    release_url: str
    file: debian_archive.IndexFile


def _listed(
    source: debian_archive.Source, suite: str, release_url: str, release: debian_archive.Release, arch: str
) -> list[_Listed]:
    from pywrap.providers.debian_archive import posix_dir

    found = []
    for component in source.components:
        listed = contents_file(release, component, arch)
        if listed is None:
            continue
        directory = f"{source.uri}/dists/{suite}/{posix_dir(listed.path)}"
        name = listed.path.rsplit("/", 1)[-1]
        url = f"{directory}/by-hash/SHA256/{listed.sha256}" if release.by_hash else f"{directory}/{name}"
        found.append(_Listed(url, release_url, listed))
    return found


def _fetch(listed: _Listed, cache: ContentsCache, download: Downloader, progress: Callable[[str], None]) -> Path:
    """The Contents file, from the cache or downloaded and checked against the signed InRelease."""
    cached = cache.path(listed.file)
    if cached is not None:
        return cached
    progress(f"downloading {listed.url} ({listed.file.size / 1e6:.0f} MB, once: the suite's Contents index)")
    cache.root.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".download.", dir=cache.root)
    os.close(handle)
    target = Path(temporary)
    try:
        if not download(listed.url, target):
            raise ResolutionError(
                f"{listed.url} does not exist, though {listed.release_url} lists it",
                hint="the mirror is being updated, or inconsistent: try again later",
            )
        actual, size = file_sha256(target), target.stat().st_size
        if actual != listed.file.sha256 or size != listed.file.size:
            raise ResolutionError(
                f"{listed.url}: sha256 {actual} ({size} bytes) differs from what the signed {listed.release_url} "
                f"lists ({listed.file.sha256}, {listed.file.size} bytes); the index was neither used nor cached",
                hint="the mirror is inconsistent (mid-update) or was tampered with: try again later",
            )
        os.chmod(target, 0o644)
        final = cache.root / listed.file.sha256
        os.replace(target, final)
    finally:
        target.unlink(missing_ok=True)
    cache.prune()
    return final


def _answer(
    listed: _Listed,
    wanted: Collection[Wanted],
    cache: ContentsCache,
    download: Downloader,
    progress: Callable[[str], None],
) -> dict[Wanted, Found]:
    """What one Contents file says about ``wanted``: the answers kept beside it, else read from it."""
    sha256 = listed.file.sha256
    answers = cache.answers(sha256)
    missing = [item for item in wanted if item.key not in answers]
    if missing:
        path = _fetch(listed, cache, download, progress)
        found = search(read_chunks(path, listed.file.path), missing)
        answers.update({item.key: found.get(item) for item in missing})
        cache.put_answers(sha256, answers)
    return {item: answer for item in wanted if (answer := answers.get(item.key)) is not None}


def lookup(
    sources: Sequence[debian_archive.Source],
    wanted: Collection[Wanted],
    *,
    suite: str,
    arch: str,
    cache: debian_archive.IndexCache,
    get: debian_archive.Getter,
    download: Downloader,
    keyrings: Sequence[Path] = (),
    progress: Callable[[str], None] = lambda message: None,
) -> dict[Wanted, Found]:
    """What the Contents indexes of ``suite`` (the suite itself: its ``-updates`` and ``-security`` suites
    add versions of its packages, rarely files) say about each of ``wanted``: ``Contents-<arch>`` first,
    ``Contents-all`` for what that lacks.  Raises :class:`~pywrap.errors.PyrelError` when they cannot be read."""
    from pywrap.providers import debian_archive

    contents = ContentsCache(cache.root / "contents")
    releases = []
    for source in sources:
        if suite in (*source.suites, *source.optional_suites):
            read = debian_archive.read_release(source, suite, arch=arch, cache=cache, get=get, keyrings=keyrings)
            if read is not None:
                releases.append((source, *read))
    if not releases:
        raise ResolutionError(f"no mirror read for the lock has suite '{suite}'")
    found: dict[Wanted, Found] = {}
    for contents_arch in (arch, "all"):
        remaining = [item for item in wanted if item not in found]
        listed = [
            entry for source, url, release in releases for entry in _listed(source, suite, url, release, contents_arch)
        ]
        if not remaining:
            break
        if not listed and contents_arch == arch:
            raise ResolutionError(
                f"{', '.join(url for _source, url, _release in releases)}: lists no {arch} Contents index of the "
                f"components read ({', '.join(sorted({c for source, _u, _r in releases for c in source.components}))})"
            )
        for entry in listed:
            for item, answer in _answer(entry, remaining, contents, download, progress).items():
                found[item] = answer.merged(found.get(item))
    return found


__all__ = ["ContentsCache", "Found", "Wanted", "lookup", "parse_line", "search"]
