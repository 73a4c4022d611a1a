"""What a stage needs from the system, explained even when the stage succeeded.

A compile step that fails for a missing header, library, pkg-config module or tool does not
always fail its stage: a ``setup.py`` builds an optional C extension when it can and goes on
without it (PyYAML without ``yaml.h``), and the tests that need it are skipped.  Such a log is
read for the compiler's, the linker's and pkg-config's own messages (:func:`compile_failures`),
and each is said as a warning under the stage's result (``notices`` in ``--json``), with the
Debian package that ships the file and the key to add; a failed stage's log is read the same way
(:func:`failure_notices`).  The same lookup names the package in the ``undeclared-tool`` and
``missing-library`` findings of a failed stage (:func:`named_violations`).

The package comes from the suite's Contents index (:mod:`pywrap.providers.debian_contents`),
read only when a finding needs it.  When it cannot be read, the warning still appears, saying
why no package is named; the build's outcome never depends on it.  Where the answer would be a
guess (many packages ship a file of that name, or the stage already has the one that does), no
package is named.  Pure but for :func:`archive_lookup` and :func:`remembered_notices`.
"""

from __future__ import annotations

import json
import lzma
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pywrap.errors import PyrelError
from pywrap.providers.debian_contents import Found, Wanted

if TYPE_CHECKING:
    from pywrap.config.model import Project
    from pywrap.execution import hermeticity
    from pywrap.locking.lockfile import Lock

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: gcc's and clang's message for an #include they could not find (after the including file's ``line:column``;
#: ``cc1: fatal error: x.c: No such file`` is a missing source file, not a header).
_HEADER = re.compile(
    r":\d+(?::\d+)?: fatal error: (?:'([^'\s]+)' file not found|([^\s:'/][^\s:']*): No such file or directory)"
)
#: GNU ld's (bfd, gold) and lld's message for a ``-lNAME`` they could not find.
_LINK = re.compile(r"(?:cannot find|unable to find library) -l([^\s:]+)")
#: pkg-config's, pkgconf's and meson's messages for a module without its ``.pc`` file.
_PKG_CONFIG = re.compile(
    r"Package '?([A-Za-z0-9_+.-]+?)'?,? was not found in the pkg-config search path"
    r"|No package '([^']+)' found"
    r"|Package '([^']+)', required by '[^']*', not found"
    r"|(?:Run-time|Build-time) dependency (\S+) found: NO \(tried pkgconfig(?: and cmake)?\)"
)
#: setuptools' (distutils') messages for a compiler or tool it could not start.
_TOOL = re.compile(
    r"error: command '([^']+)' failed: No such file or directory|unable to execute '([^']+)': No such file or directory"
)
#: The tools ``compiler = true`` provides (gcc and binutils from the suite, with the libc headers), and the
#: other compilers meson and CMake try in turn when they look for one (clang, NVIDIA's, PGI's, Intel's): the
#: answer to each is the compiler, never a package lookup.
_COMPILER = re.compile(
    r"(?:[a-z0-9_]+-linux-gnu[a-z0-9_]*-)?(?:cc|gcc|c\+\+|g\+\+|cpp|ld|as)(?:-[0-9]+)?"
    r"|(?:clang|clang\+\+|nvc|nvc\+\+|pgcc|pgc\+\+|icc|icpc|icx|icpx)(?:-[0-9]+)?"
)
#: More packages than this for one file, and none is named (which one the build wants would be a guess).
NAMED_AT_MOST = 3


@attrs.frozen
class Need:
    """A file a stage's step looked for and did not find, and the log line that says so."""

    wanted: Wanted
    evidence: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.wanted.kind, "name": self.wanted.name, "evidence": self.evidence}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Need:
        return cls(Wanted(data["kind"], data["name"]), data["evidence"])


def _compile_need(line: str) -> Wanted | None:
    from pywrap.execution import hermeticity

    if match := _HEADER.search(line):
        return Wanted("header", match.group(1) or match.group(2))
    if match := _LINK.search(line):
        return Wanted("link", match.group(1))
    if match := _PKG_CONFIG.search(line):
        return Wanted("pkg-config", next(group for group in match.groups() if group))
    match = _TOOL.search(line) or hermeticity._SHELL_NOT_FOUND.search(line)
    if match:
        tool = next(group for group in match.groups() if group).rsplit("/", 1)[-1]
        # Python itself is a stage's `python` key, which the failed stage's finding names.
        return None if tool.startswith(("python", "pip")) else Wanted("tool", tool)
    return None


def compile_failures(log: str) -> list[Need]:
    """What a stage's log shows a compile step missing (first occurrence of each file, in log order)."""
    found: dict[Wanted, Need] = {}
    for raw in log.splitlines():
        line = _ANSI.sub("", raw).strip()
        wanted = _compile_need(line) if line else None
        if wanted is not None and wanted not in found:
            found[wanted] = Need(wanted, line)
    return list(found.values())


