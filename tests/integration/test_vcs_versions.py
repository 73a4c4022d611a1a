"""Projects whose backend reads the version and the file list from git, built from a git checkout.

The source stage's tree is the files git tracks, without ``.git``; for a backend with a VCS plugin,
pyrel gives the stage a copy of the history back to the nearest tag as ``.git`` and git itself. The
version is what the plugin computes on the host: the tag at a tagged commit, a dev version naming the
commit after it, a dirty one for a changed tree; and a file only git lists is in the sdist.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pywrap.adapters import git as git_adapter
from pywrap.errors import InputVerificationError
from pywrap.execution import vcs

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]

SETUPTOOLS_SCM = """\
[build-system]
requires = ["setuptools>=64", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "scmdemo"
dynamic = ["version"]

[tool.setuptools_scm]
"""
HATCH_VCS = """\
[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[project]
name = "vcsdemo"
dynamic = ["version"]

[tool.hatch.version]
source = "vcs"
"""


def _git(project: Path, *args: str) -> str:
    identity = ["-c", "user.name=pyrel tests", "-c", "user.email=tests@pyrel.invalid", "-c", "tag.gpgSign=false"]
    result = subprocess.run(["git", *identity, "-C", str(project), *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def _repository(root: Path, pyproject: str, package: str) -> Path:
    (root / "src" / package).mkdir(parents=True)
    (root / "pyproject.toml").write_text(pyproject)
    (root / "src" / package / "__init__.py").write_text("X = 1\n")
    # Package data no MANIFEST.in names: setuptools-scm's file finder adds it because git tracks it.
    (root / "src" / package / "data.txt").write_text("data\n")
    _git(root, "init", "--quiet", "--initial-branch=main")
    _git(root, "add", "-A")
    _git(root, "commit", "--quiet", "-m", "first")
    return root


def _build_source(project: Path, run_pyrel: Run) -> Path:
    built = run_pyrel("build", "source", "-C", str(project))
    assert built.returncode == 0, built.stdout + built.stderr
    [sdist] = (project / "dist" / "source").glob("*.tar.gz")
    return sdist


def _json(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = json.loads(completed.stdout)["stages"]
    return stages


def _members(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as archive:
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


def test_setuptools_scm_versions_and_files_come_from_the_projects_git_history(tmp_path: Path, run_pyrel: Run) -> None:
    project = _repository(tmp_path / "scmdemo", SETUPTOOLS_SCM, "scmdemo")
    _git(project, "tag", "-a", "v1.2.3", "-m", "release 1.2.3")
    (project / "src" / "scmdemo" / "__init__.py").write_text("X = 2\n")
    _git(project, "commit", "--quiet", "-am", "second")

    locked = run_pyrel("lock", "-C", str(project))
    assert locked.returncode == 0, locked.stdout + locked.stderr
    lock = tomllib.loads((project / "pyrel.lock.toml").read_text())
    source = lock["stages"]["source"]
    assert "git" in source["system"]
    # git's Perl, HTTP transport and manual pages are cut: the plugins run git's own binary only.
    assert {"perl", "libcurl3-gnutls", "git-man"} <= set(source["trimmed"])
    assert "git" not in lock["stages"]["wheel"]["system"]  # the wheel is built from the sdist's PKG-INFO

    # One commit after an annotated tag: setuptools-scm's dev version, naming the commit.
    sdist = _build_source(project, run_pyrel)
    head = _git(project, "rev-parse", "HEAD")
    commit = sdist.name.removeprefix("scmdemo-1.2.4.dev1+g").removesuffix(".tar.gz")
    assert sdist.name.startswith("scmdemo-1.2.4.dev1+g") and len(commit) >= 7 and head.startswith(commit), sdist.name
    assert {"src/scmdemo/data.txt", "src/scmdemo/__init__.py", "pyproject.toml"} <= _members(sdist)

    # A tag at HEAD: the release's own version; and the wheel, from that sdist, has it too.
    _git(project, "tag", "v1.3.0")
    assert _build_source(project, run_pyrel).name == "scmdemo-1.3.0.tar.gz"
    wheel = run_pyrel("build", "wheel", "-C", str(project))
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    assert [path.name for path in (project / "dist" / "wheel").glob("*.whl")] == ["scmdemo-1.3.0-py3-none-any.whl"]

    # The audit names what the source stage saw of git, and the wheel stage sees none of it.
    audited = run_pyrel("audit", "--json", "-C", str(project))
    assert audited.returncode == 0, audited.stderr
    roles = {stage["name"]: [path["role"] for path in stage["sandbox"]["generated"]] for stage in _json(audited)}
    assert roles["source"].count("git-metadata") == 1 and "git-metadata" not in roles["wheel"]

    # A tracked file changed in the work tree: dirty there as on the host.
    (project / "src" / "scmdemo" / "__init__.py").write_text("X = 3\n")
    assert _build_source(project, run_pyrel).name.startswith("scmdemo-1.3.1.dev0+g")


def test_hatch_vcs_without_a_tag_counts_the_whole_history(tmp_path: Path, run_pyrel: Run) -> None:
    project = _repository(tmp_path / "vcsdemo", HATCH_VCS, "vcsdemo")
    for number in range(2, 4):
        (project / "src" / "vcsdemo" / "__init__.py").write_text(f"X = {number}\n")
        _git(project, "commit", "--quiet", "-am", f"commit {number}")
    assert run_pyrel("lock", "-C", str(project)).returncode == 0
    # No tag: the plugin counts every commit (3), so pyrel copies the whole history.
    assert _build_source(project, run_pyrel).name.startswith("vcsdemo-0.1.dev3+g")
    _git(project, "tag", "2.0.0")
    assert _build_source(project, run_pyrel).name == "vcsdemo-2.0.0.tar.gz"


def test_outside_git_the_source_stage_has_no_git_and_a_declared_git_is_refused(tmp_path: Path, run_pyrel: Run) -> None:
    checkout = _repository(tmp_path / "checkout", SETUPTOOLS_SCM, "scmdemo")
    project = tmp_path / "scmdemo"
    shutil.copytree(checkout, project, ignore=shutil.ignore_patterns(".git"))
    with (project / "pyproject.toml").open("a") as config:
        config.write("\n[tool.pyrel.stages.source]\ngit = true\n")
    refused = run_pyrel("lock", "-C", str(project))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "tool.pyrel.stages.source.git" in refused.stderr and "not the top of a git work tree" in refused.stderr
    assert not (project / "pyrel.lock.toml").exists()

    # Without the key: no git in the stage, and setuptools-scm's failure is explained, with what to do.
    (project / "pyproject.toml").write_text(SETUPTOOLS_SCM)
    assert run_pyrel("lock", "-C", str(project)).returncode == 0
    assert "git" not in tomllib.loads((project / "pyrel.lock.toml").read_text())["stages"]["source"]["system"]
    failed = run_pyrel("build", "source", "-C", str(project))
    assert failed.returncode != 0
    assert "the build asked git for the project's version, and the stage has no git metadata" in failed.stderr
    # The way out it names for a tree outside git.
    (project / "pyproject.toml").write_text(
        SETUPTOOLS_SCM + '\n[tool.pyrel.stages.source.env]\nSETUPTOOLS_SCM_PRETEND_VERSION = "2.0.0"\n'
    )
    assert _build_source(project, run_pyrel).name == "scmdemo-2.0.0.tar.gz"


def test_the_copied_history_is_the_same_files_every_time(tmp_path: Path) -> None:
    """The copy is an input of the source stage's derivation: made twice, it is the same bytes (a pack of
    more than 100 objects included, which one thread writes the same way each time)."""
    project = _repository(tmp_path / "scmdemo", SETUPTOOLS_SCM, "scmdemo")
    _git(project, "tag", "v0.1")
    for number in range(40):
        (project / "src" / "scmdemo" / f"module{number}.py").write_text(f"X = {number}\n")
        _git(project, "add", "-A")
        _git(project, "commit", "--quiet", "-m", f"commit {number}")
    first, second = vcs.prepare(project, tmp_path / "first"), vcs.prepare(project, tmp_path / "second")
    assert first.describe == second.describe and first.describe is not None
    assert first.describe.startswith("v0.1-40-g")

    def files(root: Path) -> dict[str, bytes]:
        return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}

    assert files(first.path) == files(second.path)
    assert any(name.endswith(".pack") for name in files(first.path))


def test_a_shallow_clone_is_refused_unless_head_is_at_a_tag(tmp_path: Path, run_pyrel: Run) -> None:
    """CI's one-commit checkout: the distance to the tag is beyond its history, so the version would be wrong."""
    origin = _repository(tmp_path / "origin", SETUPTOOLS_SCM, "scmdemo")
    _git(origin, "tag", "v1.0")
    (origin / "src" / "scmdemo" / "__init__.py").write_text("X = 2\n")
    _git(origin, "commit", "--quiet", "-am", "after the tag")
    project = tmp_path / "scmdemo"
    _git(tmp_path, "clone", "--quiet", "--depth=1", origin.as_uri(), str(project))
    # `pyrel lock` asks the backend in the sandbox, with the metadata: refused there already, nothing written.
    refused = run_pyrel("lock", "-C", str(project))
    assert refused.returncode == 9, refused.stdout + refused.stderr
    assert "shallow clone, and HEAD is not at a tag" in refused.stderr and "fetch-depth: 0" in refused.stderr
    assert not (project / "pyrel.lock.toml").exists() and not (project / "dist").exists()
    # A release: the tag names HEAD, and the version is the tag whatever the history.
    _git(project, "tag", "v1.1")
    assert run_pyrel("lock", "-C", str(project)).returncode == 0
    assert _build_source(project, run_pyrel).name == "scmdemo-1.1.tar.gz"


def test_a_shallow_copy_fetched_again_without_a_depth_holds_the_whole_history(tmp_path: Path) -> None:
    """pyrel's fallback when its copy back to the tag describes HEAD otherwise than the project: all of it."""
    project = _repository(tmp_path / "scmdemo", SETUPTOOLS_SCM, "scmdemo")
    for number in range(3):
        (project / "src" / "scmdemo" / "__init__.py").write_text(f"X = {number}\n")
        _git(project, "commit", "--quiet", "-am", f"commit {number}")
    copy = tmp_path / "copy"
    git_adapter.init_metadata_repository(copy)
    git_adapter.fetch_history(copy, project, ["+HEAD:refs/heads/main"], depth=1)
    assert git_adapter.is_shallow(copy)
    git_adapter.fetch_history(copy, project, ["+HEAD:refs/heads/main"], depth=None)
    assert not git_adapter.is_shallow(copy)
    assert _git(copy, "rev-list", "--count", "refs/heads/main") == "4"


@pytest.mark.skipif(os.geteuid() != 0, reason="gives the checkout to another user, which needs root")
def test_a_checkout_another_user_owns_is_read_as_the_users_safe_directory_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI container runs as root on a checkout the runner's user owns; git refuses such a repository
    unless the user's configuration names it in `safe.directory`, which pyrel's git calls keep."""
    project = _repository(tmp_path / "scmdemo", SETUPTOOLS_SCM, "scmdemo")
    _git(project, "tag", "v3.0")
    subprocess.run(["chown", "-R", "nobody", str(project)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    # What CI tools write (the checkout's path): git answers pyrel's questions, but copying the history reads
    # the .git directory, so pyrel names the entry to add.
    (home / ".gitconfig").write_text(f"[safe]\n\tdirectory = {project}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    with pytest.raises(InputVerificationError, match="another user owns") as refused:
        vcs.prepare(project, tmp_path / "state")
    assert refused.value.hint == f"if you trust it: git config --global --add safe.directory {project / '.git'}"
    # No copy was kept: only the partial one, which the next run makes anew.
    assert all(path.name.endswith(".partial") for path in (tmp_path / "state" / "git").iterdir())
    (home / ".gitconfig").write_text(f"[safe]\n\tdirectory = {project}\n\tdirectory = {project / '.git'}\n")
    metadata = vcs.prepare(project, tmp_path / "state")
    assert metadata.describe is not None and metadata.describe.startswith("v3.0-0-g")
