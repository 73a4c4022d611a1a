"""`pyrel doctor`: is this machine able to build hermetically, and if not, what to fix.

Each check returns a :class:`Check` (data); the CLI prints them or their JSON
and exits non-zero if any is an error.  Host programs run only through
:mod:`pywrap.adapters.host`.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable
from pathlib import Path

import attrs

from pywrap.adapters import host
from pywrap.adapters.nix import IGNORED_SETTING
from pywrap.adapters.run import tail

MINIMUM_NIX = (2, 8)
#: The suite doctor reads where the host is no Debian to say its own (a lock names its suite itself).
PROBE_SUITE = "trixie"
SCHEMA_VERSION = 1
STORE = Path("/nix/store")
NIX_DB = Path("/nix/var/nix/db")
DAEMON_SOCKET = Path("/nix/var/nix/daemon-socket/socket")


class Level(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@attrs.frozen
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.level.value, "detail": self.detail, "fix": self.fix}


def parse_nix_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def check_nix() -> Check:
    if host.which("nix-build") is None:
        return Check(
            "nix",
            Level.ERROR,
            "nix-build is not installed",
            "install Nix: `apt-get install nix-bin` on Debian/Ubuntu, or the official installer",
        )
    completed = host.nix_version()
    version = parse_nix_version(completed.stdout)
    if completed.returncode != 0 or version is None:
        return Check("nix", Level.ERROR, f"`nix-build --version` failed: {tail(completed.stderr, 3)}", "reinstall Nix")
    text = ".".join(str(part) for part in version)
    if version[:2] < MINIMUM_NIX:
        return Check("nix", Level.ERROR, f"Nix {text} is older than {'.'.join(map(str, MINIMUM_NIX))}", "upgrade Nix")
    return Check("nix", Level.OK, f"Nix {text}")


def check_store() -> Check:
    if not STORE.is_dir():
        return Check("store", Level.ERROR, f"{STORE} does not exist", "install Nix (it creates the store)")
    if os.access(STORE, os.W_OK) and os.access(NIX_DB, os.W_OK):
        return Check("store", Level.OK, f"{STORE} and {NIX_DB} are writable (single-user Nix)")
    if DAEMON_SOCKET.exists():
        if os.access(DAEMON_SOCKET, os.W_OK):
            return Check("store", Level.OK, f"the store is written through nix-daemon ({DAEMON_SOCKET})")
        return Check(
            "store",
            Level.ERROR,
            f"cannot talk to nix-daemon: {DAEMON_SOCKET} is not writable for you",
            "add yourself to the `nix-users` group (`usermod -aG nix-users $USER`), then log in again",
        )
    return Check(
        "store",
        Level.ERROR,
        f"{STORE} is not writable and no nix-daemon is running",
        "run pyrel as root, or start nix-daemon (`systemctl enable --now nix-daemon`) and join the `nix-users` group",
    )


def check_sandbox(expression: Path) -> Check:
    """Build a trivial derivation with the sandbox forced on, as every pyrel build does."""
    busybox = host.which("busybox")
    if busybox is None:
        return Check(
            "sandbox",
            Level.ERROR,
            "busybox is not installed, so the sandbox cannot be tried",
            "`apt-get install busybox-static`",
        )
    added = host.add_busybox(busybox)
    if added.returncode != 0:
        return Check(
            "sandbox", Level.ERROR, f"cannot add to the Nix store: {tail(added.stderr, 3)}", "see the store check above"
        )
    built = host.build_sandboxed(expression, added.stdout.strip())
    ignored = sorted(set(IGNORED_SETTING.findall(built.stderr)))
    if built.returncode == 0 and ignored:
        # The daemon's own nix.conf decides then: the sandbox held here, but pyrel's /bin/sh,
        # its empty substituters and the rest are not guaranteed.
        return Check(
            "sandbox",
            Level.WARNING,
            f"Nix's daemon ignores pyrel's settings for you: {', '.join(ignored)}",
            "add yourself to `trusted-users` in /etc/nix/nix.conf and restart nix-daemon",
        )
    if built.returncode == 0:
        return Check("sandbox", Level.OK, "a derivation built in Nix's sandbox and saw none of the host")
    log = tail(built.stderr, 8)
    if "pyrel-doctor:" in built.stderr and ignored:
        return Check(
            "sandbox",
            Level.ERROR,
            f"Nix's daemon ignored pyrel's settings ({', '.join(ignored)}) and built without the sandbox: {log}",
            "add yourself to `trusted-users` in /etc/nix/nix.conf (or set `sandbox = true` there) and "
            "restart nix-daemon; pyrel's stages refuse to run outside the sandbox",
        )
    if "pyrel-doctor:" in built.stderr:
        return Check(
            "sandbox",
            Level.ERROR,
            f"the build ran but was not isolated: {log}",
            "check `sandbox-paths` and `extra-sandbox-paths` in /etc/nix/nix.conf",
        )
    return Check(
        "sandbox",
        Level.ERROR,
        f"Nix could not build with its sandbox on: {log}",
        "enable unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`), "
        "or run as a user allowed to create them; pyrel never builds without the sandbox",
    )


def debian_archive_probe() -> tuple[str, str]:
    """Read and verify one InRelease of the mirror `pyrel lock` would read: ``(its URL, what failed or "")``.

    The mirror is the per-user configuration's, else the host's apt sources' ("" if none names one).
    """
    from pywrap.adapters import apt, http
    from pywrap.config.archive import ArchiveConfig, archive_settings
    from pywrap.errors import PyrelError
    from pywrap.locking.resolver import debian_sources
    from pywrap.providers import debian_archive

    try:
        settings = archive_settings(ArchiveConfig())
        try:
            suite = apt.host_suite()
        except PyrelError:
            suite = PROBE_SUITE
        sources = debian_sources(settings, suite, apt.host_arch())
    except PyrelError:
        return "", ""
    url = f"{sources[0].uri}/dists/{sources[0].suites[0]}/InRelease"
    try:
        answer = http.get(url)
        if not answer.found:
            return url, "no such file"
        keys = debian_archive.load_keys(settings.keyrings)
        debian_archive.verify_signed(answer.body, keys, url, settings.keyrings)
    except PyrelError as exc:
        return url, exc.message
    return url, ""


def check_debian() -> Check:
    """The debian provider reads the archive itself: it needs Linux and a mirror, never apt."""
    system = host.system()
    if system != "Linux":
        return Check(
            "debian",
            Level.WARNING,
            f"the debian provider cannot run on {system}: its stages run Debian's Linux binaries",
            'use provider = "nixpkgs" in [tool.pyrel] (each stage\'s tools from a pinned nixpkgs)',
        )
    without_apt = "" if host.which("apt-get") else "apt is not installed, and not needed: "
    url, failure = debian_archive_probe()
    if not url:
        return Check(
            "debian",
            Level.WARNING,
            f"{without_apt}the debian provider reads the Debian archive itself, "
            "but no mirror is configured and this host has no apt sources naming one",
            'set debian-mirror = "URL" (a Debian archive) in ~/.config/pyrel/config.toml, or in a '
            "project's [tool.pyrel]",
        )
    if failure:
        return Check(
            "debian",
            Level.ERROR,
            f"cannot read {url}: {failure}",
            "check the network, a proxy (`http_proxy`), debian-mirror, or debian-keyring for an archive "
            "signed by another key",
        )
    return Check(
        "debian",
        Level.OK,
        f"{without_apt}the debian provider reads the archive itself: {url} is "
        "signed by a key pyrel trusts (its Debian archive keys, or debian-keyring's)",
    )


def check_pip() -> Check:
    completed = host.pip_index_versions("pip")
    if completed.returncode == 0 and "pip" in completed.stdout:
        return Check("pip", Level.OK, "pip reaches its configured package index")
    return Check(
        "pip",
        Level.ERROR,
        f"pip cannot reach its package index: {tail(completed.stderr, 3)}",
        "check the network, a proxy (`https_proxy`) or pip's index configuration (`pip config list`)",
    )


def run_checks(expression: Path, progress: Callable[[str], None] = lambda message: None) -> list[Check]:
    checks = [check_nix(), check_store()]
    progress("trying a build in Nix's sandbox")
    checks.append(
        check_sandbox(expression)
        if checks[0].level is Level.OK
        else Check("sandbox", Level.ERROR, "not tried: Nix is missing", checks[0].fix)
    )
    progress("reading the Debian archive's InRelease and asking pip for a package")
    checks += [check_debian(), check_pip()]
    return checks


def to_json(checks: list[Check]) -> dict[str, object]:
    return {
        "schema-version": SCHEMA_VERSION,
        "kind": "pyrel-doctor",
        "ok": all(check.level is not Level.ERROR for check in checks),
        "checks": [check.to_json() for check in checks],
    }
