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
        return Check("nix", Level.ERROR, "nix-build is not installed",
                     "install Nix: `apt-get install nix-bin` on Debian/Ubuntu, or the official installer")
    completed = host.nix_version()
    version = parse_nix_version(completed.stdout)
    if completed.returncode != 0 or version is None:
        return Check("nix", Level.ERROR, f"`nix-build --version` failed: {tail(completed.stderr, 3)}",
                     "reinstall Nix")
    text = ".".join(str(part) for part in version)
    if version[:2] < MINIMUM_NIX:
        return Check("nix", Level.ERROR, f"Nix {text} is older than {'.'.join(map(str, MINIMUM_NIX))}",
                     "upgrade Nix")
    return Check("nix", Level.OK, f"Nix {text}")


def check_store() -> Check:
    if not STORE.is_dir():
        return Check("store", Level.ERROR, f"{STORE} does not exist", "install Nix (it creates the store)")
    if os.access(STORE, os.W_OK) and os.access(NIX_DB, os.W_OK):
        return Check("store", Level.OK, f"{STORE} and {NIX_DB} are writable (single-user Nix)")
    if DAEMON_SOCKET.exists():
        if os.access(DAEMON_SOCKET, os.W_OK):
            return Check("store", Level.OK, f"the store is written through nix-daemon ({DAEMON_SOCKET})")
        return Check("store", Level.ERROR, f"cannot talk to nix-daemon: {DAEMON_SOCKET} is not writable for you",
                     "add yourself to the `nix-users` group (`usermod -aG nix-users $USER`), then log in again")
    return Check("store", Level.ERROR, f"{STORE} is not writable and no nix-daemon is running",
                 "run pyrel as root, or start nix-daemon (`systemctl enable --now nix-daemon`) "
                 "and join the `nix-users` group")


def check_sandbox(expression: Path) -> Check:
    """Build a trivial derivation with the sandbox forced on, as every pyrel build does."""
    busybox = host.which("busybox")
    if busybox is None:
        return Check("sandbox", Level.ERROR, "busybox is not installed, so the sandbox cannot be tried",
                     "`apt-get install busybox-static`")
    added = host.add_busybox(busybox)
    if added.returncode != 0:
        return Check("sandbox", Level.ERROR, f"cannot add to the Nix store: {tail(added.stderr, 3)}",
                     "see the store check above")
    built = host.build_sandboxed(expression, added.stdout.strip())
    ignored = sorted(set(IGNORED_SETTING.findall(built.stderr)))
    if built.returncode == 0 and ignored:
        # The daemon's own nix.conf decides then: the sandbox held here, but pyrel's /bin/sh,
        # its empty substituters and the rest are not guaranteed.
        return Check("sandbox", Level.WARNING, f"Nix's daemon ignores pyrel's settings for you: {', '.join(ignored)}",
                     "add yourself to `trusted-users` in /etc/nix/nix.conf and restart nix-daemon")
    if built.returncode == 0:
        return Check("sandbox", Level.OK, "a derivation built in Nix's sandbox and saw none of the host")
    log = tail(built.stderr, 8)
    if "pyrel-doctor:" in built.stderr and ignored:
        return Check("sandbox", Level.ERROR, f"Nix's daemon ignored pyrel's settings ({', '.join(ignored)}) and "
                     f"built without the sandbox: {log}",
                     "add yourself to `trusted-users` in /etc/nix/nix.conf (or set `sandbox = true` there) and "
                     "restart nix-daemon; pyrel's stages refuse to run outside the sandbox")
    if "pyrel-doctor:" in built.stderr:
        return Check("sandbox", Level.ERROR, f"the build ran but was not isolated: {log}",
                     "check `sandbox-paths` and `extra-sandbox-paths` in /etc/nix/nix.conf")
    return Check("sandbox", Level.ERROR, f"Nix could not build with its sandbox on: {log}",
                 "enable unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`), "
                 "or run as a user allowed to create them; pyrel never builds without the sandbox")


def check_apt() -> Check:
    if host.which("apt-cache") is None:
        return Check("apt", Level.WARNING, "apt is not installed: the `debian` provider cannot lock or fetch",
                     'use a Debian/Ubuntu machine, or provider = "nixpkgs"')
    policy = host.apt_policy("busybox-static")
    if policy.returncode != 0 or "Candidate: (none)" in policy.stdout or "Candidate:" not in policy.stdout:
        return Check("apt", Level.ERROR, "apt knows no candidate for busybox-static: the package lists are "
                     "missing or empty", "run `apt-get update` (and check /etc/apt/sources.list*)")
    uris = host.apt_print_uris("busybox-static")
    if uris.returncode != 0 or "'" not in uris.stdout:
        return Check("apt", Level.ERROR, f"apt cannot name a download for busybox-static: "
                     f"{tail(uris.stderr, 3)}", "check the sources in /etc/apt")
    return Check("apt", Level.OK, "apt resolves busybox-static to a download from its configured sources")


def check_pip() -> Check:
    completed = host.pip_index_versions("pip")
    if completed.returncode == 0 and "pip" in completed.stdout:
        return Check("pip", Level.OK, "pip reaches its configured package index")
    return Check("pip", Level.ERROR, f"pip cannot reach its package index: {tail(completed.stderr, 3)}",
                 "check the network, a proxy (`https_proxy`) or pip's index configuration (`pip config list`)")


def run_checks(expression: Path, progress: Callable[[str], None] = lambda message: None) -> list[Check]:
    checks = [check_nix(), check_store()]
    progress("trying a build in Nix's sandbox")
    checks.append(check_sandbox(expression) if checks[0].level is Level.OK else
                  Check("sandbox", Level.ERROR, "not tried: Nix is missing", checks[0].fix))
    progress("asking apt and pip for a package")
    checks += [check_apt(), check_pip()]
    return checks


def to_json(checks: list[Check]) -> dict[str, object]:
    return {
        "schema-version": SCHEMA_VERSION,
        "kind": "pyrel-doctor",
        "ok": all(check.level is not Level.ERROR for check in checks),
        "checks": [check.to_json() for check in checks],
    }
