"""`pyrel ci github`: the release workflow, one job per stage, from the stage graph.

Pure: the configuration ([tool.pyrel.ci] over ``resources/ci.toml``) and the
project's stages become a :class:`Workflow` (data), rendered by a jinja2
template.  Nothing here runs a program; the CLI writes or compares the file.

The jobs:

* ``release-tag`` checks that the ``tag`` input names the commit being built
  (the input reaches the script through ``env``, never ``${{ }}`` in ``run``);
* ``stage-<name>`` per stage, ``needs`` = ``release-tag`` + the stage's input
  stages; it downloads only its input stages' artifacts, builds its stage
  (Nix rebuilds or substitutes the input stages' derivations), checks that the
  rebuilt inputs are bit for bit the downloaded ones (``sha256sum --check``
  against the upstream job's ``SHA256SUMS``), and uploads ``dist/<name>``;
* ``release-audit`` runs ``pyrel audit --check`` and uploads ``dist/audit``
  even when a budget is exceeded.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import jinja2

from pywrap import __version__
from pywrap.config.model import Project
from pywrap.errors import ConfigError

WORKFLOW_PATH = Path(".github/workflows/release.yml")
TEMPLATE = "release.yml.j2"
TAG_JOB = "release-tag"
AUDIT_JOB = "release-audit"
ACTION_NAMES = ("checkout", "upload-artifact", "download-artifact", "nix-installer")
#: owner/repo[/path]@<40 hex>: a tag or branch can be moved, a commit cannot.
PINNED_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}$")
CI_KEYS = {"runs-on": str, "install": str, "actions": dict, "cache": dict}
CACHE_KEYS = ("url", "public-key")
#: Where a stage job puts the artifacts of its input stages (dist/ is pyrel's export).
INPUTS_DIR = "ci-inputs"
VERSION_PLACEHOLDER = "{pyrel-version}"


@attrs.frozen
class Action:
    name: str
    uses: str  # owner/repo@sha
    version: str = ""  # the release the sha was taken from, shown as a comment


@attrs.frozen
class CIConfig:
    runs_on: str
    install: str
    actions: tuple[Action, ...]
    cache_url: str = ""
    cache_public_key: str = ""

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)


@attrs.frozen
class StageJob:
    id: str
    stage: str
    needs: tuple[str, ...]
    inputs: tuple[str, ...]  # input stage names: artifacts downloaded, then verified
    build: tuple[str, ...]  # `pyrel build` arguments


@attrs.frozen
class Workflow:
    project: str
    config: CIConfig
    stages: tuple[StageJob, ...]


def _defaults() -> dict[str, Any]:
    text = importlib.resources.files("pywrap.resources").joinpath("ci.toml").read_text()
    return tomllib.loads(text)


def _safe(value: str, file: Path, key: str) -> str:
    # A workflow expression in a value would be evaluated by GitHub, inside a script.
    if "${{" in value or "\n" in value or "\r" in value:
        raise ConfigError(f"{file}: '{key}' may not contain '${{{{' or a line break", hint="write a plain value")
    return value


def parse_action_override(text: str) -> tuple[str, str]:
    """``NAME=OWNER/REPO@SHA`` from the command line."""
    name, sep, uses = text.partition("=")
    if not sep:
        raise ConfigError(f"--action {text!r}: write NAME=OWNER/REPO@SHA",
                          hint=f"names: {', '.join(ACTION_NAMES)}")
    return name.strip(), uses.strip()


def ci_config(
    table: Mapping[str, Any],
    file: Path,
    *,
    overrides: Mapping[str, str] | None = None,
    runs_on: str | None = None,
) -> CIConfig:
    """[tool.pyrel.ci] over the shipped defaults, then the command line's overrides."""
    where = "tool.pyrel.ci" if file.name == "pyproject.toml" else "ci"
    defaults = _defaults()
    for key, value in table.items():
        if key not in CI_KEYS:
            raise ConfigError(f"{file}: unknown key '{where}.{key}'", hint=f"allowed: {', '.join(sorted(CI_KEYS))}")
        if not isinstance(value, CI_KEYS[key]):
            raise ConfigError(f"{file}: '{where}.{key}' must be a {CI_KEYS[key].__name__}")
    actions: dict[str, dict[str, str]] = {name: dict(value) for name, value in defaults["actions"].items()}
    for name, value in {**table.get("actions", {}), **(overrides or {})}.items():
        if name not in ACTION_NAMES:
            raise ConfigError(f"{file}: unknown action '{where}.actions.{name}'",
                              hint=f"actions: {', '.join(ACTION_NAMES)}")
        uses = value.get("uses") if isinstance(value, dict) else value
        if not isinstance(uses, str) or not PINNED_ACTION.match(uses):
            raise ConfigError(
                f"{file}: '{where}.actions.{name}' = {uses!r} is not pinned by a full commit SHA",
                hint="write OWNER/REPO@<40 hex digits> (the commit of the release you reviewed)",
            )
        version = value.get("version", "") if isinstance(value, dict) else ""
        actions[name] = {"uses": uses, "version": _safe(str(version), file, f"{where}.actions.{name}.version")}
    cache = table.get("cache", {})
    for key in cache:
        if key not in CACHE_KEYS:
            raise ConfigError(f"{file}: unknown key '{where}.cache.{key}'", hint=f"allowed: {', '.join(CACHE_KEYS)}")
    cache_url = _safe(str(cache.get("url", "")), file, f"{where}.cache.url")
    cache_key = _safe(str(cache.get("public-key", "")), file, f"{where}.cache.public-key")
    if bool(cache_url) != bool(cache_key):
        raise ConfigError(f"{file}: '{where}.cache' needs both 'url' and 'public-key'",
                          hint="pyrel substitutes only from a cache whose signatures it can check")
    install = str(table.get("install", defaults["install"]))
    if install == defaults["install"]:
        install = f"{install}=={VERSION_PLACEHOLDER}"
    return CIConfig(
        runs_on=_safe(runs_on or str(table.get("runs-on", defaults["runs-on"])), file, f"{where}.runs-on"),
        install=_safe(install.replace(VERSION_PLACEHOLDER, __version__), file, f"{where}.install"),
        actions=tuple(Action(name, actions[name]["uses"], actions[name].get("version", "")) for name in ACTION_NAMES),
        cache_url=cache_url,
        cache_public_key=cache_key,
    )


