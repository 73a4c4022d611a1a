"""`pyrel ci github`: the release workflow, one job per stage, from the stage graph.

Pure: the configuration ([tool.pyrel.ci], read and checked by the loader into
``Project.ci``, over ``resources/ci.toml``) and the project's stages become a
:class:`Workflow` (data), rendered by a jinja2 template.  Nothing here runs a
program or reads the project's configuration; the CLI writes or compares the files.

The jobs:

* ``release-tag`` checks that the ``tag`` input names the commit being built
  (the input reaches the script through ``env``, never ``${{ }}`` in ``run``);
* ``stage-<name>`` per stage, ``needs`` = ``release-tag`` + the stage's input
  stages; it downloads only its input stages' artifacts, builds its stage
  (Nix rebuilds or substitutes the input stages' derivations), checks that the
  rebuilt inputs are bit for bit the downloaded ones (``sha256sum --check``
  against the upstream job's ``SHA256SUMS``), and uploads ``dist/<name>``;
* ``release-audit`` runs ``pyrel audit --check`` and uploads ``dist/audit``
  even when a budget is exceeded;
* ``release-attest`` (``attest = true``) downloads the source and wheel
  artifacts, checks them against their ``SHA256SUMS`` and attests them with
  GitHub's artifact attestations (``id-token`` and ``attestations: write``);
* ``release-publish`` (``[publish]``) needs every other job, downloads the
  source and wheel artifacts, runs ``pyrel verify --artifacts`` on them and
  uploads the sdists and wheels by Trusted Publishing with PEP 740
  attestations, in its GitHub environment.  Only it and the attesting job get
  more than ``contents: read``.

Every job that runs pyrel installs it the same way: ``pip install --require-hashes`` of
``.github/pyrel-requirements.txt`` (pyrel's dependencies as this pyrel pinned
them, ``resources/pyrel-requirements.txt``, each with the sha256 of every file
it may install), and pyrel itself from ``[pyrel]``: a wheel by its sha256 in
that same file, or a git commit, or the checkout of the commit being built
(pyrel's own repository); never a name looked up in an index.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path

import attrs
import jinja2
from packaging.utils import canonicalize_name

from pywrap import DISTRIBUTION, __version__
from pywrap.config.loader import load_resource, pinned_action, plain_value, read_resource
from pywrap.config.model import (
    CI_ACTIONS,
    SOURCE_STAGE,
    WHEEL_STAGE,
    Action,
    CISettings,
    Project,
    Publish,
    PyrelPin,
)
from pywrap.errors import ConfigError
from pywrap.execution.plan import stage_order

WORKFLOW_PATH = Path(".github/workflows/release.yml")
#: Beside the workflow: what every job's `pip install --require-hashes -r` reads.
REQUIREMENTS_PATH = Path(".github/pyrel-requirements.txt")
#: pyrel's dependencies with their hashes, as this pyrel pins them (regenerated with its releases).
REQUIREMENTS_RESOURCE = "pyrel-requirements.txt"
TEMPLATE = "release.yml.j2"
TAG_JOB = "release-tag"
AUDIT_JOB = "release-audit"
ATTEST_JOB = "release-attest"
PUBLISH_JOB = "release-publish"
ACTION_NAMES = CI_ACTIONS
#: Where a stage job puts the artifacts of its input stages (dist/ is pyrel's export).
INPUTS_DIR = "ci-inputs"
#: The stages whose artifacts are the release's distributions, and the files of each that are uploaded.
DISTRIBUTION_FILES = {SOURCE_STAGE: "*.tar.gz", WHEEL_STAGE: "*.whl"}
#: Where the attesting and publishing jobs download those artifacts, and collect the files to upload.
RELEASE_DIR = "release-dist"
UPLOAD_DIR = "release-upload"
#: The virtual environment a job installs pyrel into (outside the checkout: nothing of it is built or exported).
PYREL_VENV = "$RUNNER_TEMP/pyrel"


@attrs.frozen
class CIConfig:
    runs_on: str
    actions: tuple[Action, ...]
    cache_url: str = ""
    cache_public_key: str = ""
    #: None: not declared; :func:`workflow` takes the checkout for pyrel's own project, else refuses.
    pyrel: PyrelPin | None = None
    publish: Publish | None = None
    #: The publish action's `repository-url` (`[ci.publish] repository-url`); empty: the action's default.
    publish_url: str = ""
    attest: bool = False
    #: resources/pyrel-requirements.txt: pyrel's dependencies pinned by hash.
    dependencies: str = ""

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
    #: A stage it builds reads the project's git history (`git = true`): the checkout fetches all of it, tags
    #: included (actions/checkout's default is the one commit, which would make a VCS version wrong).
    history: bool = False


@attrs.frozen
class Workflow:
    project: str
    config: CIConfig
    stages: tuple[StageJob, ...]
    pyrel: PyrelPin
    #: The stages the attesting and publishing jobs download (empty when there are neither).
    distributions: tuple[str, ...] = ()


def parse_action_override(text: str) -> tuple[str, str]:
    """``NAME=OWNER/REPO@SHA`` from the command line."""
    name, sep, uses = text.partition("=")
    if not sep:
        raise ConfigError(f"--action {text!r}: write NAME=OWNER/REPO@SHA", hint=f"names: {', '.join(ACTION_NAMES)}")
    return name.strip(), uses.strip()


def ci_config(
    settings: CISettings,
    file: Path,
    *,
    overrides: Mapping[str, str] | None = None,
    runs_on: str | None = None,
) -> CIConfig:
    """``Project.ci`` over the shipped defaults, then the command line's overrides (checked like the file's)."""
    where = _where(file)
    defaults = load_resource("ci.toml")
    actions = {
        name: Action(name, value["uses"], value.get("version", "")) for name, value in defaults["actions"].items()
    }
    actions.update({action.name: action for action in settings.actions})
    for name, uses in (overrides or {}).items():
        actions[name] = pinned_action(name, uses, file, where)
    runner = runs_on or (settings.runs_on if settings.runs_on is not None else defaults["runs-on"])
    publish_url = settings.publish.repository_url if settings.publish else ""
    return CIConfig(
        runs_on=plain_value(runner, file, f"{where}.runs-on"),
        actions=tuple(actions[name] for name in ACTION_NAMES),
        cache_url=settings.cache_url,
        cache_public_key=settings.cache_public_key,
        pyrel=settings.pyrel,
        publish=settings.publish,
        publish_url=publish_url,
        attest=settings.attest,
        dependencies=read_resource(REQUIREMENTS_RESOURCE),
    )


def _where(file: Path) -> str:
    return "tool.pyrel.ci" if file.name == "pyproject.toml" else "ci"


def job_id(stage: str) -> str:
    return f"stage-{stage}"


def workflow(project: Project, config: CIConfig) -> Workflow:
    """One job per stage; ``needs`` mirrors the stage inputs exactly (plus the tag check)."""
    distributions = _distribution_stages(project, config)  # what publishing takes must exist first
    jobs = []
    for stage in project.stages:
        if stage.name in project.skip_stages:  # never locked, never built (a stage reading it is skipped too)
            continue
        built = (*stage.inputs, stage.name)
        jobs.append(
            StageJob(
                id=job_id(stage.name),
                stage=stage.name,
                needs=(TAG_JOB, *(job_id(name) for name in stage.inputs)),
                inputs=stage.inputs,
                build=built,
                history=any(planned.git for planned in stage_order(project, built)),
            )
        )
    return Workflow(
        project.name,
        config,
        tuple(jobs),
        pyrel=_pyrel_pin(project, config),
        distributions=distributions,
    )


def _pyrel_pin(project: Project, config: CIConfig) -> PyrelPin:
    """The declared pin; pyrel's own project defaults to its checkout; any other project must declare one."""
    if config.pyrel is not None:
        return config.pyrel
    if canonicalize_name(project.name) == DISTRIBUTION:
        return PyrelPin(checkout=True)
    key = f"{_where(project.config_file)}.pyrel"
    raise ConfigError(
        f"{project.config_file}: '{key}' is not set: the workflow's jobs install pyrel pinned by hash or commit, "
        "and there is no published pyrel to default to",
        hint=f'e.g. [{key}] wheel = ".github/{DISTRIBUTION.replace("-", "_")}-{__version__}-py3-none-any.whl", '
        'sha256 = "<its sha256>"; or git = "https://...", rev = "<40 hex>" (see the README)',
    )


