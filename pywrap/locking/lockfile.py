"""The lock: every dependency of every stage, pinned by sha256.

Two kinds of files at the project root:

* ``pylock.<stage>.toml`` -- PEP 751, the stage's Python wheels (written by uv);
* ``pyrel.lock.toml``     -- the system packages (Debian), which stage uses
  which, a fingerprint of the configuration each stage was locked from, and
  the sha256 of each pylock file, so a stale or hand-edited lock is refused.

This module is the data model, the reader and the writer; :mod:`pywrap.locking.resolver`
creates a lock by calling the package managers.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from pywrap.config.model import Project, Stage
from pywrap.errors import LockError
from pywrap.storepath import store_name

LOCK_FILE = "pyrel.lock.toml"
LOCK_VERSION = 1
ARCH_TO_MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}
#: ``debian.python`` ("3.11") and ``debian.glibc`` ("2.36"): the target's wheel tags are computed from them.
_MAJOR_MINOR = re.compile(r"[0-9]+\.[0-9]+")
#: An InRelease's Date as the lock records it (debian.releases).
_UTC_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def pylock_name(stage_name: str) -> str:
    return f"pylock.{stage_name}.toml"


@attrs.frozen
class DebEntry:
    name: str
    version: str
    architecture: str
    sha256: str
    size: int
    filename: str
    url: str
    depends: tuple[str, ...] = ()
    source: str = ""

    @property
    def store_name(self) -> str:
        return store_name(self.filename)


@attrs.frozen
class WheelEntry:
    name: str
    version: str
    filename: str
    url: str
    sha256: str
    size: int | None = None
    #: When the index received the file (PEP 751's ``upload-time``, UTC), if the pylock says.
    upload_time: datetime.datetime | None = None

    @property
    def store_name(self) -> str:
        return store_name(self.filename)


@attrs.frozen
class InventoryEntry:
    """An intersphinx inventory (``objects.inv``) a Sphinx stage's ``intersphinx_mapping`` names, pinned:
    the stage hands Sphinx this file instead of letting it download one (the sandbox has no network)."""

    #: The mapping's key (the name conf.py gives the other project).
    name: str
    #: Where links to that project point (the mapping's target URI, kept as conf.py wrote it).
    target: str
    #: Where the inventory was downloaded from at lock time.
    url: str
    sha256: str
    size: int | None = None
    #: The inventory's own header (``# Project:``, ``# Version:``).
    project: str = ""
    version: str = ""

    @property
    def filename(self) -> str:
        """One name per mapping key (each is an ``objects.inv``): the audit tells two inventories apart by it."""
        return store_name(f"intersphinx-{self.name}-objects.inv")

    @property
    def store_name(self) -> str:
        return self.filename


@attrs.frozen
class ArchiveRelease:
    """One suite's InRelease the lock was resolved against: the archive state of its ``date``
    (RFC 3339, UTC), from which a snapshot archive still serves what the mirror has dropped."""

    suite: str
    url: str
    date: str


@attrs.frozen
class StageLock:
    name: str
    fingerprint: str
    system: tuple[str, ...]  # Debian packages merged into the stage's root (closure)
    python_lock: str  # pylock file name, "" when the stage has no Python requirements
    python_lock_sha256: str
    wheels: tuple[WheelEntry, ...] = ()
    #: What the build backend's get_requires_for_build_sdist answered at lock time.
    backend_requires: tuple[str, ...] = ()
    #: Why a stage found in the project (not declared) could not be locked; "" if locked.
    skipped: str = ""
    #: Debian packages of Python's Depends closure the stage's `system-exclude` cut.
    trimmed: tuple[str, ...] = ()
    #: The intersphinx inventories a Sphinx stage's conf.py names, pinned (none with `intersphinx = false`).
    inventories: tuple[InventoryEntry, ...] = ()


@attrs.frozen
class Lock:
    provider: str
    suite: str
    architecture: str
    python_version: str  # the suite's interpreter, "3.11"
    python_full_version: str  # "3.11.2"
    glibc: str  # "2.36"
    bootstrap: tuple[str, ...]  # busybox-static and patchelf with their closure
    packages: tuple[DebEntry, ...]
    stages: tuple[StageLock, ...]
    #: The suites read, each with its InRelease's Date (none in a lock made before pyrel recorded them).
    releases: tuple[ArchiveRelease, ...] = ()

    @property
    def python_platform(self) -> str:
        machine = ARCH_TO_MACHINE.get(self.architecture, self.architecture)
        return f"{machine}-manylinux_{self.glibc.replace('.', '_')}"

    @property
    def manylinux_tag(self) -> str:
        """The platform tag of a wheel compiled against the locked glibc: ``manylinux_2_36_x86_64`` (PEP 600)."""
        machine = ARCH_TO_MACHINE.get(self.architecture, self.architecture)
        return f"manylinux_{self.glibc.replace('.', '_')}_{machine}"

    def package(self, name: str) -> DebEntry:
        for entry in self.packages:
            if entry.name == name:
                return entry
        raise LockError(f"{LOCK_FILE}: package '{name}' is referenced but not locked", hint="run `pyrel lock` again")

    def entry(self, name: str) -> StageLock:
        """The stage's lock entry, skipped or not (``stage`` refuses a skipped one)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise LockError(f"{LOCK_FILE}: stage '{name}' is not locked", hint="run `pyrel lock` to lock every stage")

    def skipped_stages(self) -> dict[str, str]:
        return {stage.name: stage.skipped for stage in self.stages if stage.skipped}

    def stage(self, name: str) -> StageLock:
        for stage in self.stages:
            if stage.name == name and stage.skipped:
                raise LockError(
                    f"stage '{name}' is not locked: {stage.skipped}",
                    hint=f"remove '{name}' from skip-stages, then run `pyrel lock`",
                )
            if stage.name == name:
                return stage
        raise LockError(f"{LOCK_FILE}: stage '{name}' is not locked", hint="run `pyrel lock` to lock every stage")


