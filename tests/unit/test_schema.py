"""The published JSON Schema of [tool.pyrel] stays in step with the parser."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pywrap.config.loader import (
    BUDGET_KEYS,
    SPHINX_BUILDERS,
    SPHINX_KEYS,
    STAGE_KEYS,
    TOP_LEVEL_KEYS,
    WHEEL_KEYS,
    build_project,
)
from pywrap.errors import ConfigError

SCHEMA: dict[str, Any] = json.loads(
    importlib.resources.files("pywrap.resources").joinpath("pyrel.schema.json").read_text()
)
FLIT = {"build-system": {"requires": ["flit_core"], "build-backend": "flit_core.buildapi"}, "project": {"name": "d"}}


def test_schema_names_exactly_the_keys_the_parser_accepts() -> None:
    stage = SCHEMA["$defs"]["stage"]["properties"]
    assert set(SCHEMA["properties"]) == set(TOP_LEVEL_KEYS)
    assert set(stage) == set(STAGE_KEYS) | set(SPHINX_KEYS) | set(WHEEL_KEYS)
    assert set(stage["budget"]["properties"]) == set(BUDGET_KEYS)
    assert stage["builders"]["items"]["enum"] == list(SPHINX_BUILDERS)


@pytest.mark.parametrize(
    "config",
    [
        {"debian-suite": "trixie", "stages": {"source": {"budget": {"packages": 25, "bytes": "60 MB"}}}},
        {"stages": {"docs-pdf": {"builders": ["latexpdf"], "system": ["latexmk"], "run": ["x"], "outputs": ["*.pdf"]}}},
    ],
)
def test_valid_configs_pass_both(config: dict[str, Any]) -> None:
    jsonschema.validate(config, SCHEMA)
    build_project(Path("/p"), Path("/p/pyproject.toml"), FLIT, config)


@pytest.mark.parametrize(
    "config",
    [
        {"debian_suite": "trixie"},
        {"stages": {"source": {"outputs": "x"}}},
        {"stages": {"Bad": {}}},
        {"stages": {"source": {"budget": {"packages": "many"}}}},
    ],
)
def test_invalid_configs_fail_both(config: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, SCHEMA)
    with pytest.raises(ConfigError):
        build_project(Path("/p"), Path("/p/pyproject.toml"), FLIT, config)
