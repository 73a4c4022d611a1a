"""`pyrel doctor` with the host faked: each broken piece is named with its fix, and the exit code says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pywrap.adapters import host
from pywrap.adapters.run import Completed
from pywrap.cli.app import app
from pywrap.execution import doctor

#: What Nix's daemon says to a user it does not trust.
IGNORED = "".join(
    f"warning: ignoring the client-specified setting '{name}', because it is a restricted setting "
    "and you are not a trusted user\n"
    for name in ("sandbox", "sandbox-paths")
)


INRELEASE = "http://mirror.invalid/debian/dists/bookworm/InRelease"


def _done(stdout: str = "", stderr: str = "", code: int = 0) -> Completed:
    return Completed(("fake",), code, stdout, stderr)


@pytest.fixture
def healthy(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(host, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(host, "nix_version", lambda: _done("nix-build (Nix) 2.8.0\n"))
    monkeypatch.setattr(host, "add_busybox", lambda path: _done("/nix/store/abc-pyrel-doctor-busybox\n"))
    monkeypatch.setattr(host, "build_sandboxed", lambda expression, busybox: _done("/nix/store/def-out\n"))
    monkeypatch.setattr(host, "system", lambda: "Linux")
    monkeypatch.setattr(doctor, "debian_archive_probe", lambda: (INRELEASE, ""))
    monkeypatch.setattr(host, "pip_index_versions", lambda name: _done("pip (24.0)\nAvailable versions: 24.0\n"))
    monkeypatch.setattr(doctor, "check_store", lambda: doctor.Check("store", doctor.Level.OK, "writable"))
    return monkeypatch


def test_a_healthy_machine_passes(healthy: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["schema-version"] == 1 and report["kind"] == "pyrel-doctor" and report["ok"] is True
    assert [check["name"] for check in report["checks"]] == ["nix", "store", "sandbox", "debian", "pip"]


@pytest.mark.parametrize(
    ("name", "patch", "words"),
    [
        ("nix", ("nix_version", lambda: _done("nix-build (Nix) 2.3.7\n")), "older than 2.8"),
        (
            "sandbox",
            ("build_sandboxed", lambda e, b: _done(stderr="error: cloning builder process: denied", code=1)),
            "unprivileged user namespaces",
        ),
        (
            "sandbox",
            ("build_sandboxed", lambda e, b: _done(stderr="pyrel-doctor: /usr/bin is visible", code=1)),
            "sandbox-paths",
        ),
        (
            "sandbox",
            ("build_sandboxed", lambda e, b: _done(stderr=IGNORED + "pyrel-doctor: /usr/bin is visible", code=1)),
            "ignored pyrel's settings (sandbox, sandbox-paths) and built without the sandbox",
        ),
        ("pip", ("pip_index_versions", lambda name: _done(stderr="ERROR: Could not connect", code=1)), "proxy"),
    ],
)
def test_a_broken_piece_is_named_with_its_fix(
    healthy: pytest.MonkeyPatch, name: str, patch: tuple[str, object], words: str
) -> None:
    healthy.setattr(host, *patch)
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "error" in result.output and name in result.output
    assert words in " ".join(result.output.split())


def test_without_apt_the_debian_provider_works_and_says_what_it_needs(healthy: pytest.MonkeyPatch) -> None:
    healthy.setattr(host, "which", lambda tool: None if tool.startswith(("apt", "dpkg")) else f"/usr/bin/{tool}")
    check = doctor.check_debian()
    assert check.level is doctor.Level.OK
    assert "apt is not installed, and not needed" in check.detail and INRELEASE in check.detail
    healthy.setattr(doctor, "debian_archive_probe", lambda: ("", ""))
    check = doctor.check_debian()
    assert check.level is doctor.Level.WARNING and "debian-mirror" in check.fix


def test_elsewhere_than_linux_the_debian_provider_points_to_nixpkgs(healthy: pytest.MonkeyPatch) -> None:
    healthy.setattr(host, "system", lambda: "Darwin")
    check = doctor.check_debian()
    assert check.level is doctor.Level.WARNING
    assert "cannot run on Darwin" in check.detail and 'provider = "nixpkgs"' in check.fix
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0 and "nixpkgs" in result.output


def test_an_archive_that_does_not_verify_is_an_error(healthy: pytest.MonkeyPatch) -> None:
    healthy.setattr(doctor, "debian_archive_probe", lambda: (INRELEASE, "the signature does not verify"))
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1 and "the signature does not verify" in " ".join(result.output.split())


def test_no_busybox_means_the_sandbox_cannot_be_tried(healthy: pytest.MonkeyPatch) -> None:
    healthy.setattr(host, "which", lambda tool: None if tool == "busybox" else f"/usr/bin/{tool}")
    check = doctor.check_sandbox(Path("sandbox.nix"))
    assert check.level is doctor.Level.ERROR and "busybox-static" in check.fix


def test_nix_versions_are_read() -> None:
    assert doctor.parse_nix_version("nix-build (Nix) 2.8.0") == (2, 8, 0)
    assert doctor.parse_nix_version("nix-build (Nix) 2.18") == (2, 18)
    assert doctor.parse_nix_version("garbage") is None


def test_settings_the_daemon_ignores_are_a_warning_even_when_the_sandbox_held(healthy: pytest.MonkeyPatch) -> None:
    healthy.setattr(host, "build_sandboxed", lambda expression, busybox: _done("/nix/store/def-out\n", IGNORED))
    check = doctor.check_sandbox(Path("sandbox.nix"))
    assert check.level is doctor.Level.WARNING
    assert "ignores pyrel's settings for you: sandbox, sandbox-paths" in check.detail
    assert "trusted-users" in check.fix
