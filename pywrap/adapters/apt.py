"""The only module that calls apt: indexes, download URLs and ``.deb`` files.

URLs always come from apt itself (the machine's configured mirrors and proxies),
never from pywrap.  A suite other than the host's gets a *private* apt state under
the cache directory, derived from the host's sources, so resolving for another
suite never touches the host's ``/var/lib/apt/lists`` or ``/var/cache/apt``.
"""

from __future__ import annotations

import os
import platform
import pwd
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote

import attrs
from debian.deb822 import Deb822

from pywrap.adapters.run import require_tool, run
from pywrap.errors import CommandFailed, ResolutionError

APT_HINT = (
    'pywrap\'s `debian` provider needs apt (Debian/Ubuntu); elsewhere use provider = "nixpkgs"'
)
SOURCES_DIR = Path("/etc/apt")
MAX_AGE_SECONDS = 24 * 3600

#: apt-get update runs the host's hooks (PackageKit, appstream refreshing the
#: host's caches); a private state must not trigger them.
_PRIVATE_CONF = """\
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
Acquire::Languages "none";
"""

#: One-line ``[options]`` whose deb822 field name is not just the capitalized key.
_ONE_LINE_OPTIONS = {"arch": "Architectures", "lang": "Languages", "target": "Targets",
                     "pdiffs": "PDiffs"}  # fmt: skip

_URI_LINE = re.compile(r"^'(?P<url>[^']+)' (?P<file>\S+) (?P<size>\d+) (?P<hash>\S+)$")


@attrs.frozen
class AptContext:
    """Which apt state to query: the host's (``state_dir`` None) or a private one."""

    suite: str | None
    arch: str
    state_dir: Path | None

    def options(self) -> list[str]:
        """apt flags selecting this state; empty for the host's own configuration."""
        if self.state_dir is None:
            return []
        d = self.state_dir
        settings = {
            "Dir::Etc::SourceList": d / "sources.list",
            "Dir::Etc::SourceParts": d / "sources.list.d",
            "Dir::Etc::Preferences": d / "preferences",
            "Dir::Etc::PreferencesParts": d / "preferences.d",
            "Dir::State": d / "state",
            "Dir::State::Lists": d / "lists",
            "Dir::State::status": d / "status",
            "Dir::Cache": d / "cache",
            "APT::Architecture": self.arch,
            "APT::Architectures": self.arch,
            "APT::Sandbox::User": _user(),
        }
        opts = ["-c", str(d / "apt.conf")]
        for key, value in settings.items():
            opts += ["-o", f"{key}={value}"]
        return opts

    @property
    def where(self) -> str:
        return f"Debian suite '{self.suite or host_suite()}' ({self.arch})"


def _user() -> str:
    """Download as ourselves: apt's ``_apt`` user cannot write into private dirs."""
    return pwd.getpwuid(os.geteuid()).pw_name


def _apt_get() -> str:
    return require_tool("apt-get", APT_HINT)


def host_suite() -> str:
    """The host's codename (``VERSION_CODENAME``): the default suite."""
    try:
        codename = platform.freedesktop_os_release().get("VERSION_CODENAME", "")
    except OSError:
        codename = ""
    if not codename:
        raise ResolutionError(
            "cannot tell this host's Debian suite: /etc/os-release has no VERSION_CODENAME",
            hint='set `debian-suite = "bookworm"` (or another suite) in [tool.pyrel]',
        )
    return codename


def host_arch() -> str:
    require_tool("dpkg", APT_HINT)
    return run(["dpkg", "--print-architecture"], what="dpkg").stdout.strip()


# --------------------------------------------------------------------------- sources


def _host_source_paragraphs(root: Path = SOURCES_DIR) -> list[dict[str, str]]:
    """The host's ``deb`` sources as deb822 dicts, from both file formats."""
    paras: list[dict[str, str]] = []
    one_line = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            paras += _parse_one_line(path.read_text())
    for path in sorted((root / "sources.list.d").glob("*.sources")):
        for para in Deb822.iter_paragraphs(path.read_text()):
            if para.get("Enabled", "yes").lower() != "no":
                paras.append(dict(para))
    return [p for p in paras if "deb" in p.get("Types", "").split()]


def _parse_one_line(text: str) -> list[dict[str, str]]:
    paras = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        options: dict[str, str] = {}
        if m := re.match(r"^(\S+)\s+\[([^\]]*)\]\s*(.*)$", line):
            line = f"{m.group(1)} {m.group(3)}"
            for opt in m.group(2).split():
                key, _, value = opt.partition("=")
                field = _ONE_LINE_OPTIONS.get(key) or "-".join(map(str.capitalize, key.split("-")))
                options[field] = value.replace(",", " ")
        words = line.split()
        if len(words) >= 3 and words[0] in ("deb", "deb-src"):
            para = {"Types": words[0], "URIs": words[1], "Suites": words[2]}
            para["Components"] = " ".join(words[3:])
            paras.append({**options, **para})
    return paras


def derive_sources(
    paras: Iterable[dict[str, str]], host: str, suite: str, arch: str
) -> list[dict[str, str]]:
    """Rewrite the host's sources for ``suite``: same mirrors, keys and components;
    ``bookworm-security`` becomes ``trixie-security``.  Third-party sources naming
    other suites are dropped: they were not built for ``suite``."""
    out = []
    for para in paras:
        suites = [
            suite + s[len(host) :]
            for s in para.get("Suites", "").split()
            if s == host or s.startswith(host + "-")
        ]
        if suites:
            keep = {k: v for k, v in para.items() if k not in ("Suites", "Architectures")}
            out.append({**keep, "Types": "deb", "Suites": " ".join(suites), "Architectures": arch})
    return out


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