# --- fingerprints: what a stage's lock was resolved from -------------------------------


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def stage_fingerprint(project: Project, stage: Stage, suite: str, architecture: str) -> str:
    """A digest of every configuration input that determines a stage's lock."""
    data: dict[str, Any] = {
        "lock-version": LOCK_VERSION,
        "provider": project.provider,
        "suite": suite,
        "architecture": architecture,
        "requires-python": project.requires_python,
        "exclude-newer": project.exclude_newer,
        "python": stage.python,
        "compiler": stage.compiler,
        **({"git": True} if stage.git else {}),
        **({"skipped": True} if stage.name in project.skip_stages else {}),
        "system": sorted(stage.system),
        "system-exclude": list(stage.system_exclude),
        "requires": list(stage.requires),
        "requires-file": stage.requires_file,
        "requires-file-sha256": _file_digest(project.root / stage.requires_file) if stage.requires_file else "",
        # Only stages pyrel runs Sphinx for: their lock holds the inventories, or says it does not.
        **({"intersphinx": stage.intersphinx} if stage.sphinx_dir is not None else {}),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# --- PEP 751 --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _target_tags(python_version: str, platform: str) -> tuple[Tag, ...]:
    return tuple(_compute_target_tags(python_version, platform))


def target_tags(python_version: str, platform: str) -> list[Tag]:
    """Wheel tags the target interpreter accepts, most specific first (computed once per target)."""
    return list(_target_tags(python_version, platform))


def _compute_target_tags(python_version: str, platform: str) -> list[Tag]:
    """Wheel tags the target interpreter accepts, most specific first."""
    major, minor = (int(part) for part in python_version.split(".")[:2])
    machine, _, manylinux = platform.partition("-manylinux_")
    glibc_major, glibc_minor = (int(part) for part in manylinux.split("_"))
    platforms = [f"manylinux_{glibc_major}_{minor_}_{machine}" for minor_ in range(glibc_minor, 16, -1)]
    if machine in ("x86_64", "i686"):
        platforms += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    elif machine == "aarch64":
        platforms.append(f"manylinux2014_{machine}")
    platforms.append(f"linux_{machine}")
    tags = list(cpython_tags((major, minor), platforms=platforms))
    tags += list(compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=platforms))
    return tags


