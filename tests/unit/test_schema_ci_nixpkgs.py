"""The published JSON Schema describes the ``ci`` and ``nixpkgs`` tables as the loader checks them."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pywrap.config.loader import (
    CI_ACTION_KEYS,
    CI_CACHE_KEYS,
    CI_KEYS,
    CI_PUBLISH_KEYS,
    CI_PYREL_KEYS,
    NIXPKGS_KEYS,
    build_project,
)
from pywrap.config.model import CI_ACTIONS
from pywrap.errors import ConfigError

SCHEMA: dict[str, Any] = json.loads(
    importlib.resources.files("pywrap.resources").joinpath("pyrel.schema.json").read_text()
)
FLIT = {"build-system": {"requires": ["flit_core"], "build-backend": "flit_core.buildapi"}, "project": {"name": "d"}}
SHA = "0123456789abcdef0123456789abcdef01234567"
NIX_SHA = "1" * 52


def test_schema_names_exactly_the_keys_the_loader_accepts() -> None:
    ci = SCHEMA["properties"]["ci"]["properties"]
    assert set(ci) == set(CI_KEYS)
    assert set(ci["cache"]["properties"]) == set(CI_CACHE_KEYS)
    assert set(ci["pyrel"]["properties"]) == set(CI_PYREL_KEYS)
    assert set(ci["publish"]["properties"]) == set(CI_PUBLISH_KEYS)
    assert list(ci["actions"]["properties"]) == list(CI_ACTIONS)
    action_table = next(choice for choice in SCHEMA["$defs"]["action"]["oneOf"] if choice["type"] == "object")
    assert set(action_table["properties"]) == set(CI_ACTION_KEYS)
    assert set(SCHEMA["properties"]["nixpkgs"]["properties"]) == set(NIXPKGS_KEYS)


@pytest.mark.parametrize(
    "config",
    [
        {
            "ci": {
                "runs-on": "self-hosted",
                "pyrel": {"git": "https://example.org/pyrel", "rev": SHA},
                "publish": {"repository": "pypi", "environment": "pypi"},
                "attest": True,
                "cache": {"url": "s3://c", "public-key": "c-1:AAAA"},
                "actions": {
                    "checkout": {"uses": f"actions/checkout@{SHA}", "version": "v4"},
                    "nix-installer": f"me/nix-installer@{SHA}",
                },
            }
        },
        {"provider": "nixpkgs", "nixpkgs": {"rev": SHA, "sha256": NIX_SHA}},
        {"provider": "nixpkgs", "nixpkgs": {"rev": SHA, "sha256": NIX_SHA, "url": "https://mirror/n.tar.gz"}},
        {"provider": "nixpkgs", "nixpkgs": {"path": "../nixpkgs"}},
        {"nixpkgs": {}},  # declared empty for the debian provider: no pin
        {
            "ci": {
                "pyrel": {"wheel": "ci/pyrel_nix-0.1.0-py3-none-any.whl", "sha256": "a" * 64},
                "publish": {
                    "repository": "testpypi",
                    "environment": "Test PyPI",
                    "repository-url": "https://upload.test-index.invalid/legacy/",
                },
            }
        },
        {"ci": {"pyrel": {"wheel": "https://example.org/pyrel_nix-0.1.0-py3-none-any.whl", "sha256": "a" * 64}}},
    ],
)
def test_valid_tables_pass_both(config: dict[str, Any]) -> None:
    jsonschema.validate(config, SCHEMA)
    build_project(Path("/p"), Path("/p/pyproject.toml"), FLIT, config)


@pytest.mark.parametrize(
    "config",
    [
        {"ci": {"runz-on": "x"}},
        {"ci": {"runs-on": "${{ github.head_ref }}"}},
        {"ci": {"install": "pipx install pyrel-nix"}},
        {"ci": {"pyrel": {"git": "https://example.org/pyrel", "rev": "main"}}},
        {"ci": {"pyrel": {"wheel": "/srv/pyrel_nix-0.1.0-py3-none-any.whl", "sha256": "a" * 64}}},
        {"ci": {"pyrel": {"wheel": "ci/pyrel_nix-0.1.0-py3-none-any.whl"}}},
        {"ci": {"pyrel": {"git": "https://example.org/pyrel", "rev": SHA, "checkout": True}}},
        {"ci": {"pyrel": {"checkout": False}}},
        {"ci": {"publish": {"repository": "pypi"}}},
        {"ci": {"publish": {"repository": "warehouse", "environment": "pypi"}}},
        {"ci": {"publish": {"repository": "pypi", "environment": "${{ github.ref }}"}}},
        {"ci": {"attest": "yes"}},
        {"ci": {"actions": {"checkout": "actions/checkout@v4"}}},
        {"ci": {"actions": {"checkout": {"uses": f"actions/checkout@{SHA}", "tag": "v4"}}}},
        {"ci": {"actions": {"setup-python": f"actions/setup-python@{SHA}"}}},
        {"ci": {"cache": {"url": "s3://c"}}},
        {"provider": "nixpkgs"},
        {"provider": "nixpkgs", "nixpkgs": {"rev": "main", "sha256": NIX_SHA}},
        {"provider": "nixpkgs", "nixpkgs": {"rev": SHA}},
        {"nixpkgs": {"rev": SHA, "sha256": NIX_SHA, "branch": "x"}},
        {"nixpkgs": {"url": "https://mirror/n.tar.gz"}},
    ],
)
def test_invalid_tables_fail_both(config: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, SCHEMA)
    with pytest.raises(ConfigError):
        build_project(Path("/p"), Path("/p/pyproject.toml"), FLIT, config)