# --------------------------------------------------------------------------- prepare


def prepare(
    suite: str,
    arch: str,
    cache_dir: Path,
    *,
    refresh: bool = False,
    max_age: float = MAX_AGE_SECONDS,
) -> AptContext:
    """Get an apt state able to answer for ``suite``/``arch``.

    The host's own suite uses the host's apt as configured (its lists are the
    user's business: if empty we say to run ``apt-get update``).  Any other suite
    gets lists under ``cache_dir/apt/<suite>-<arch>/``, refreshed at most daily.
    """
    _apt_get()
    if suite == host_suite() and arch == host_arch():
        return AptContext(None, arch, None)
    state = cache_dir / "apt" / f"{suite}-{arch}"
    ctx = AptContext(suite, arch, state)
    sources = derive_sources(_host_source_paragraphs(), host_suite(), suite, arch)
    if not sources:
        raise ResolutionError(
            f"cannot derive apt sources for Debian suite '{suite}': none of this host's "
            f"apt sources names its suite '{host_suite()}'",
            hint=f"resolve on a host running '{suite}', or use the host's suite",
        )
    for sub in ("sources.list.d", "preferences.d", "state", "lists/partial", "cache"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    changed = _write_if_changed(
        state / "sources.list.d" / "pywrap.sources",
        "\n".join(Deb822(p).dump() or "" for p in sources),
    )
    for name, text in (("apt.conf", _PRIVATE_CONF), ("sources.list", ""), ("preferences", ""),
                       ("status", "")):  # fmt: skip
        _write_if_changed(state / name, text)
    stamp = state / "updated"
    fresh = stamp.is_file() and time.time() - stamp.stat().st_mtime < max_age
    if refresh or changed or not fresh:
        _update(ctx)
        stamp.touch()
    return ctx


def _update(ctx: AptContext) -> None:
    try:
        done = run([_apt_get(), *ctx.options(), "update"], what=f"apt-get update for {ctx.where}")
    except CommandFailed as exc:
        raise ResolutionError(
            f"could not fetch the package lists of {ctx.where}:\n{exc.completed.stderr.strip()}",
            hint="check that the suite exists and the mirror is reachable",
        ) from exc
    failed = [ln for ln in done.stderr.splitlines() if ln.startswith(("E:", "W: Failed", "Err:"))]
    if failed:
        raise ResolutionError(
            f"apt-get update for {ctx.where} failed:\n" + "\n".join(failed),
            hint="check that the suite exists and the mirror is reachable",
        )


# --------------------------------------------------------------------------- queries


def dump_available(ctx: AptContext) -> str:
    """deb822 text of every package's candidate; apt reads its (lz4) lists itself."""
    require_tool("apt-cache", APT_HINT)
    text = run(["apt-cache", *ctx.options(), "dumpavail"], what="apt-cache dumpavail").stdout
    if not text.strip():
        raise ResolutionError(
            f"apt knows no packages for {ctx.where}",
            hint="run `apt-get update` (as root) first"
            if ctx.state_dir is None
            else "re-run with refresh to fetch the lists again",
        )
    return text


def _get(ctx: AptContext, args: Sequence[str], what: str, cwd: Path | None = None) -> str:
    """Run apt-get, turning "package not found" into an error naming it and the suite."""
    try:
        return run([_apt_get(), *ctx.options(), *args], what=what, cwd=cwd).stdout
    except CommandFailed as exc:
        errors = [ln for ln in exc.completed.stderr.splitlines() if ln.startswith("E:")]
        raise ResolutionError(
            f"{what} failed for {ctx.where}:\n" + "\n".join(errors or [exc.message]),
            hint="check the name and version (`apt-cache policy NAME`); the package lists "
            "may be stale: run `apt-get update` (host suite) or lock again with refresh",
        ) from exc


def print_uris(
    ctx: AptContext, packages: Sequence[tuple[str, str]]
) -> dict[str, tuple[str, str, int, str]]:
    """``name -> (url, apt's file name, size, sha256)`` for pinned packages, in one
    call and without downloading.  The URL stays exactly as apt prints it."""
    if not packages:
        return {}
    pins = [f"{name}={version}" for name, version in packages]
    out = _get(ctx, ["--print-uris", "-qq", "download", *pins], "apt-get --print-uris download")
    result: dict[str, tuple[str, str, int, str]] = {}
    for line in out.splitlines():
        m = _URI_LINE.match(line.strip())
        if not m:
            continue
        algo, _, digest = m.group("hash").partition(":")
        if algo.lower() != "sha256":
            raise ResolutionError(f"apt gave no sha256 for {m.group('file')} ({m.group('hash')})")
        name = m.group("file").split("_", 1)[0]
        result[name] = (m.group("url"), m.group("file"), int(m.group("size")), digest.lower())
    missing = sorted({name for name, _ in packages} - result.keys())
    if missing:
        raise ResolutionError(f"apt gave no download URL for {', '.join(missing)} in {ctx.where}")
    return result


def download(ctx: AptContext, name: str, version: str, dest_dir: Path) -> Path:
    """Fetch one ``.deb`` into ``dest_dir`` (the caller verifies its sha256)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    sandbox = ["-o", f"APT::Sandbox::User={_user()}"] if ctx.state_dir is None else []
    _get(ctx, [*sandbox, "-qq", "download", f"{name}={version}"], "apt-get download", dest_dir)
    for path in sorted(dest_dir.glob(f"{name}_*.deb")):
        parts = path.name[: -len(".deb")].split("_")
        if len(parts) == 3 and parts[0] == name and unquote(parts[1]) == version:
            return path
    raise ResolutionError(f"apt-get download {name}={version} wrote no file in {dest_dir}")