def _select_wheel(package: Mapping[str, Any], tag_rank: Mapping[Tag, int], source: str) -> WheelEntry:
    name, version = _package_identity(package, source)
    wheel, filename = _best_wheel(package, name, version, tag_rank, source)
    hashes = wheel.get("hashes") or {}
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    size = wheel.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise LockError(f"{source}: wheel '{filename}' has an invalid size {size!r}", hint="run `pyrel lock`")
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise LockError(f"{source}: wheel '{filename}' has no sha256 hash", hint="re-create the lock with `pyrel lock`")
    url = wheel.get("url") or wheel.get("path")
    return WheelEntry(
        name=name,
        version=version,
        filename=filename,
        url=str(url),
        sha256=sha256,
        size=size,
        upload_time=_upload_time(wheel.get("upload-time"), filename, source),
    )


def _upload_time(value: object, filename: str, source: str) -> datetime.datetime | None:
    """PEP 751's ``upload-time``: a TOML date-time (UTC when it has no offset, as PEP 700's index times are)."""
    if value is None:
        return None
    if isinstance(value, str):  # not what PEP 751 writes, but unambiguous
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise LockError(
                f"{source}: wheel '{filename}' has an invalid upload-time {value!r}", hint="run `pyrel lock`"
            ) from exc
    if not isinstance(value, datetime.datetime):
        raise LockError(f"{source}: wheel '{filename}' has an invalid upload-time {value!r}", hint="run `pyrel lock`")
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def _package_identity(package: Mapping[str, Any], source: str) -> tuple[str, str]:
    """A pylock package's name and version."""
    name = package.get("name")
    if not isinstance(name, str) or not name:
        raise LockError(f"{source}: a package has no name (or a name that is not a string)", hint="run `pyrel lock`")
    version = package.get("version", "")
    if not isinstance(version, str):
        raise LockError(f"{source}: the version of '{name}' must be a string, not {version!r}", hint="run `pyrel lock`")
    return name, version


def _best_wheel(
    package: Mapping[str, Any], name: str, version: str, tag_rank: Mapping[Tag, int], source: str
) -> tuple[Mapping[str, Any], str]:
    """The package's wheel whose best tag ranks first for the target, and its file name."""
    best: tuple[int, Mapping[str, Any], str] | None = None
    wheels = package.get("wheels", []) or []
    if not isinstance(wheels, list) or not all(isinstance(wheel, dict) for wheel in wheels):
        raise LockError(f"{source}: the wheels of '{name}' must be an array of tables", hint="run `pyrel lock`")
    for wheel in wheels:
        url = wheel.get("url") or wheel.get("path")
        if not isinstance(url, str):
            raise LockError(f"{source}: a wheel of '{name}' has no url")
        filename = str(wheel.get("name") or url.rsplit("/", 1)[-1])
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise LockError(f"{source}: '{filename}' is not a valid wheel file name") from exc
        rank = min((tag_rank[tag] for tag in tags if tag in tag_rank), default=None)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, wheel, filename)
    if best is None:
        kind = "only a source distribution" if package.get("sdist") else "no wheel"
        raise LockError(
            f"{source}: '{name}' {version} has {kind} for the stage's interpreter and platform",
            hint="pyrel installs a stage's Python tools from wheels only; pin a version of "
            f"'{name}' that publishes a compatible wheel",
        )
    _, wheel, filename = best
    return wheel, filename


