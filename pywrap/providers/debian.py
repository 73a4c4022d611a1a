"""The ``debian`` provider's resolver: pure logic over a deb822 package index.

The index text is the archive's own ``Packages`` files, read and verified by
:mod:`pywrap.providers.debian_archive` (each suite of each mirror; the highest
version of a name is its candidate, as apt picks with default priorities); this
module only decides *which* packages a stage needs.  It never starts a process, so the
whole resolution is testable on hand-written indexes, and it is deterministic:
the same index and roots always give the same closure, in name order.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Container, Iterable, Mapping, Sequence

import attrs
from debian.deb822 import Packages, PkgRelation
from debian.debian_support import Version

from pywrap.errors import ResolutionError

#: Splitting paragraphs and reading these few single-line fields with regular
#: expressions takes ~1 s on a suite's 60 000 paragraphs; a full deb822 parse of
#: every paragraph took ~10 s.  Only closure members get the full parse.
_PARAGRAPH_SEP = re.compile(r"\n[ \t]*\n")
_KEY_FIELD = re.compile(r"^(Package|Version|Architecture):[ \t]*(\S+)", re.M | re.I)
_PROVIDES = re.compile(r"^Provides:[ \t]*(.*(?:\n[ \t].*)*)", re.M | re.I)

#: Debian policy: the deprecated ``<`` and ``>`` mean ``<=`` and ``>=``.
_OPS = {"<": "<=", ">": ">="}


@attrs.frozen
class Relation:
    """One alternative of a dependency: ``name[:arch] (op version)``."""

    name: str
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.op} {self.version})" if self.op else self.name


#: A dependency is a group of alternatives (``a | b``); a field is a list of them.
Alternatives = tuple[Relation, ...]


@attrs.frozen
class IndexEntry:
    """The candidate paragraph of one package: its identity plus the raw text,
    parsed fully (:meth:`fields`) only for packages that enter a closure."""

    name: str
    version: str
    architecture: str
    text: str
    #: The archive's base URL the paragraph was read from ("" for an index without one).
    origin: str = ""

    def fields(self) -> Packages:
        return Packages(self.text)


@attrs.frozen
class Provision:
    """``provider`` declares ``Provides: virtual (= version)`` (version optional)."""

    provider: str
    version: str | None


@attrs.frozen
class PackageIndex:
    packages: Mapping[str, IndexEntry]
    providers: Mapping[str, tuple[Provision, ...]]
    suite: str | None = None


@attrs.frozen
class ResolvedPackage:
    """A package of the closure, pinned by the index's sha256 and pool path."""

    name: str
    version: str
    architecture: str
    filename: str
    sha256: str
    size: int
    depends: tuple[str, ...]
    source: str
    pool_path: str = ""
    #: Dependencies left out because the caller excluded them, kept for the audit.
    excluded_depends: tuple[str, ...] = ()
    #: The archive's base URL (``<origin>/<pool_path>`` is the download).
    origin: str = ""


@attrs.frozen
class DebPackage:
    """What the lock records for one ``.deb``: enough to fetch and verify it."""

    name: str
    version: str
    architecture: str
    sha256: str
    filename: str
    size: int
    url: str
    depends: tuple[str, ...]
    source: str = attrs.field()
    excluded_depends: tuple[str, ...] = ()

    @source.default
    def _source_default(self) -> str:
        return self.name


# --------------------------------------------------------------------------- parse


def _relations(text: str) -> tuple[Alternatives, ...]:
    """Parse a relation field; arch qualifiers (``:any``, ``:native``) are dropped
    because a closure for one architecture has one package per name."""
    groups: list[Alternatives] = []
    if not text.strip():
        return ()
    for group in PkgRelation.parse_relations(text):
        alts: list[Relation] = []
        for rel in group:
            if not rel.get("name"):
                continue
            ver: tuple[str, str] | None = rel.get("version")
            op, version = ver if ver else (None, None)
            alts.append(Relation(str(rel["name"]), _OPS.get(op or "", op), version))
        if alts:
            groups.append(tuple(alts))
    return tuple(groups)


def parse_index(text: str, *, suite: str | None = None, arch: str | None = None) -> PackageIndex:
    """Index deb822 ``Packages`` text, keeping the highest version of each name.

    ``Packages`` files may hold several versions, or other architectures when
    ``arch`` is given.
    """
    return parse_indexes([("", text)], suite=suite, arch=arch)


