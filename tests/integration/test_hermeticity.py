"""Hermeticity, proved: stages that reach outside their sandbox fail, and pyrel says why.

tests/packages/hermeticity declares one stage per escape (network by IP and by
name, host files under /usr, the host's users, the host's home, undeclared
tools, an undeclared import).  Every one must fail in pyrel's build and be
reported as a hermeticity violation.  `test_the_same_commands_succeed_on_the_host`
runs some of the very same commands where the host is in sight: they succeed,
so the failures above are the sandbox's doing; and built with the sandbox off,
a stage refuses to run at all (`test_without_the_sandbox_a_stage_refuses_to_run`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]
PACKAGES = Path(__file__).resolve().parent.parent / "packages"
REPO = PACKAGES.parent.parent

#: stage -> (violation kind, words the explanation must contain)
EXPECTED = {
    "network-ip": ("network", "has no network"),
    "network-dns": ("network", "has no network"),
    "read-usr": ("host-file", "'/usr/bin', a file of the host"),
    "read-passwd": ("host-user", "the user 'daemon', which exists only on the host"),
    "read-home": ("host-file", "a file of the host"),
    "read-home-env": ("host-file", "$HOME is a private, empty directory in the sandbox"),
    "tool-git": ("undeclared-tool", "the stage ran 'git', which is not among its declared tools"),
    "tool-gcc": ("undeclared-tool", "the stage ran 'gcc'"),
    "tool-curl": ("undeclared-tool", "the stage ran 'curl'"),
    "trimmed-library": ("missing-library", "a shared library that is not in its Debian closure"),
    "import-requests": (
        "undeclared-import",
        "the stage imported 'requests', which is not among its pinned requirements: add 'requests'",
    ),
}


@pytest.fixture(scope="module")
def home_probe() -> Iterator[Path]:
    """A file the test puts into the host's home: no stage may read it."""
    probe = Path.home() / f".pyrel-hermeticity-probe-{uuid.uuid4().hex[:8]}"
    probe.write_text("a secret of the host\n")
    yield probe
    probe.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, home_probe: Path) -> Path:
    root = tmp_path_factory.mktemp("hermeticity") / "hermeticity"
    shutil.copytree(PACKAGES / "hermeticity", root)
    # The nonce makes every stage a new derivation, so no earlier run's output
    # (least of all one built without the sandbox, below) can stand in for a build.
    nonce = uuid.uuid4().hex
    config = (root / "pyrel.toml").read_text()
    config = config.replace('outputs = ["*"]', f'outputs = ["*"]\nenv = {{ NONCE = "{nonce}" }}')
    config += (
        f'\n[stages.read-home]\nrun = ["cat {home_probe} > \\"$out/probe\\""]\noutputs = ["*"]\n'
        f'env = {{ NONCE = "{nonce}" }}\n'
        f'\n[stages.read-home-env]\nrun = ["cat \\"$HOME/.profile\\" > \\"$out/profile\\""]\noutputs = ["*"]\n'
        f'env = {{ NONCE = "{nonce}" }}\n'
    )
    (root / "pyrel.toml").write_text(config)
    completed = subprocess.run([*_pyrel(), "lock", "-C", str(root)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    return root


def _pyrel() -> list[str]:
    return [sys.executable, "-m", "pywrap"]


@pytest.fixture(scope="module")
def built(project: Path) -> tuple[dict[str, dict[str, object]], str]:
    completed = subprocess.run(
        [*_pyrel(), "build", "all", "--json", "-C", str(project)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 1, completed.stderr
    report = json.loads(completed.stdout)
    return {str(stage["stage"]): stage for stage in report["stages"]}, completed.stderr


@pytest.mark.parametrize("stage", sorted(EXPECTED))
def test_a_stage_reaching_outside_its_sandbox_fails_as_a_hermeticity_violation(
    stage: str, built: tuple[dict[str, dict[str, object]], str], project: Path
) -> None:
    stages, stderr = built
    result = stages[stage]
    assert result["status"] == "failed"
    kind, words = EXPECTED[stage]
    violations = result["hermeticity-violations"]
    assert isinstance(violations, list) and violations, f"no violation found for {stage}:\n{stderr}"
    assert violations[0]["kind"] == kind
    assert words in violations[0]["explanation"]
    # The same explanation, in plain words, where a person reads it.
    assert f"hermeticity violation ({kind})" in stderr
    assert words in stderr
    assert not (project / "dist" / stage).exists()


def test_the_host_home_file_never_reaches_an_output(
    built: tuple[dict[str, dict[str, object]], str], home_probe: Path
) -> None:
    stages, stderr = built
    assert stages["read-home"]["outputs"] == []
    assert "a secret of the host" not in stderr


def test_without_the_sandbox_a_stage_refuses_to_run(
    project: Path, built: tuple[dict[str, dict[str, object]], str]
) -> None:
    """What a Nix that ignores pyrel's settings would do: build with the sandbox off.

    nix-build straight on pyrel's plan, sandbox *off* (never possible through
    pyrel): the stage's builder sees the host's /usr and stops before running
    anything, so no output made without the sandbox exists for a later build
    to reuse.
    """
    stages = ["read-usr", "read-passwd"]
    argv = [
        "nix-build",
        str(REPO / "nix" / "default.nix"),
        "--no-out-link",
        "--keep-going",
        "--option",
        "sandbox",
        "false",
        "--option",
        "substituters",
        "",
        "--argstr",
        "planFile",
        str(project / ".pyrel" / "plan.json"),
        "--argstr",
        "projectRoot",
        str(project),
    ]
    for stage in stages:
        argv += ["-A", stage]
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    outputs = completed.stdout.split()
    try:
        assert completed.returncode != 0
        assert outputs == []
        assert completed.stderr.count("pyrel: not in Nix's sandbox: the host's /usr is visible") == len(stages)
    finally:
        if outputs:
            subprocess.run(["nix-store", "--delete", *outputs], capture_output=True, check=False)


def test_the_same_commands_succeed_on_the_host(project: Path, tmp_path: Path) -> None:
    """The control experiment: the commands that fail in the sandbox work where the host is in sight,
    so the tests above see the sandbox at work, not commands broken some other way."""
    import tomllib

    stages = tomllib.loads((project / "pyrel.toml").read_text())["stages"]
    host_python = tmp_path / "bin"
    host_python.mkdir()
    (host_python / "python").symlink_to(sys.executable)
    for stage in ("read-usr", "read-passwd"):
        out = tmp_path / stage
        out.mkdir()
        [command] = stages[stage]["run"]
        completed = subprocess.run(
            ["sh", "-c", command],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "out": str(out), "PATH": f"{host_python}:{os.environ['PATH']}"},
        )
        assert completed.returncode == 0, completed.stderr
    usr_bin = (tmp_path / "read-usr" / "usr-bin.txt").read_text().split()
    assert sorted(usr_bin) == sorted(path.name for path in Path("/usr/bin").iterdir())
    assert "pw_name='daemon'" in (tmp_path / "read-passwd" / "daemon.txt").read_text()


def test_host_paths_nix_conf_adds_never_enter_a_stage(
    project: Path, built: tuple[dict[str, dict[str, object]], str]
) -> None:
    # `extra-sandbox-paths` in nix.conf (NIX_CONFIG here) mounts host files into every sandbox
    # of a plain nix-build; pyrel sets sandbox-paths itself, so the stage still sees no /usr.
    completed = subprocess.run(
        [*_pyrel(), "build", "read-usr", "--json", "-C", str(project)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NIX_CONFIG": "extra-sandbox-paths = /usr/bin"},
    )
    assert completed.returncode == 1, completed.stderr
    [stage] = json.loads(completed.stdout)["stages"]
    assert [violation["kind"] for violation in stage["hermeticity-violations"]] == ["host-file"]
    assert "'/usr/bin', a file of the host" in stage["hermeticity-violations"][0]["explanation"]