def read_pylock(path: Path, python_version: str, platform: str) -> tuple[WheelEntry, ...]:
    """The wheels of a PEP 751 lock that the target interpreter installs."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LockError(f"{path.name} is missing", hint="run `pyrel lock`") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: not a valid PEP 751 lock: {exc}", hint="run `pyrel lock`") from exc
    except OSError as exc:
        raise LockError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if str(document.get("lock-version", "")).split(".")[0] != "1":
        raise LockError(
            f"{path}: unsupported lock-version {document.get('lock-version')!r}",
            hint="pyrel reads PEP 751 lock-version 1.x; run `pyrel lock`",
        )
    packages = document.get("packages", [])
    if not isinstance(packages, list):
        raise LockError(f"{path}: 'packages' must be an array of tables")
    rank = {tag: index for index, tag in enumerate(target_tags(python_version, platform))}
    wheels = []
    for package in packages:
        if not isinstance(package, dict):
            raise LockError(f"{path}: every entry of 'packages' must be a table")
        wheels.append(_select_wheel(package, rank, str(path)))
    return tuple(sorted(wheels, key=lambda wheel: wheel.name))


# --- pyrel.lock.toml ------------------------------------------------------------------


def lock_to_toml(lock: Lock) -> dict[str, Any]:
    return {
        "lock-version": LOCK_VERSION,
        "provider": lock.provider,
        "debian": {
            "suite": lock.suite,
            "architecture": lock.architecture,
            "python": lock.python_version,
            "python-full-version": lock.python_full_version,
            "glibc": lock.glibc,
            "bootstrap": list(lock.bootstrap),
            "releases": [
                {"suite": release.suite, "url": release.url, "date": release.date} for release in lock.releases
            ],
            "packages": [
                {
                    "name": entry.name,
                    "version": entry.version,
                    "architecture": entry.architecture,
                    "sha256": entry.sha256,
                    "size": entry.size,
                    "filename": entry.filename,
                    "url": entry.url,
                    "depends": list(entry.depends),
                    "source": entry.source,
                }
                for entry in lock.packages
            ],
        },
        "stages": {
            stage.name: {
                "fingerprint": stage.fingerprint,
                "system": list(stage.system),
                "python-lock": stage.python_lock,
                "python-lock-sha256": stage.python_lock_sha256,
                "backend-requires": list(stage.backend_requires),
                **({"trimmed": list(stage.trimmed)} if stage.trimmed else {}),
                **({"skipped": stage.skipped} if stage.skipped else {}),
                **(
                    {"inventories": [_inventory_to_toml(entry) for entry in stage.inventories]}
                    if stage.inventories
                    else {}
                ),
            }
            for stage in lock.stages
        },
    }


def _inventory_to_toml(entry: InventoryEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "target": entry.target,
        "url": entry.url,
        "sha256": entry.sha256,
        **({"size": entry.size} if entry.size is not None else {}),
        "project": entry.project,
        "version": entry.version,
    }


def _require(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise LockError(
            f"{LOCK_FILE}: '{where}{key}' is missing or not a {kind.__name__}",
            hint="the lock is damaged: run `pyrel lock` to re-create it",
        )
    return value


def _strings(table: Mapping[str, Any], key: str, where: str, default: list[str] | None = None) -> tuple[str, ...]:
    value = table.get(key, default) if default is not None else _require(table, key, list, where)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LockError(
            f"{LOCK_FILE}: '{where}{key}' must be a list of strings",
            hint="the lock is damaged: run `pyrel lock` to re-create it",
        )
    return tuple(value)


def lock_from_toml(document: Mapping[str, Any], root: Path, stages: Collection[str] | None = None) -> Lock:
    """The lock ``document`` holds; with ``stages``, only those stages (the others' pylocks are not read)."""
    if document.get("lock-version") != LOCK_VERSION:
        raise LockError(
            f"{LOCK_FILE}: lock-version {document.get('lock-version')!r} is not {LOCK_VERSION}",
            hint="run `pyrel lock` with this version of pyrel",
        )
    debian = _require(document, "debian", dict, "")
    packages = _deb_entries(debian)
    python_version = _require(debian, "python", str, "debian.")
    glibc = _require(debian, "glibc", str, "debian.")
    for key, value, example in (("python", python_version, "3.11"), ("glibc", glibc, "2.36")):
        if not _MAJOR_MINOR.fullmatch(value):
            raise LockError(
                f"{LOCK_FILE}: 'debian.{key}' = {value!r} is not a version like {example!r}",
                hint="the lock is damaged: run `pyrel lock` to re-create it",
            )
    lock = Lock(
        provider=_require(document, "provider", str, ""),
        suite=_require(debian, "suite", str, "debian."),
        architecture=_require(debian, "architecture", str, "debian."),
        python_version=python_version,
        python_full_version=_require(debian, "python-full-version", str, "debian."),
        glibc=glibc,
        bootstrap=_strings(debian, "bootstrap", "debian."),
        packages=packages,
        stages=(),
        releases=_releases(debian),
    )
    stage_locks = [
        _stage_lock(name, raw, root, python_version, lock.python_platform)
        for name, raw in _require(document, "stages", dict, "").items()
        if stages is None or name in stages
    ]
    lock = attrs.evolve(lock, stages=tuple(stage_locks))
    for stage in lock.stages:
        for package in stage.system:
            lock.package(package)
    for package in lock.bootstrap:
        lock.package(package)
    return lock


def _releases(debian: Mapping[str, Any]) -> tuple[ArchiveRelease, ...]:
    raw = debian.get("releases", [])
    if not isinstance(raw, list):
        raise LockError(f"{LOCK_FILE}: 'debian.releases' must be an array of tables", hint="run `pyrel lock`")
    releases = []
    for index, table in enumerate(raw):
        where = f"debian.releases[{index}]."
        if not isinstance(table, dict):
            raise LockError(f"{LOCK_FILE}: '{where[:-1]}' must be a table", hint="run `pyrel lock`")
        date = _require(table, "date", str, where)
        if not _UTC_DATE.fullmatch(date):
            raise LockError(
                f"{LOCK_FILE}: '{where}date' = {date!r} is not a date like '2025-06-01T08:00:00Z'",
                hint="the lock is damaged: run `pyrel lock` to re-create it",
            )
        releases.append(ArchiveRelease(_require(table, "suite", str, where), _require(table, "url", str, where), date))
    return tuple(releases)


def _deb_entries(debian: Mapping[str, Any]) -> tuple[DebEntry, ...]:
    packages = []
    for index, raw in enumerate(_require(debian, "packages", list, "debian.")):
        where = f"debian.packages[{index}]."
        if not isinstance(raw, dict):
            raise LockError(f"{LOCK_FILE}: '{where[:-1]}' must be a table", hint="run `pyrel lock`")
        packages.append(
            DebEntry(
                name=_require(raw, "name", str, where),
                version=_require(raw, "version", str, where),
                architecture=_require(raw, "architecture", str, where),
                sha256=_require(raw, "sha256", str, where),
                size=_require(raw, "size", int, where),
                filename=_require(raw, "filename", str, where),
                url=_require(raw, "url", str, where),
                depends=_strings(raw, "depends", where),
                source=str(raw.get("source", "")),
            )
        )
    return tuple(packages)


def _stage_lock(name: str, raw: Any, root: Path, python_version: str, python_platform: str) -> StageLock:
    where = f"stages.{name}."
    if not isinstance(raw, dict):
        raise LockError(f"{LOCK_FILE}: 'stages.{name}' must be a table", hint="run `pyrel lock`")
    python_lock = _require(raw, "python-lock", str, where)
    if python_lock and (Path(python_lock).name != python_lock or not python_lock.endswith(".toml")):
        raise LockError(
            f"{LOCK_FILE}: '{where}python-lock' = {python_lock!r} is not a lock file name in the project's root",
            hint="run `pyrel lock` to re-create it",
        )
    expected_sha = _require(raw, "python-lock-sha256", str, where)
    wheels: tuple[WheelEntry, ...] = ()
    if python_lock:
        wheels = _checked_pylock_wheels(root / python_lock, expected_sha, python_version, python_platform)
    return StageLock(
        name=name,
        fingerprint=_require(raw, "fingerprint", str, where),
        system=_strings(raw, "system", where),
        python_lock=python_lock,
        python_lock_sha256=expected_sha,
        wheels=wheels,
        backend_requires=_strings(raw, "backend-requires", where, default=[]),
        skipped=str(raw.get("skipped", "")),
        trimmed=_strings(raw, "trimmed", where, default=[]),
        inventories=_inventories(raw, where),
    )


def _inventories(raw: Mapping[str, Any], where: str) -> tuple[InventoryEntry, ...]:
    tables = raw.get("inventories", [])
    if not isinstance(tables, list):
        raise LockError(f"{LOCK_FILE}: '{where}inventories' must be an array of tables", hint="run `pyrel lock`")
    entries = []
    for index, table in enumerate(tables):
        at = f"{where}inventories[{index}]."
        if not isinstance(table, dict):
            raise LockError(f"{LOCK_FILE}: '{at[:-1]}' must be a table", hint="run `pyrel lock`")
        sha256 = _require(table, "sha256", str, at)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise LockError(
                f"{LOCK_FILE}: '{at}sha256' = {sha256!r} is not a sha256",
                hint="the lock is damaged: run `pyrel lock` to re-create it",
            )
        size = table.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise LockError(f"{LOCK_FILE}: '{at}size' = {size!r} is not a size", hint="run `pyrel lock`")
        entries.append(
            InventoryEntry(
                name=_require(table, "name", str, at),
                target=_require(table, "target", str, at),
                url=_require(table, "url", str, at),
                sha256=sha256,
                size=size,
                project=str(table.get("project", "")),
                version=str(table.get("version", "")),
            )
        )
    return tuple(entries)


def _checked_pylock_wheels(
    pylock_path: Path, expected_sha: str, python_version: str, python_platform: str
) -> tuple[WheelEntry, ...]:
    """The pylock's wheels, once its sha256 is the one ``pyrel.lock.toml`` records."""
    actual_sha = _file_digest(pylock_path)
    if actual_sha == "missing":
        raise LockError(f"{pylock_path.name} is missing", hint="run `pyrel lock`")
    if actual_sha != expected_sha:
        raise LockError(
            f"{pylock_path.name} was changed after `pyrel lock` wrote it "
            f"(sha256 {actual_sha}, {LOCK_FILE} records {expected_sha})",
            hint="run `pyrel lock` to re-resolve instead of editing the lock by hand",
        )
    return read_pylock(pylock_path, python_version, python_platform)


def read_lock(root: Path, stages: Collection[str] | None = None) -> Lock:
    """The project's lock; with ``stages``, restricted to them (a build reads only what it builds)."""
    path = root / LOCK_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LockError(f"{root}: no {LOCK_FILE}", hint="run `pyrel lock` first") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: not valid TOML: {exc}", hint="run `pyrel lock` to re-create it") from exc
    except OSError as exc:
        raise LockError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return lock_from_toml(document, root, stages)


def check_fresh(project: Project, lock: Lock, stage_names: Iterable[str]) -> None:
    """Refuse a lock that no longer matches the configuration it was made from."""
    for name in stage_names:
        stage = project.stage(name)
        stage_lock = lock.stage(name)
        expected = stage_fingerprint(project, stage, lock.suite, lock.architecture)
        if stage_lock.fingerprint != expected:
            raise LockError(
                f"{LOCK_FILE} is stale: stage '{name}' was locked from a different configuration "
                f"than {project.config_file.name} now declares",
                hint="run `pyrel lock` to update it",
            )
    if project.debian_suite is not None and project.debian_suite != lock.suite:
        raise LockError(
            f"{LOCK_FILE} was made for Debian suite '{lock.suite}', {project.config_file.name} now says "
            f"'{project.debian_suite}'",
            hint="run `pyrel lock` to update it",
        )
    if project.provider != lock.provider:
        raise LockError(
            f"{LOCK_FILE} was made for provider '{lock.provider}', the project uses '{project.provider}'",
            hint="run `pyrel lock`",
        )