def parse_indexes(
    parts: Iterable[tuple[str, str]], *, suite: str | None = None, arch: str | None = None
) -> PackageIndex:
    """:func:`parse_index` of several ``(origin, Packages text)`` parts (one per suite of a mirror):
    the highest version of a name wins, the first part on a tie; each entry keeps its origin."""
    packages: dict[str, IndexEntry] = {}
    for origin, text in parts:
        for para in _PARAGRAPH_SEP.split(text):
            key = {k.capitalize(): v for k, v in _KEY_FIELD.findall(para)}
            if "Package" not in key or "Version" not in key:
                continue
            entry = IndexEntry(key["Package"], key["Version"], key.get("Architecture", ""), para, origin)
            if arch is not None and entry.architecture not in (arch, "all"):
                continue
            old = packages.get(entry.name)
            if old is None or Version(entry.version) > Version(old.version):
                packages[entry.name] = entry
    return index_of(packages, suite)


def index_of(packages: Mapping[str, IndexEntry], suite: str | None = None) -> PackageIndex:
    """The index of these candidates: who provides what is read from their paragraphs."""
    providers: dict[str, list[Provision]] = {}
    for name in sorted(packages):
        if m := _PROVIDES.search(packages[name].text):
            for group in _relations(m.group(1)):
                for rel in group:
                    providers.setdefault(rel.name, []).append(Provision(name, rel.version))
    return PackageIndex(packages, {k: tuple(v) for k, v in providers.items()}, suite)


# --------------------------------------------------------------------------- resolve


def _satisfies(version: str | None, rel: Relation) -> bool:
    if rel.op is None:
        return True
    if version is None or rel.version is None:
        return False
    a, b = Version(version), Version(rel.version)
    return {
        "=": a == b, ">=": a >= b, "<=": a <= b, ">>": a > b, "<<": a < b,
    }.get(rel.op, False)  # fmt: skip


def _pick(index: PackageIndex, rel: Relation, arch: str, chosen: Container[str]) -> str | None:
    """The package that satisfies ``rel``: the real package of that name, else a
    provider already in the closure, else the first provider by name."""
    real = index.packages.get(rel.name)
    if real is not None and real.architecture in (arch, "all") and _satisfies(real.version, rel):
        return real.name
    providers = sorted(
        p.provider
        for p in index.providers.get(rel.name, ())
        if _satisfies(p.version, rel) and index.packages[p.provider].architecture in (arch, "all")
    )
    return next((p for p in providers if p in chosen), providers[0] if providers else None)


def _where(index: PackageIndex) -> str:
    return f"Debian suite '{index.suite}'" if index.suite else "the package index"


def _unsatisfied(index: PackageIndex, group: Alternatives, chain: Sequence[str]) -> ResolutionError:
    """Explain why no alternative of ``group`` exists: missing or wrong version."""
    who = " -> ".join(chain) if chain else "the stage's system packages"
    wanted = " | ".join(str(r) for r in group)
    have = []
    for rel in group:
        if rel.name in index.packages:
            have.append(f"{rel.name} {index.packages[rel.name].version}")
        have += [f"{p.provider} provides {rel.name} {p.version or '(unversioned)'}"
                 for p in index.providers.get(rel.name, ())]  # fmt: skip
    if have:
        return ResolutionError(
            f"{wanted}, needed by {who}, is not satisfiable in {_where(index)}: it has {', '.join(have)}",
            hint="pick a suite where these versions agree, or exclude the dependency",
        )
    return ResolutionError(
        f"package {wanted}, needed by {who}, was not found in {_where(index)}",
        hint="check the name with `apt-cache policy NAME` for that suite, or choose another suite",
    )


def _choose(
    index: PackageIndex,
    group: Alternatives,
    arch: str,
    chosen: Container[str],
    exclude: frozenset[str],
) -> tuple[str | None, str | None]:
    """Pick the package for one dependency; return ``(name, excluded_name)``.

    Prefer an alternative already in the closure (or requested), which keeps
    closures small; else the first alternative that exists, as apt does.
    """
    picks = [(rel, _pick(index, rel, arch, chosen)) for rel in group]
    for _rel, name in picks:
        if name is not None and name in chosen:
            return name, None
    for rel, name in picks:
        if rel.name in exclude or name in exclude:
            return None, rel.name if rel.name in exclude else name
        if name is not None:
            return name, None
    return None, None


