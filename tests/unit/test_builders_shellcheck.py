"""The Nix library's shell builders pass shellcheck (Debian's `shellcheck` package).

Their settings are in nix/builders/.shellcheckrc: POSIX sh as busybox runs it
with -e and -u, inputs from the derivation's environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO

BUILDERS = REPO / "nix" / "builders"


def test_the_shell_builders_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is missing (apt-get install shellcheck)")
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = sorted(BUILDERS.glob("*.sh"))
    assert scripts
    # From the repository root, as CI would run it: the rc file is found beside the scripts.
    result = subprocess.run(
        [shellcheck, "--format", "gcc", *(str(s.relative_to(REPO)) for s in scripts)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