def job_id(stage: str) -> str:
    return f"stage-{stage}"


def workflow(project: Project, config: CIConfig) -> Workflow:
    """One job per stage; ``needs`` mirrors the stage inputs exactly (plus the tag check)."""
    jobs = []
    for stage in project.stages:
        jobs.append(StageJob(
            id=job_id(stage.name),
            stage=stage.name,
            needs=(TAG_JOB, *(job_id(name) for name in stage.inputs)),
            inputs=stage.inputs,
            build=(*stage.inputs, stage.name),
        ))
    return Workflow(project.name, config, tuple(jobs))


def _yaml_string(value: object) -> str:
    # JSON strings are YAML double-quoted scalars: every character is escaped for YAML.
    return json.dumps(str(value), ensure_ascii=False)


def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("pywrap", "resources/templates")
    environment = jinja2.Environment(loader=loader, autoescape=False, keep_trailing_newline=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["yaml"] = _yaml_string
    return environment


def render(flow: Workflow) -> str:
    template = _environment().get_template(TEMPLATE)
    return template.render(
        workflow=flow, build_command=build_arguments, tag_job=TAG_JOB, audit_job=AUDIT_JOB, inputs_dir=INPUTS_DIR,
        action={action.name: action for action in flow.config.actions},
    )


def build_arguments(job: StageJob, config: CIConfig) -> str:
    """The `pyrel build` command line of a job (stage names are [a-z0-9-] only)."""
    words = ["pyrel", "build", *job.build]
    if config.cache_url:
        words += ["--from", config.cache_url, "--trusted-key", config.cache_public_key]
    return " ".join(_shell_word(word) for word in words)


def _shell_word(word: str) -> str:
    import shlex

    return shlex.quote(word)


def project_ci_table(project: Project) -> dict[str, Any]:
    """The raw [tool.pyrel.ci] (or [ci] of pyrel.toml) table, validated by :func:`ci_config`."""
    file = project.config_file
    if not file.is_file() or file.suffix != ".toml":
        return {}
    data = tomllib.loads(file.read_text(encoding="utf-8"))
    table = data if file.name == "pyrel.toml" else data.get("tool", {}).get("pyrel", {})
    ci = table.get("ci", {}) if isinstance(table, dict) else {}
    if not isinstance(ci, dict):
        raise ConfigError(f"{file}: [tool.pyrel.ci] must be a table")
    return ci


def out_of_date(rendered: str, committed: str | None) -> bool:
    return committed != rendered


def stage_job_ids(flow: Workflow) -> Sequence[str]:
    return [job.id for job in flow.stages]