def resolve_closure(
    index: PackageIndex,
    roots: Sequence[str],
    arch: str,
    exclude: frozenset[str] = frozenset(),
) -> list[ResolvedPackage]:
    """Close ``roots`` over ``Pre-Depends`` and ``Depends`` (never Recommends).

    A root may be a name or a relation (``python3 (>= 3.11)``, ``a | b``).  Every
    chosen candidate must satisfy each versioned dependency on it, else the error
    names the chain that asked for it.  Cycles are fine: each name is visited once.
    """
    parent: dict[str, str | None] = {}
    order: list[str] = []
    root_groups = [g for root in sorted(roots) for g in _relations(root)]
    requested = {r.name: None for g in root_groups for r in g if r.name in index.packages}
    for group in root_groups:
        name, skipped = _choose(index, group, arch, requested.keys() | parent.keys(), exclude)
        if name is None and skipped is None:
            raise _unsatisfied(index, group, [])
        if name is not None and name not in parent:
            parent[name] = None
            order.append(name)
    deps: dict[str, list[str]] = {}
    excluded: dict[str, list[str]] = {}
    i = 0
    while i < len(order):
        pkg = index.packages[order[i]]
        i += 1
        chain = _chain(parent, pkg.name)
        fields = pkg.fields()
        groups = _relations(fields.get("Pre-Depends", "")) + _relations(fields.get("Depends", ""))
        for group in groups:
            name, skipped = _choose(index, group, arch, parent, exclude)
            if skipped is not None:
                excluded.setdefault(pkg.name, []).append(skipped)
                continue
            if name is None:
                raise _unsatisfied(index, group, chain)
            if name not in parent:
                parent[name] = pkg.name
                order.append(name)
            if name != pkg.name:
                deps.setdefault(pkg.name, []).append(name)
    return [_resolved(index.packages[n], deps.get(n, []), excluded.get(n, []))
            for n in sorted(order)]  # fmt: skip


def _chain(parent: Mapping[str, str | None], name: str) -> list[str]:
    chain = [name]
    while (up := parent.get(chain[-1])) is not None and up not in chain:
        chain.append(up)
    return chain[::-1]


def _resolved(entry: IndexEntry, deps: Iterable[str], excluded: Iterable[str]) -> ResolvedPackage:
    fields = entry.fields()
    missing = [f for f in ("Filename", "Size", "SHA256") if not fields.get(f)]
    if missing:
        raise ResolutionError(
            f"the index entry of {entry.name} {entry.version} has no {', '.join(missing)}",
            hint="is it a locally installed package no archive carries? pick another version",
        )
    return ResolvedPackage(
        name=entry.name,
        version=entry.version,
        architecture=entry.architecture,
        filename=posixpath.basename(fields["Filename"]),
        sha256=fields["SHA256"].lower(),
        size=int(fields["Size"]),
        depends=tuple(sorted(set(deps))),
        source=(fields.get("Source") or entry.name).split(" (", 1)[0].strip(),
        pool_path=fields["Filename"],
        excluded_depends=tuple(sorted(set(excluded))),
        origin=entry.origin,
    )


#: What apt escapes in a pool path when it names a download ('+' is "%2b", '~' is "%7e"):
#: the lock records URLs as apt printed them, so locks made either way compare equal.
_APT_ESCAPED = frozenset("+~% ")


def apt_quote(path: str) -> str:
    return "".join(f"%{ord(c):02x}" if c in _APT_ESCAPED or not " " < c < "\x7f" else c for c in path)


def with_urls(resolved: Iterable[ResolvedPackage]) -> list[DebPackage]:
    """The closure as the lock records it: each ``.deb``'s URL is its archive's base URL and its pool path."""
    out = []
    for pkg in resolved:
        if not pkg.origin:
            raise ResolutionError(f"the index names no archive for {pkg.name} {pkg.version}: no URL to lock")
        url = f"{pkg.origin.rstrip('/')}/{apt_quote(pkg.pool_path)}"
        out.append(DebPackage(pkg.name, pkg.version, pkg.architecture, pkg.sha256,
                              pkg.filename, pkg.size, url, pkg.depends, pkg.source,
                              pkg.excluded_depends))  # fmt: skip
    return out


# --------------------------------------------------------------------------- facts


def _major_minor(index: PackageIndex, name: str, what: str) -> tuple[int, int]:
    entry = index.packages.get(name)
    if entry is None:
        raise ResolutionError(f"cannot tell the {what} of {_where(index)}: no package {name}")
    parts = (Version(entry.version).upstream_version or "").split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()))
    except (IndexError, ValueError):
        raise ResolutionError(f"cannot tell the {what} of {_where(index)} from {name} {entry.version}") from None


def python_version_of(index: PackageIndex) -> tuple[int, int]:
    """The suite's default Python (``python3``'s version): wheels are locked for it."""
    return _major_minor(index, "python3", "default Python version")


def glibc_version_of(index: PackageIndex) -> tuple[int, int]:
    """The suite's glibc (``libc6``): sets the manylinux tag wheels must match."""
    return _major_minor(index, "libc6", "glibc version")
