"""Explain a failed stage's build log as a hermeticity violation, in plain words.

A stage that reaches for something it did not declare (the network, a host
file, a tool or a Python module) fails inside Nix's sandbox with a low-level
message ("Temporary failure in name resolution", "git: not found").  This
module maps such lines to what happened and what to change.  Pure: text in,
findings out; the CLI prints them above the log tail.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import BinaryIO

import attrs

#: Paths a stage may legitimately miss: its own work areas and the store.
_SANDBOX_PATHS = ("/nix/store/", "/build", "/tmp", "/proc", "/dev")
#: Where host files live; inside the sandbox none of these exist.
_HOST_PREFIXES = (
    "/usr",
    "/etc",
    "/home",
    "/root",
    "/var",
    "/opt",
    "/srv",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/run",
    "/mnt",
    "/media",
    "/homeless-shelter",
)
_SANDBOX_USERS = {"root", "nixbld", "nobody"}
#: A stage's own home: private, empty, writable (nix/builders/stage.sh: $TMPDIR/home; Nix's sandbox has
#: $TMPDIR at /build).  A file missing there is one the stage expected from the host's home.
_STAGE_HOME = "/build/home"
#: Home directories of the host (and Nix's placeholder home, /homeless-shelter).
_HOST_HOMES = ("/home", "/root", "/homeless-shelter")


@attrs.frozen
class Violation:
    kind: str  # network | host-file | host-user | undeclared-tool | undeclared-import | missing-library |
    #            binary-cannot-run | input-write
    explanation: str
    evidence: str  # the log line that shows it

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "explanation": self.explanation, "evidence": self.evidence}


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: Sphinx's intersphinx, which only warns: the build "succeeds" with every cross-reference broken.
_INTERSPHINX = ("failed to reach any of the inventories", "not fetchable due to", "intersphinx inventory has moved")
_NETWORK = re.compile(
    r"Network is unreachable|Temporary failure in name resolution|Name or service not known"
    r"|No address associated with hostname|Could not resolve host|getaddrinfo failed|bad address '"
    r"|Errno 101\]|Errno -3\]|Errno -2\]|Failed to establish a new connection|NameResolutionError"
    r"|Errno 111\]|Connection refused|Max retries exceeded with url|Could not fetch remote image"
    r"|" + "|".join(re.escape(text) for text in _INTERSPHINX)
)
_HOST_NAME = re.compile(r"(?:resolve host|bad address|getaddrinfo\():?\s*'?\"?([A-Za-z0-9.-]+\.[A-Za-z]+)")
#: Python's own message, also as Sphinx and plugins quote it ("exception: No module named 'x'").
_MISSING_MODULE = re.compile(r"No module named '([^']+)'")
#: Sphinx's words for an html_theme no installed distribution provides.
_MISSING_THEME = re.compile(r"no theme named '([^']+)' found")
#: Namespace packages shared by many distributions, each named after the namespace and its part.
NAMESPACE_PACKAGES = frozenset({"sphinxcontrib", "jaraco", "backports", "zope"})
#: Import names whose distribution has another name (the hint names what to require).
_DISTRIBUTIONS = {
    "pkg_resources": "setuptools<81",  # setuptools 81 dropped pkg_resources
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "attr": "attrs",
    "dateutil": "python-dateutil",
    "bs4": "beautifulsoup4",
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "OpenSSL": "pyOpenSSL",
    "jwt": "PyJWT",
    "zmq": "pyzmq",
    "serial": "pyserial",
    "git": "GitPython",
    "Crypto": "pycryptodome",
    "google": "protobuf",
    "bson": "pymongo",
}
#: The dynamic loader's message when a library is not in the stage's closure.
_MISSING_LIBRARY = re.compile(r"(lib[A-Za-z0-9_+.-]*\.so[0-9.]*): cannot open shared object file")
_SHELL_NOT_FOUND = re.compile(r"(?:^|: )(?:line \d+: )?([A-Za-z0-9_.+-]+): (?:command )?not found\s*$")
_EXEC_NOT_FOUND = re.compile(r"No such file or directory: '([A-Za-z0-9_.+-]+)'")
_MISSING_PATH = re.compile(
    r"(?:No such file or directory: '(/[^']*)'"  # Python
    r"|(?:can't open|cannot open|cannot access|can't cd to) '?(/[^':\s]+)'?"  # shells, coreutils
    r"|(/[^\s:']+): No such file or directory)"  # busybox ls, cat, sh
)
_MISSING_USER = re.compile(r"getpwnam\(\): name not found: '([^']+)'|unknown user:? '?([A-Za-z0-9_.-]+)")
#: zoneinfo's message for a zone missing from every TZPATH directory and from the tzdata wheel, which
#: it tried to import first.
_ZONE_MISSING = "No time zone found with key"
_MISSING_ZONE = re.compile(_ZONE_MISSING + r" ([A-Za-z0-9_+./-]+)")
_TZDATA_MODULE = "No module named 'tzdata'"
#: The ELF loader's own messages: a program that starts, but lacks a library or a symbol version.
_PROGRAM_LIBRARY = re.compile(r"(\S+): error while loading shared libraries: (\S+): cannot open shared object file")
_PROGRAM_VERSION = re.compile(r"[`'‘]([A-Z]+)_([0-9.]+)['’] not found \(required by (\S+)\)")
#: stage.sh says so when Nix ignored the mount of the locked loader.
_NO_LOADER = re.compile(r"pyrel: this sandbox has no ELF loader at (\S+)")
#: A program started by path that the shell reports "not found" (busybox: the file, its `#!` interpreter or
#: its ELF loader is missing), and one the kernel refuses (another machine's, or no program at all).
_PATH_NOT_FOUND = re.compile(r"(?:^|: )(?:line \d+: )?((?:\.{1,2}|/[^\s:]*)/[^\s:]+): not found\s*$")
_EXEC_FORMAT = re.compile(r"Exec format error: '([^']+)'|(\S+): cannot execute binary file")
#: Python's message for a program it could not start (exec's ENOENT) or a file it could not open.
_STORE_NOT_FOUND = re.compile(r"No such file or directory: '(/nix/store/[^']+)'")
#: The Debian package that ships a library programs commonly load (bookworm and trixie names).
_LIBRARY_PACKAGES = {
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
    "libresolv.so.2": "libc6",
    "libutil.so.1": "libc6",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libgomp.so.1": "libgomp1",
    "libatomic.so.1": "libatomic1",
    "libquadmath.so.0": "libquadmath0",
    "libgfortran.so.5": "libgfortran5",
    "libz.so.1": "zlib1g",
    "libbz2.so.1.0": "libbz2-1.0",
    "liblzma.so.5": "liblzma5",
    "libzstd.so.1": "libzstd1",
    "libffi.so.8": "libffi8",
    "libssl.so.3": "libssl3",
    "libcrypto.so.3": "libssl3",
    "libsqlite3.so.0": "libsqlite3-0",
    "libexpat.so.1": "libexpat1",
    "libuuid.so.1": "libuuid1",
    "libxml2.so.2": "libxml2",
    "libyaml-0.so.2": "libyaml-0-2",
}
#: `meson dist` (meson-python's build_sdist) outside a git or Mercurial checkout.
_MESON_DIST = "Dist currently only works with Git or Mercurial repos"
_READ_ONLY = re.compile(
    r"(/nix/store/[^\s:'\"]+).*(?:Read-only file system|Permission denied)"
    r"|(?:Read-only file system|Permission denied).*?(/nix/store/[^\s:'\"]+)"
)


def _host_path(path: str) -> bool:
    if path.startswith(_SANDBOX_PATHS):
        return False
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _HOST_PREFIXES)


def _network(line: str, stage: str) -> Violation | None:
    if not _NETWORK.search(line):
        return None
    if any(text in line for text in _INTERSPHINX):
        return Violation(
            "network",
            f"Sphinx in the stage '{stage}' tried to download an intersphinx inventory: a "
            "stage's sandbox has no network and no DNS, so every cross-reference to that project is "
            "broken. pyrel pins the inventories of conf.py's intersphinx_mapping at `pyrel lock` and "
            "hands Sphinx those copies where it runs Sphinx itself: run it the way the docs stage does "
            'by default (python "$pyrelTools/stage_tools.py" docs --sphinx-dir DIR --name NAME '
            "--version VERSION) and run `pyrel lock`; or, with that run, set "
            f"[tool.pyrel.stages.{stage}].intersphinx = false to build without other projects' "
            "inventories",
            line,
        )
    host = _HOST_NAME.search(line)
    what = f"tried to reach the network ({host.group(1)})" if host else "tried to reach the network"
    return Violation(
        "network",
        f"the stage '{stage}' {what}: a stage's sandbox has no network and no DNS, and "
        "nothing downloaded while a stage runs could be pinned. Make the step work offline: a file it "
        "downloads belongs in the project, or in a stage it reads (`inputs`); a test that needs the "
        "network must not run in the sandbox: deselect it in the test stage's run, e.g. "
        'python "$pyrelTools/stage_tools.py" test -- -m "not network"',
        line,
    )


def _module(
    line: str, stage: str, project: str = "", extras: tuple[tuple[str, tuple[str, ...]], ...] = ()
) -> Violation | None:
    match = _MISSING_MODULE.search(line)
    if not match:
        return None
    module = match.group(1)
    top = module.split(".")[0]
    if project and "." in module and _canonical(_DISTRIBUTIONS.get(top, top)) == _canonical(project):
        return Violation(
            "undeclared-import",
            f"the stage imported '{module}', a module of the project itself that "
            "its built wheel lacks: most often an optional C extension the build skipped because "
            "a library's headers were missing; add the Debian -dev package it needs to "
            f"[tool.pyrel.stages.{stage}].system and run `pyrel lock`",
            line,
        )
    if top == "distutils":
        return Violation(
            "undeclared-import",
            f"the stage imported '{module}': the standard library's distutils, which Python 3.12 removed and "
            "Debian's Python 3.11 leaves out (python3-distutils), while this setuptools (older than 60) still "
            'uses it; set SETUPTOOLS_USE_DISTUTILS = "local" in '
            f"[tool.pyrel.stages.{stage}].env (setuptools' own copy), or require setuptools>=60",
            line,
        )
    if top in NAMESPACE_PACKAGES and "." in module:
        # sphinxcontrib.towncrier is sphinxcontrib-towncrier's: the namespace names no distribution.
        top = "-".join(module.split(".")[:2])
    wanted = f"'{_DISTRIBUTIONS[top]}'" if top in _DISTRIBUTIONS else f"'{top}' (or the distribution that provides it)"
    distribution = _canonical(_DISTRIBUTIONS.get(top, top))
    extra = next((name for name, requires in extras if distribution in requires), None)
    if project and extra is not None:
        # The project declares it as optional: its tests use that extra (a requirement on the
        # project itself is expanded to the extra's contents, never fetched).
        wanted = f"'{project}[{extra}]' (the project's extra that requires it)"
    return Violation(
        "undeclared-import",
        f"the stage imported '{module}', which is not among its pinned "
        f"requirements: add {wanted} to [tool.pyrel.stages.{stage}].extra-requires (added to the "
        "stage's requirements, the defaults included) and run `pyrel lock`",
        line,
    )


def _theme(line: str, stage: str) -> Violation | None:
    match = _MISSING_THEME.search(line)
    if not match:
        return None
    theme = match.group(1)
    return Violation(
        "undeclared-import",
        f"Sphinx was asked for the html_theme '{theme}', which no distribution among the stage's pinned "
        f"requirements provides: add '{_canonical(theme)}' (or the distribution that provides it) to "
        f"[tool.pyrel.stages.{stage}].extra-requires and run `pyrel lock`",
        line,
    )


def _library(line: str, stage: str) -> Violation | None:
    match = _MISSING_LIBRARY.search(line)
    if not match:
        return None
    return Violation(
        "missing-library",
        f"the stage loaded '{match.group(1)}', a shared library that is not in its "
        "Debian closure. The source stage's default `system-exclude` cuts the libraries of nis, "
        "dbm.ndbm, readline and curses (see `trimmed` in pyrel.lock.toml): set "
        f"[tool.pyrel.stages.{stage}].system-exclude = [] to keep them, or add the Debian package "
        f"that ships the library to [tool.pyrel.stages.{stage}].system, and run `pyrel lock`",
        line,
    )


def _program_name(path: str) -> str:
    """A program's path as the user knows it: a wheel's program by the wheel (``ninja (wheel ninja 1.13.2)``)."""
    match = re.match(r"/nix/store/[a-z0-9]{32}-([^/]+)-([^/-]+)-unpacked/", path)
    name = path.rsplit("/", 1)[-1]
    return f"'{name}' (of the wheel {match.group(1)} {match.group(2)})" if match else f"'{path}'"


def _program_library(line: str, stage: str) -> Violation | None:
    match = _PROGRAM_LIBRARY.search(line)
    if not match:
        return None
    program, library = match.group(1), match.group(2)
    package = _LIBRARY_PACKAGES.get(library)
    declare = (
        f"add '{package}'"
        if package
        else f"add the Debian package that ships {library} (its runtime library package, e.g. libfoo1 for libfoo.so.1)"
    )
    wheel = "-unpacked/" in program and library in ("libstdc++.so.6", "libgcc_s.so.1")
    also = (
        (
            " (`pyrel lock` adds it by itself for a wheel whose programs ask for it: a lock made by an older "
            "pyrel lacks it)"
        )
        if wheel
        else ""
    )
    return Violation(
        "binary-cannot-run",
        f"the program {_program_name(program)} could not start: it loads "
        f"'{library}', which the stage's root does not have (its libraries are only the Debian "
        f"packages the stage locks): {declare} to [tool.pyrel.stages.{stage}].system and run "
        f"`pyrel lock`{also}",
        line,
    )


def _program_version(line: str, stage: str) -> Violation | None:
    match = _PROGRAM_VERSION.search(line)
    if not match:
        return None
    family, version, program = match.groups()
    what = {"GLIBC": "glibc", "GLIBCXX": "libstdc++", "CXXABI": "libstdc++'s ABI", "GCC": "libgcc_s"}.get(
        family, family
    )
    return Violation(
        "binary-cannot-run",
        f"the program {_program_name(program)} could not start: it needs "
        f"{what} {version} ({family}_{version}), newer than the stage's (the lock's Debian suite): use "
        "a build of it for that suite's glibc (wheels are locked for its manylinux tag), or lock a "
        "newer suite (debian-suite)",
        line,
    )


def _no_loader(line: str, stage: str) -> Violation | None:
    match = _NO_LOADER.search(line)
    if not match:
        return None
    return Violation(
        "binary-cannot-run",
        f"the sandbox had no ELF loader at {match.group(1)}: pyrel mounts the "
        "locked glibc's loader there (Nix's sandbox-paths), a setting Nix's daemon ignores for users "
        "it does not trust (add yourself to trusted-users in /etc/nix/nix.conf): no dynamically "
        "linked program outside the root (a wheel's, one the stage compiles) can start",
        line,
    )


def _not_found_path(line: str, stage: str) -> Violation | None:
    match = _PATH_NOT_FOUND.search(line)
    if not match:
        return None
    path = match.group(1)
    return Violation(
        "binary-cannot-run",
        f"the stage ran '{path}', which could not start: the file is missing, or "
        "it names an interpreter the sandbox lacks: a script's `#!` program outside the store "
        "(`/usr/bin/env`, `/usr/bin/perl`: the sandbox has no /usr; run it as `python "
        f"{path}` or `sh {path}`), or an ELF loader other than the locked glibc's, which pyrel "
        "mounts at its standard path (a program for another C library, musl's, cannot start)",
        line,
    )


def _exec_format(line: str, stage: str) -> Violation | None:
    match = _EXEC_FORMAT.search(line)
    if not match:
        return None
    path = next(group for group in match.groups() if group)
    return Violation(
        "binary-cannot-run",
        f"the stage ran '{path}', which this machine cannot execute: a program "
        "built for another architecture than the lock's (or not a program at all): build it in the "
        "stage, or use a build for the lock's architecture",
        line,
    )


def _meson_dist(line: str, stage: str) -> Violation | None:
    if _MESON_DIST not in line:
        return None
    return Violation(
        "host-file",
        f"the stage '{stage}' ran `meson dist` (meson-python's build_sdist does), which "
        "works only in a git checkout, and this stage's source tree is the files git lists without the "
        f"repository: set git = true in [tool.pyrel.stages.{stage}] to give it the project's git metadata (the "
        "project must be the top of a git work tree), or pack the tree with its `run` (an unpacked sdist is "
        "packed as it is by default)",
        line,
    )


def _tool(line: str, stage: str) -> Violation | None:
    match = _SHELL_NOT_FOUND.search(line) or _EXEC_NOT_FOUND.search(line)
    if not match:
        return None
    tool = match.group(1)
    if tool.startswith(("python", "pip")):
        hint = f"set python = true in [tool.pyrel.stages.{stage}] (Python is left out of that stage)"
    else:
        hint = (
            f"add the Debian package that provides it to [tool.pyrel.stages.{stage}].system "
            "(or the wheel to requires) and run `pyrel lock`"
        )
    return Violation(
        "undeclared-tool",
        f"the stage ran '{tool}', which is not among its declared tools "
        f"(the sandbox's PATH holds only what the stage locks): {hint}",
        line,
    )


def _host_file(line: str, stage: str) -> Violation | None:
    match = _MISSING_PATH.search(line)
    if not match:
        return None
    path = next(group for group in match.groups() if group)
    in_home = path == _STAGE_HOME or path.startswith(_STAGE_HOME + "/")
    if not in_home and not _host_path(path):
        return None
    if path == "/bin/sh":
        return Violation(
            "host-file",
            "the stage ran a command through /bin/sh, which this sandbox did not "
            "have: pyrel mounts its pinned busybox there (Nix's sandbox-paths), a setting Nix's daemon "
            "ignores for users it does not trust (add yourself to trusted-users in /etc/nix/nix.conf); "
            "the stage's own shell is busybox's `sh` on PATH",
            line,
        )
    if in_home or any(path == home or path.startswith(home + "/") for home in _HOST_HOMES):
        what = "a file it expected in its home" if in_home else "a file of the host's home"
        where = (
            f"$HOME is a private, empty directory in the sandbox ($TMPDIR/home, {_STAGE_HOME}), never the "
            "host's home, which is not visible"
        )
    else:
        what = "a file of the host"
        where = "the sandbox holds only /nix/store paths the stage declares, /build, /tmp and a minimal /etc"
    return Violation(
        "host-file",
        f"the stage read '{path}', {what}: {where}. Ship what it needs "
        f"in the project, or add the Debian package that provides it to "
        f"[tool.pyrel.stages.{stage}].system",
        line,
    )


def _time_zone(line: str, stage: str) -> Violation | None:
    match = _MISSING_ZONE.search(line)
    if not match:
        return None
    return Violation(
        "host-file",
        f"the stage looked up the time zone '{match.group(1)}', and its sandbox has no "
        "time-zone database (the host's /usr/share/zoneinfo is not visible): add 'tzdata' to "
        f"[tool.pyrel.stages.{stage}].system (Debian's database: TZDIR and PYTHONTZPATH then point at "
        "it; or the tzdata wheel to extra-requires) and run `pyrel lock`",
        line,
    )


def _host_user(line: str, stage: str) -> Violation | None:
    match = _MISSING_USER.search(line)
    if not match:
        return None
    user = next(group for group in match.groups() if group)
    if user in _SANDBOX_USERS:
        return None
    return Violation(
        "host-user",
        f"the stage looked up the user '{user}', which exists only on the host: "
        "the sandbox's /etc/passwd holds only root, nixbld and nobody, never the host's",
        line,
    )


def _input_write(line: str, stage: str) -> Violation | None:
    match = _READ_ONLY.search(line)
    if not match:
        return None
    path = next(group for group in match.groups() if group)
    return Violation(
        "input-write",
        f"the stage tried to change '{path}', one of its inputs: inputs are "
        "read-only store paths. Copy it into $TMPDIR to change it, write results into $out",
        line,
    )


#: mkdocs' message for a plugin or theme mkdocs.yml names that no installed distribution provides.
_MKDOCS_MISSING = re.compile(r"The \"([^\"]+)\" plugin is not installed|Unrecognised theme name: '([^']+)'")
#: git, GitPython and the MkDocs git plugins, asked about a history the sandbox's source tree does not carry.
_GIT_HISTORY = re.compile(
    r"not a git repository|Unable to find a git directory|InvalidGitRepositoryError"
    r"|Bad git executable"
)


#: A VCS plugin that found no repository: setuptools-scm (and hatch-vcs through it), versioningit, dunamai.
_VCS_VERSION = re.compile(
    r"setuptools-scm was unable to detect version|unable to detect version for|NotVCSError"
    r"|Could not determine version from VCS|This does not appear to be a Git project"
)


def _vcs_version(line: str, stage: str) -> Violation | None:
    if not _VCS_VERSION.search(line):
        return None
    return Violation(
        "host-file",
        "the build asked git for the project's version, and the stage has no git metadata: its source tree "
        f"is the files git tracks, without .git. Set git = true in [tool.pyrel.stages.{stage}] (pyrel then "
        "copies the history back to the nearest tag; the project must be the top of a git work tree, and the "
        "source stage has it by default when its build requires a VCS plugin); outside git, build from the "
        "sdist, whose PKG-INFO carries the version, or set SETUPTOOLS_SCM_PRETEND_VERSION in the stage's env",
        line,
    )


def _mkdocs_missing(line: str, stage: str) -> Violation | None:
    match = _MKDOCS_MISSING.search(line)
    if not match:
        return None
    from pywrap.config import mkdocs  # the table of what provides each plugin and theme

    plugin, theme = match.groups()
    what, name = ("plugin", plugin) if plugin else ("theme", theme)
    known = mkdocs.table().plugin(name) if plugin else mkdocs.table().themes.get(name)
    wanted = f"'{known}'" if known else "the distribution that provides it"
    return Violation(
        "undeclared-import",
        f"mkdocs.yml names the {what} '{name}', which none of the stage's pinned "
        f"requirements provides: add {wanted} to [tool.pyrel.stages.{stage}].extra-requires (the "
        "stage's requirements, the defaults included, are what the sandbox has) and run `pyrel lock`",
        line,
    )


def _git_history(line: str, stage: str) -> Violation | None:
    if not _GIT_HISTORY.search(line):
        return None
    return Violation(
        "host-file",
        "the stage asked git about the project's history, which its sandbox does not "
        "have: the source tree is the files git tracks, without the repository (.git), and git is not "
        "among the stage's tools. An MkDocs git plugin (git-revision-date-localized, git-committers, "
        "...) must be off there: give it `enabled: !ENV [VAR, true]` in mkdocs.yml and set VAR = "
        f'"false" in [tool.pyrel.stages.{stage}].env; a version read from git (setuptools-scm) '
        "comes from the sdist's PKG-INFO, or SETUPTOOLS_SCM_PRETEND_VERSION in the stage's env",
        line,
    )


_RULES: tuple[Callable[[str, str], Violation | None], ...] = (
    _vcs_version,
    _mkdocs_missing,
    _git_history,
    _network,
    _module,
    _theme,
    _no_loader,
    _program_library,
    _program_version,
    _exec_format,
    _library,
    _host_user,
    _input_write,
    _time_zone,
    _host_file,
    _meson_dist,
    _not_found_path,
    _tool,
)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("<")[0]).lower()


def _store_program(line: str, stage: str, interpreter_of: Callable[[str], str | None] | None) -> Violation | None:
    """Python's "No such file or directory" for a store path that is a program: it exists, what it asks for
    to start does not (the stage's inputs are immutable, so the host sees the same file)."""
    match = _STORE_NOT_FOUND.search(line) if interpreter_of is not None else None
    interpreter = interpreter_of(match.group(1)) if interpreter_of is not None and match else None
    if match is None or interpreter is None:
        return None
    if interpreter.rsplit("/", 1)[-1].startswith("ld-linux"):
        return Violation(
            "binary-cannot-run",
            f"the program {_program_name(match.group(1))} exists but could not "
            f"start: it asks for glibc's ELF loader at '{interpreter}', where pyrel mounts the locked "
            "one (Nix's sandbox-paths), and this sandbox lacked it: Nix's daemon ignores that setting "
            "for users it does not trust (add yourself to trusted-users in /etc/nix/nix.conf)",
            line,
        )
    return Violation(
        "binary-cannot-run",
        f"the program {_program_name(match.group(1))} exists but could not "
        f"start: it asks for '{interpreter}' to run it, which the sandbox lacks (the sandbox has only "
        "the store paths the stage declares, the locked glibc's ELF loader at its standard path and "
        "busybox at /bin/sh): a program for another C library (musl) or with its own loader cannot "
        f"run here; a script's interpreter must be among the stage's tools "
        f"([tool.pyrel.stages.{stage}].system or requires)",
        line,
    )


def program_interpreter(path: str) -> str | None:
    """What the program at ``path`` asks to be run by: its ELF ``PT_INTERP`` or its ``#!`` program; None for
    a file that is neither, or missing.  Reads the file (the caller's edge: a build's failed log)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(64)
            if head.startswith(b"#!"):
                words = head[2:].split(b"\n", 1)[0].split()
                return words[0].decode(errors="replace") if words else None
            if len(head) < 64 or head[:4] != b"\x7fELF":
                return None
            return _elf_interpreter(stream, head)
    except OSError:
        return None


def _elf_interpreter(stream: BinaryIO, head: bytes) -> str | None:
    order = "<" if head[5] == 1 else ">"
    if head[4] == 2:  # 64-bit: e_phoff at 32, e_phentsize and e_phnum at 54
        (phoff,) = struct.unpack_from(order + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
        entry = order + "I4xQ8x8xQ"  # p_type, p_offset, p_filesz
    else:  # 32-bit: e_phoff at 28, e_phentsize and e_phnum at 42
        (phoff,) = struct.unpack_from(order + "I", head, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
        entry = order + "II8xI"
    for index in range(min(phnum, 64)):
        stream.seek(phoff + index * phentsize)
        data = stream.read(struct.calcsize(entry))
        if len(data) < struct.calcsize(entry):
            return None
        kind, offset, size = struct.unpack(entry, data)
        if kind == 3:  # PT_INTERP
            stream.seek(offset)
            return stream.read(min(size, 4096)).split(b"\0", 1)[0].decode(errors="replace")
    return None


def classify(
    log: str,
    stage: str,
    project: str = "",
    extras: tuple[tuple[str, tuple[str, ...]], ...] = (),
    interpreter_of: Callable[[str], str | None] | None = None,
) -> list[Violation]:
    """The hermeticity violations a failed stage's log shows, first occurrence of each, in log order.

    ``project`` (its distribution name) tells a module of the project itself from an undeclared one;
    ``extras`` (:attr:`pywrap.config.model.Project.extras`) name the extra that would provide a missing module;
    ``interpreter_of`` (:func:`program_interpreter`, reading the store) tells a program that could not start
    from a missing file, where the log names a store path.
    """
    found: list[Violation] = []
    seen: set[tuple[str, str]] = set()
    for raw in log.splitlines():
        line = _ANSI.sub("", raw).strip()
        if not line or line.startswith(("error: builder for", "error: build of", "these ", "building '")):
            continue
        program = _store_program(line, stage, interpreter_of)
        for rule in _RULES:
            violation = program or (_module(line, stage, project, extras) if rule is _module else rule(line, stage))
            if violation is None:
                continue
            key = (violation.kind, violation.explanation)
            if key not in seen:
                seen.add(key)
                found.append(violation)
            break
    if any(_ZONE_MISSING in violation.evidence for violation in found):
        # zoneinfo tried the tzdata wheel before it gave up: one cause, said once (with both remedies).
        found = [violation for violation in found if _TZDATA_MODULE not in violation.evidence]
    return found


def network_attempts(log: str, stage: str) -> list[Violation]:
    """The network attempts a stage's log shows even though the stage succeeded (Sphinx only warns when an
    intersphinx inventory cannot be downloaded; a test may catch the error): first occurrence of each."""
    found: list[Violation] = []
    for raw in log.splitlines():
        violation = _network(_ANSI.sub("", raw).strip(), stage)
        if violation is not None and all(violation.explanation != seen.explanation for seen in found):
            found.append(violation)
    return found


def describe(violations: list[Violation]) -> str:
    """The text the CLI prints: one paragraph per violation, with the line that shows it."""
    return "\n".join(
        f"hermeticity violation ({violation.kind}): {violation.explanation}\n    log: {violation.evidence}"
        for violation in violations
    )