def _distribution_stages(project: Project, config: CIConfig) -> tuple[str, ...]:
    if config.publish is None and not config.attest:
        return ()
    key = f"{_where(project.config_file)}.{'publish' if config.publish else 'attest'}"
    missing = [name for name in DISTRIBUTION_FILES if name not in project.stage_names]
    if missing:
        raise ConfigError(
            f"{project.config_file}: '{key}' takes the source and wheel stages' artifacts, "
            f"but {project.name} has no {' and no '.join(repr(name) for name in missing)} stage",
            hint="declare the stage, or leave the publishing and attesting out",
        )
    return tuple(DISTRIBUTION_FILES)


def _yaml_string(value: object) -> str:
    # JSON strings are YAML double-quoted scalars: every character is escaped for YAML.
    return json.dumps(str(value), ensure_ascii=False)


def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("pywrap", "resources/templates")
    environment = jinja2.Environment(
        loader=loader,
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["yaml"] = _yaml_string
    return environment


def render(flow: Workflow) -> str:
    template = _environment().get_template(TEMPLATE)
    stage_jobs = tuple(job.id for job in flow.stages)
    attest_needs = (TAG_JOB, *stage_jobs, AUDIT_JOB)
    return template.render(
        workflow=flow,
        build_command=build_arguments,
        tag_job=TAG_JOB,
        audit_job=AUDIT_JOB,
        inputs_dir=INPUTS_DIR,
        action={action.name: action for action in flow.config.actions},
        install=install_commands(flow.pyrel),
        requirements_path=REQUIREMENTS_PATH.as_posix(),
        attest_job=ATTEST_JOB,
        attest_needs=attest_needs,
        publish_job=PUBLISH_JOB,
        publish_needs=(*attest_needs, *((ATTEST_JOB,) if flow.config.attest else ())),
        distribution_files=DISTRIBUTION_FILES,
        release_dir=RELEASE_DIR,
        upload_dir=UPLOAD_DIR,
    )


def install_commands(pin: PyrelPin) -> tuple[str, ...]:
    """A job's pyrel: a venv, the hashed requirements (pyrel's wheel too, when pinned by hash), then a
    commit or the checkout built with the hashed hatchling, with no index at all."""
    pip = f'"{PYREL_VENV}/bin/pip" install --no-input --disable-pip-version-check'
    commands = [
        f'python3 -m venv "{PYREL_VENV}"',
        f"{pip} --require-hashes --only-binary :all: -r {REQUIREMENTS_PATH.as_posix()}",
    ]
    from_source = f"{pip} --no-deps --no-index --no-build-isolation"
    if pin.git:
        commands.append(f"{from_source} {shlex.quote(f'{DISTRIBUTION} @ git+{pin.git}@{pin.rev}')}")
    elif pin.checkout:
        commands.append(f"{from_source} .")
    commands.append(f'echo "{PYREL_VENV}/bin" >> "$GITHUB_PATH"')
    return tuple(commands)


def requirements(flow: Workflow) -> str:
    """``.github/pyrel-requirements.txt``: pyrel's dependencies, and pyrel when a wheel pins it, by hash."""
    pin = flow.pyrel
    if pin.wheel.startswith("https://"):
        own = f"{DISTRIBUTION} @ {pin.wheel} --hash=sha256:{pin.sha256}"
    elif pin.wheel:
        own = f"./{pin.wheel.removeprefix('./')} --hash=sha256:{pin.sha256}"
    elif pin.git:
        own = f"# pyrel itself: the next pip call installs {pin.git} at {pin.rev} (pinned by the commit)"
    else:
        own = "# pyrel itself: the next pip call installs the checkout, the commit this workflow builds"
    # The resource's own header says how pyrel's maintainers made it: not this file's story.
    lines = flow.config.dependencies.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return (
        f"# Written by `pyrel ci github` ({DISTRIBUTION} {__version__}) for {flow.project}'s release workflow; "
        "do not edit.\n"
        f"# Every job runs: pip install --require-hashes --only-binary :all: -r {REQUIREMENTS_PATH.as_posix()}\n"
        f"{own}\n"
        f"# pyrel's dependencies as {DISTRIBUTION} {__version__} pins them, each with the sha256 of every file"
        " pip may pick (hatchling builds pyrel from a commit or a checkout):\n" + "".join(lines)
    )


def build_arguments(job: StageJob, config: CIConfig) -> str:
    """The `pyrel build` command line of a job (stage names are [a-z0-9-] only)."""
    words = ["pyrel", "build", *job.build]
    if config.cache_url:
        words += ["--from", config.cache_url, "--trusted-key", config.cache_public_key]
    return " ".join(_shell_word(word) for word in words)


def _shell_word(word: str) -> str:
    return shlex.quote(word)


def project_ci_table(project: Project) -> CISettings:
    """What [tool.pyrel.ci] (or [ci] of pyrel.toml) says, as the loader checked it into the model."""
    return project.ci


def out_of_date(rendered: str, committed: str | None) -> bool:
    return committed != rendered
