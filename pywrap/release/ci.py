"""`pyrel ci github`: the release workflow, one job per stage, from the stage graph.

Pure: the configuration ([tool.pyrel.ci], read and checked by the loader into
``Project.ci``, over ``resources/ci.toml``) and the project's stages become a
:class:`Workflow` (data), rendered by a jinja2 template.  Nothing here runs a
program or reads the project's configuration; the CLI writes or compares the file.

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

import json
from collections.abc import Mapping
from pathlib import Path

import attrs
import jinja2

from pywrap import __version__
from pywrap.config.loader import load_resource, pinned_action, plain_value
from pywrap.config.model import CI_ACTIONS, Action, CISettings, Project
from pywrap.errors import ConfigError

WORKFLOW_PATH = Path(".github/workflows/release.yml")
TEMPLATE = "release.yml.j2"
TAG_JOB = "release-tag"
AUDIT_JOB = "release-audit"
ACTION_NAMES = CI_ACTIONS
#: Where a stage job puts the artifacts of its input stages (dist/ is pyrel's export).
INPUTS_DIR = "ci-inputs"
VERSION_PLACEHOLDER = "{pyrel-version}"


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


def parse_action_override(text: str) -> tuple[str, str]:
    """``NAME=OWNER/REPO@SHA`` from the command line."""
    name, sep, uses = text.partition("=")
    if not sep:
        raise ConfigError(f"--action {text!r}: write NAME=OWNER/REPO@SHA",
                          hint=f"names: {', '.join(ACTION_NAMES)}")
    return name.strip(), uses.strip()


def ci_config(
    settings: CISettings,
    file: Path,
    *,
    overrides: Mapping[str, str] | None = None,
    runs_on: str | None = None,
) -> CIConfig:
    """``Project.ci`` over the shipped defaults, then the command line's overrides (checked like the file's)."""
    where = "tool.pyrel.ci" if file.name == "pyproject.toml" else "ci"
    defaults = load_resource("ci.toml")
    actions = {name: Action(name, value["uses"], value.get("version", ""))
               for name, value in defaults["actions"].items()}
    actions.update({action.name: action for action in settings.actions})
    for name, uses in (overrides or {}).items():
        actions[name] = pinned_action(name, uses, file, where)
    install = settings.install if settings.install is not None else defaults["install"]
    if install == defaults["install"]:
        install = f"{install}=={VERSION_PLACEHOLDER}"
    runner = runs_on or (settings.runs_on if settings.runs_on is not None else defaults["runs-on"])
    return CIConfig(
        runs_on=plain_value(runner, file, f"{where}.runs-on"),
        install=plain_value(install.replace(VERSION_PLACEHOLDER, __version__), file, f"{where}.install"),
        actions=tuple(actions[name] for name in ACTION_NAMES),
        cache_url=settings.cache_url,
        cache_public_key=settings.cache_public_key,
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


def project_ci_table(project: Project) -> CISettings:
    """What [tool.pyrel.ci] (or [ci] of pyrel.toml) says, as the loader checked it into the model."""
    return project.ci


def out_of_date(rendered: str, committed: str | None) -> bool:
    return committed != rendered
