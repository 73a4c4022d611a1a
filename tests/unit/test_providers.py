"""Two toolchain providers behind one interface; the choice is pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pywrap.config.loader import build_project
from pywrap.errors import ConfigError
from pywrap.providers import nixpkgs
from pywrap.providers.base import DebianProvider, Provider, provider_for

REV = "0" * 40
SHA = "1" * 52


def _project(tmp_path: Path, extra: dict[str, Any]) -> Any:
    config = {"stages": {"source": {"run": ["true"], "outputs": ["*"], "system": ["gnumake"]}}, **extra}
    return build_project(tmp_path, tmp_path / "pyrel.toml", {}, config)


def test_debian_is_the_default(tmp_path: Path) -> None:
    provider: Provider = provider_for(_project(tmp_path, {}))
    assert isinstance(provider, DebianProvider) and provider.entry == "default.nix"
    stage = _project(tmp_path, {}).stage("source")
    assert provider.system_packages(stage, "3.11") == (
        "python3.11-minimal", "libpython3.11-stdlib", "gnumake", "busybox-static")


def test_nixpkgs_pin_and_plan(tmp_path: Path) -> None:
    (tmp_path / "pyrel.toml").write_text(f'provider = "nixpkgs"\nnixpkgs = {{ rev = "{REV}", sha256 = "{SHA}" }}\n')
    project = _project(tmp_path, {"provider": "nixpkgs", "nixpkgs": {"rev": REV, "sha256": SHA}})
    provider = provider_for(project)
    assert provider.name == "nixpkgs" and provider.entry == "nixpkgs.nix"
    assert provider.system_packages(project.stage("source"), "3.12") == ("python312", "gnumake", "busybox")
    plan = {"stages": [{"name": "source", "python": "usr/bin/python3.11", "compiler": None}], "system": "x"}
    applied = provider.apply(plan, project)
    assert applied["nixpkgs"] == {"url": nixpkgs.DEFAULT_URL.format(rev=REV), "sha256": SHA}
    assert applied["stages"][0]["nixpkgs"] == ["python311", "gnumake", "busybox"]
    assert "nixpkgs" not in plan  # a new plan, the debian one is untouched


def test_local_path_override(tmp_path: Path) -> None:
    project = _project(tmp_path, {})
    pin = nixpkgs.parse_pin({"path": "../nixpkgs"}, project)
    assert pin.to_plan() == {"path": str((tmp_path / "../nixpkgs").resolve())}


@pytest.mark.parametrize("table", [None, {}, {"rev": "main", "sha256": SHA}, {"rev": REV, "sha256": "abc"},
                                   {"rev": REV, "sha256": SHA, "branch": "x"}, {"path": 1}])
def test_bad_pins_are_refused(tmp_path: Path, table: object) -> None:
    with pytest.raises(ConfigError):
        nixpkgs.parse_pin(table, _project(tmp_path, {}))