def violation_needs(violation: hermeticity.Violation) -> Wanted | None:
    """The file behind an ``undeclared-tool`` or ``missing-library`` finding (or a program's missing library
    that pyrel's own table does not name), for the Contents lookup."""
    from pywrap.execution import hermeticity

    line = violation.evidence
    if violation.kind == "undeclared-tool":
        match = hermeticity._SHELL_NOT_FOUND.search(line) or hermeticity._EXEC_NOT_FOUND.search(line)
        tool = match.group(1) if match else ""
        return Wanted("tool", tool) if tool and not tool.startswith(("python", "pip")) else None
    if violation.kind == "missing-library":
        match = hermeticity._MISSING_LIBRARY.search(line)
        return Wanted("library", match.group(1)) if match else None
    if violation.kind == "binary-cannot-run":
        match = hermeticity._PROGRAM_LIBRARY.search(line)
        library = match.group(2) if match else ""
        return Wanted("library", library) if library and library not in hermeticity._LIBRARY_PACKAGES else None
    return None


# --------------------------------------------------------------------------- the words


def _quoted(names: Sequence[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def _where(found: Found) -> str:
    first = "/" + found.paths[0][0]
    return first if len(found.paths) == 1 else f"{first} and {len(found.paths) - 1} more"


def is_compiler(wanted: Wanted) -> bool:
    return wanted.kind == "tool" and _COMPILER.fullmatch(wanted.name) is not None


def package_fix(
    wanted: Wanted, stage: str, *, suite: str, found: Found | None, failure: str, stage_packages: Collection[str]
) -> str:
    """What to do about ``wanted``: the Debian package to add to the stage's ``system``, or why none is named."""
    system = f"[tool.pyrel.stages.{stage}].system"
    if is_compiler(wanted):
        return (
            f"set compiler = true in [tool.pyrel.stages.{stage}] (gcc, binutils and the C library's headers from "
            f"the suite; for C++ add 'g++' to {system} too) and run `pyrel lock`"
        )
    if failure:
        return f"add the Debian package that ships it to {system} and run `pyrel lock` (none is named: {failure})"
    index = f"{suite}'s Contents index"
    if found is None:
        return f"{index} lists no Debian package that ships it where the build looks, so none is named"
    packages = found.packages
    present = [package for package in packages if package in stage_packages]
    if present:
        return (
            f"the stage already has {_quoted(present)}, which ships it ({_where(found)}): the step did not look "
            "there (its include or library path, which pkg-config or the project's build gives)"
        )
    if len(packages) > NAMED_AT_MOST:
        return (
            f"{len(packages)} Debian packages ship a file of that name ({index}: {_where(found)}, ...), so none is "
            f"named: add the one the build needs to {system} and run `pyrel lock`"
        )
    # A header under its own directory (usr/include/libxml2/) is found through the flags the build asks for.
    flags = (
        " (the compile step finds its directory through the flags it asks for: pkg-config's, with 'pkgconf' in "
        "the stage, or the project's own)"
        if wanted.kind == "header" and found.rank > 0
        else ""
    )
    if len(packages) == 1:
        return f"'{packages[0]}' ships it ({_where(found)}, {index}): add it to {system} and run `pyrel lock`{flags}"
    return (
        f"{_quoted(packages)} ship it ({_where(found)}, {index}): add the one the build needs to {system} and run "
        f"`pyrel lock`{flags}"
    )


_WHAT_FAILED = {
    "header": "a compile step did not find {what}",
    "link": "a link did not find {what}",
    "pkg-config": "pkg-config did not find {what}",
    "tool": "a build step could not run {what}",
}


def notice(need: Need, stage: str, fix: str, *, went_on: bool = True) -> str:
    """The warning printed under a stage whose step missed ``need``: one that succeeded (``went_on``), or one
    that failed."""
    what = _WHAT_FAILED.get(need.wanted.kind, "a step missed {what}").format(what=need.wanted.describe())
    outcome = (
        ", and the stage went on without it (an optional C extension is then left out, and the tests that need it "
        "do not run)"
        if went_on
        else ""
    )
    return f"{what}{outcome}: {fix}\n    log: {need.evidence}"


# --------------------------------------------------------------------------- the lookup, once per run


#: Looks up files in the suite's Contents index; raises PyrelError (or OSError) when it cannot be read.
Lookup = Callable[[Collection[Wanted]], Mapping[Wanted, Found]]


@attrs.define
class Packages:
    """The Contents lookup of one build run: each file asked once, a failure said once and kept."""

    look: Lookup | None
    suite: str
    #: Why nothing can be looked up (the lookup is None: another provider than Debian's).
    unavailable: str = ""
    known: dict[Wanted, Found | None] = attrs.Factory(dict)
    failure: str = ""

    def ask(self, wanted: Collection[Wanted]) -> None:
        """Look up what is not known yet (once: a failure is kept, and said by :meth:`fix`)."""
        missing = [item for item in wanted if not is_compiler(item) and item not in self.known]
        if not missing or self.failure or self.look is None:
            return
        try:
            answers = self.look(missing)
        except PyrelError as exc:
            self.failure = f"the suite's Contents index could not be read: {exc.message}"
        except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:  # a damaged download, a full disk
            self.failure = f"the suite's Contents index could not be read: {exc}"
        else:
            self.known.update({item: answers.get(item) for item in missing})

    def fix(self, wanted: Wanted, stage: str, stage_packages: Collection[str]) -> str:
        """What to do about ``wanted`` (after :meth:`ask`)."""
        return package_fix(
            wanted,
            stage,
            suite=self.suite,
            found=self.known.get(wanted),
            failure="" if wanted in self.known else (self.failure or self.unavailable),
            stage_packages=stage_packages,
        )


def success_notices(
    needs: Sequence[Need], stage: str, packages: Packages, stage_packages: Collection[str]
) -> list[str]:
    """The warnings of a stage that succeeded although its log shows ``needs``."""
    packages.ask([need.wanted for need in needs])
    return [notice(need, stage, packages.fix(need.wanted, stage, stage_packages)) for need in needs]


def failure_notices(log: str, stage: str, packages: Packages, stage_packages: Collection[str]) -> tuple[str, ...]:
    """What a failed stage's log shows a compile step missing: a header, a library or a pkg-config module (a
    tool it could not run is already an ``undeclared-tool`` finding)."""
    needs = [need for need in compile_failures(log) if need.wanted.kind != "tool"]
    packages.ask([need.wanted for need in needs])
    return tuple(notice(need, stage, packages.fix(need.wanted, stage, stage_packages), went_on=False) for need in needs)


def named_violations(
    violations: Sequence[hermeticity.Violation], stage: str, packages: Packages, stage_packages: Collection[str]
) -> tuple[hermeticity.Violation, ...]:
    """``violations`` with the Debian package named where a tool or a library was missing."""
    wanted = {index: item for index, violation in enumerate(violations) if (item := violation_needs(violation))}
    packages.ask(list(wanted.values()))
    named = list(violations)
    for index, item in wanted.items():
        fix = packages.fix(item, stage, stage_packages)
        named[index] = attrs.evolve(
            named[index], explanation=f"{named[index].explanation}. For {item.describe()}: {fix}"
        )
    return tuple(named)


def archive_lookup(project: Project, lock: Lock, progress: Callable[[str], None]) -> Packages:
    """The lookup of a build run, reading the lock's suite from the mirrors a lock reads (``debian-mirror``,
    else the host's apt sources), with the keys a lock trusts."""
    if lock.provider != "debian":
        return Packages(None, lock.suite, unavailable=f"the stage's system packages come from {lock.provider}")

    def look(wanted: Collection[Wanted]) -> Mapping[Wanted, Found]:
        from pywrap.adapters import http
        from pywrap.cache import cache_dir
        from pywrap.config.archive import archive_settings
        from pywrap.locking.resolver import debian_sources
        from pywrap.providers import debian_archive, debian_contents

        settings = archive_settings(project.debian_archive)
        progress(f"looking up {', '.join(item.name for item in wanted)} in {lock.suite}'s Contents index")
        return debian_contents.lookup(
            debian_sources(settings, lock.suite, lock.architecture),
            wanted,
            suite=lock.suite,
            arch=lock.architecture,
            cache=debian_archive.IndexCache(cache_dir() / "debian"),
            get=http.get,
            download=http.download,
            keyrings=settings.keyrings,
            progress=progress,
        )

    return Packages(look, lock.suite)


def remembered_notices(
    record: Path,
    own_log: str,
    stage: str,
    packages: Packages,
    stage_packages: Collection[str],
    read_log: Callable[[], str] = str,
) -> tuple[str, ...]:
    """The warnings of a stage that built, from its log: this run's when this run built it, else the one Nix
    kept (``read_log``), read once per output; what it showed is remembered in ``record``.  A lookup that
    failed is tried again by the next run."""
    if not own_log and record.is_file():
        try:
            needs = [Need.from_json(entry) for entry in json.loads(record.read_text())]
        except (OSError, ValueError, TypeError, KeyError):
            record.unlink(missing_ok=True)
            return ()
    else:
        needs = compile_failures(own_log or read_log())
        record.parent.mkdir(exist_ok=True)
        _write(record, json.dumps([need.to_json() for need in needs]).encode())
    return tuple(success_notices(needs, stage, packages, stage_packages))


def _write(path: Path, data: bytes) -> None:
    from pywrap.files import write_atomically

    write_atomically(path, data)


__all__ = [
    "Need",
    "Packages",
    "archive_lookup",
    "compile_failures",
    "failure_notices",
    "named_violations",
    "package_fix",
    "remembered_notices",
    "success_notices",
    "violation_needs",
]
