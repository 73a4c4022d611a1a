"""`pyrel doctor` on this machine, and its sandbox probe failing when the sandbox is off."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

SANDBOX_NIX = Path(__file__).resolve().parent.parent.parent / "nix" / "doctor" / "sandbox.nix"


def test_doctor_passes_here() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pywrap", "doctor", "--json"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(completed.stdout)
    assert report["ok"] and {check["status"] for check in report["checks"]} == {"ok"}


def test_the_sandbox_probe_fails_without_the_sandbox() -> None:
    """Were the sandbox off, doctor's probe would see the host and fail: the check means something."""
    busybox = shutil.which("busybox")
    assert busybox is not None
    from pywrap.adapters import host

    added = host.add_busybox(busybox).stdout.strip()
    completed = subprocess.run(
        [
            "nix-build",
            str(SANDBOX_NIX),
            "--no-out-link",
            "--option",
            "sandbox",
            "false",
            "--option",
            "substituters",
            "",
            "--argstr",
            "busybox",
            added,
            "--argstr",
            "nonce",
            "sandbox-off-control",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "pyrel-doctor: /usr/bin is visible: the build is not sandboxed" in completed.stderr
