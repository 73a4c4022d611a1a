"""Two toolchain providers behind one interface; the choice is pure."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from pywrap.config.loader import build_project
from pywrap.config.model import NIXPKGS_DEFAULT_URL, NixpkgsPin
from pywrap.errors import ConfigError
from pywrap.locking.resolver import stage_system_roots
from pywrap.providers.base import DebianProvider, Provider, provider_for

REV = "0" * 40
SHA = "1" * 52


def _project(tmp_path: Path, extra: dict[str, Any]) -> Any:
    config = {"stages": {"source": {"run": ["true"], "outputs": ["*"], "system": ["gnumake"]}}, **extra}
    return build_project(tmp_path, tmp_path / "pyrel.toml", {}, config)


def test_debian_is_the_default(tmp_path: Path) -> None:
    provider: Provider = provider_for(_project(tmp_path, {}))
    assert isinstance(provider, DebianProvider) and provider.entry == "default.nix"
    # Its toolchain is the stage's locked .debs, resolved from these roots.
    stage = _project(tmp_path, {}).stage("source")
    assert stage_system_roots(stage, "3.11") == ["python3.11-minimal", "libpython3.11-stdlib", "gnumake"]


def test_nixpkgs_pin_and_plan(tmp_path: Path) -> None:
    project = _project(tmp_path, {"provider": "nixpkgs", "nixpkgs": {"rev": REV, "sha256": SHA}})
    assert project.nixpkgs == NixpkgsPin(rev=REV, sha256=SHA)
    provider = provider_for(project)
    assert provider.name == "nixpkgs" and provider.entry == "nixpkgs.nix"
    plan: Any = {"stages": [{"name": "source", "python": "usr/bin/python3.11", "compiler": None}], "system": "x"}
    applied = provider.apply(plan, project)
    assert applied["nixpkgs"] == {"url": NIXPKGS_DEFAULT_URL.format(rev=REV), "sha256": SHA}
    assert applied["stages"][0]["nixpkgs"] == ["python311", "gnumake", "busybox"]
    assert "nixpkgs" not in plan  # a new plan, the debian one is untouched


def test_local_path_override(tmp_path: Path) -> None:
    project = _project(tmp_path, {"provider": "nixpkgs", "nixpkgs": {"path": "../nixpkgs"}})
    assert project.nixpkgs is not None
    assert project.nixpkgs.to_plan() == {"path": str((tmp_path / "../nixpkgs").resolve())}


def test_a_pin_declared_for_debian_is_kept_and_checked(tmp_path: Path) -> None:
    assert _project(tmp_path, {"nixpkgs": {"rev": REV, "sha256": SHA}}).nixpkgs == NixpkgsPin(rev=REV, sha256=SHA)
    assert _project(tmp_path, {}).nixpkgs is None
    with pytest.raises(ConfigError, match=r"'nixpkgs\.rev'"):
        _project(tmp_path, {"nixpkgs": {"rev": "main", "sha256": SHA}})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (None, "provider \"nixpkgs\" needs 'nixpkgs'"),
        ({}, "provider \"nixpkgs\" needs 'nixpkgs'"),
        ({"rev": "main", "sha256": SHA}, "'nixpkgs.rev' = 'main' is not a full commit hash"),
        ({"rev": REV + "\n", "sha256": SHA}, "'nixpkgs.rev'"),
        ({"rev": REV, "sha256": "abc"}, "'nixpkgs.sha256' = 'abc' is not a sha256"),
        ({"rev": REV, "sha256": SHA, "branch": "x"}, "unknown key 'nixpkgs.branch'"),
        ({"path": 1}, "'nixpkgs.path' must be a string"),
        ("../nixpkgs", "'pyrel.nixpkgs' must be a table"),
    ],
)
def test_bad_pins_are_refused_at_load_time(tmp_path: Path, table: object, message: str) -> None:
    extra: dict[str, Any] = {"provider": "nixpkgs"} if table is None else {"provider": "nixpkgs", "nixpkgs": table}
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'pyrel.toml'))}: .*{re.escape(message)}"):
        _project(tmp_path, extra)


def test_pyproject_names_the_tool_pyrel_key(tmp_path: Path) -> None:
    flit = {
        "build-system": {"requires": ["flit_core"], "build-backend": "flit_core.buildapi"},
        "project": {"name": "d"},
    }
    with pytest.raises(ConfigError, match=r"pyproject\.toml: 'tool\.pyrel\.nixpkgs\.sha256'"):
        build_project(
            tmp_path, tmp_path / "pyproject.toml", flit, {"provider": "nixpkgs", "nixpkgs": {"rev": REV, "sha256": "x"}}
        )


def test_a_hand_built_nixpkgs_project_without_a_pin_is_refused(tmp_path: Path) -> None:
    project = attrs.evolve(_project(tmp_path, {}), provider="nixpkgs")
    with pytest.raises(ConfigError, match="needs a pinned 'nixpkgs'"):
        provider_for(project)
