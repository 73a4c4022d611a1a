"""Thin adapter: the host checks of `pyrel doctor` (Nix, the sandbox, the operating system, pip reachability)."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pywrap.adapters.run import Completed, run

#: The network probes must answer quickly or count as unreachable.
PROBE_TIMEOUT_SECONDS = "20"


def which(tool: str) -> str | None:
    return shutil.which(tool)


def nix_version() -> Completed:
    return run(["nix-build", "--version"], check=False)


def add_busybox(busybox: str) -> Completed:
    """The host's static busybox as a store path (``<path>/bin/busybox``: busybox picks its applet by name)."""
    with tempfile.TemporaryDirectory(prefix="pyrel-doctor-") as scratch:
        tree = Path(scratch) / "pyrel-doctor-busybox"
        (tree / "bin").mkdir(parents=True)
        shutil.copyfile(busybox, tree / "bin" / "busybox")
        (tree / "bin" / "busybox").chmod(0o755)
        return run(["nix-store", "--add-fixed", "--recursive", "sha256", str(tree)], check=False)


def build_sandboxed(expression: Path, busybox_path: str) -> Completed:
    """A trivial derivation, sandbox forced on and no fallback (what pyrel requires of every build)."""
    return run(
        [
            "nix-build",
            str(expression),
            "--no-out-link",
            "--option",
            "sandbox",
            "true",
            "--option",
            "sandbox-fallback",
            "false",
            "--option",
            "sandbox-paths",
            "",
            "--option",
            "substituters",
            "",
            "--argstr",
            "busybox",
            busybox_path,
            "--argstr",
            "nonce",
            f"{os.getpid()}-{time.time_ns()}",
        ],
        check=False,
    )


def system() -> str:
    """The operating system's name: "Linux", "Darwin", ..."""
    return platform.system()


def pip_index_versions(package: str) -> Completed:
    """Ask the configured index (the machine's pip configuration) for ``package``'s versions."""
    return run(
        [
            sys.executable,
            "-m",
            "pip",
            "index",
            "versions",
            package,
            "--timeout",
            PROBE_TIMEOUT_SECONDS,
            "--retries",
            "0",
            "--disable-pip-version-check",
        ],
        check=False,
    )
