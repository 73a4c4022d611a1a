"""An MkDocs Material + mkdocstrings site (tests/packages/mkdocs-project), zero-config, in the real sandbox."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]
FIXTURE = Path(__file__).resolve().parent.parent / "packages" / "mkdocs-project"
SITE = "mkdocs_demo-0.3.0-docs-html"


def _pylock_names(project: Path, stage: str) -> set[str]:
    document = tomllib.loads((project / f"pylock.{stage}.toml").read_text())
    return {package["name"] for package in document["packages"]}


def test_an_mkdocs_material_site_with_mkdocstrings_builds_and_strict_stops_on_a_broken_link(
    tmp_path: Path, run_pyrel: Run
) -> None:
    project = tmp_path / "mkdocs-project"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("dist", ".pyrel", "site"))
    run_pyrel("lock", "-C", str(project), check=True)
    # What mkdocs.yml names, by pyrel's table; the project comes from the wheel stage, not the backend.
    names = _pylock_names(project, "docs")
    assert {
        "mkdocs",
        "mkdocs-material",
        "mkdocstrings",
        "mkdocstrings-python",
        "pymdown-extensions",
        "mkdocs-git-revision-date-localized-plugin",
    } <= names
    assert not {"sphinx", "flit-core"} & names

    report = json.loads(run_pyrel("build", "docs", "--json", "-C", str(project), check=True).stdout)
    [docs] = [stage for stage in report["stages"] if stage["stage"] == "docs"]
    assert docs["status"] == "success"
    assert {output["name"] for output in docs["outputs"]} == {f"{SITE}.tar.gz", "mkdocs.log"}
    archive_path = project / "dist" / "docs" / f"{SITE}.tar.gz"
    with tarfile.open(archive_path) as archive:
        assert all(member.uid == 0 and member.uname == "" for member in archive)
        index = archive.extractfile(f"{SITE}/index.html")
        api = archive.extractfile(f"{SITE}/api/index.html")
        assert index is not None and api is not None
        assert "Built by pyrel in a Nix sandbox" in index.read().decode()  # Material's admonition
        page = api.read().decode()
    # mkdocstrings imported the installed wheel and rendered its docstring (Google style: the argument too).
    assert (
        "Return the greeting pyrel&#39;s docs stage renders from the installed wheel." in page
        or "Return the greeting pyrel's docs stage renders from the installed wheel." in page
    )
    assert "Who to greet." in page
    # --strict passed: mkdocs logged no warning (the git plugin is off in the sandbox: ENABLE_GIT_DATES=false).
    assert (project / "dist" / "docs" / "mkdocs.log").read_text() == ""
    built = hashlib.sha256(archive_path.read_bytes()).hexdigest()
    run_pyrel("build", "docs", "--check", "-C", str(project), check=True)  # bit for bit again

    # fail-on-warning = true is `mkdocs build --strict`: a broken link fails the stage, dist/ stays.
    index_md = project / "docs" / "index.md"
    index_md.write_text(index_md.read_text() + "\nSee the [changelog](changelog.md).\n")
    failed = run_pyrel("build", "docs", "-C", str(project))
    assert failed.returncode == 1, failed.stderr
    assert "contains a link 'changelog.md', but the target is not found" in failed.stderr
    assert "mkdocs build --strict failed" in failed.stderr
    assert hashlib.sha256(archive_path.read_bytes()).hexdigest() == built

    # Without it the site is built, and the warning is exported in mkdocs.log.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("fail-on-warning = true", "fail-on-warning = false"))
    run_pyrel("lock", "-C", str(project), check=True)
    run_pyrel("build", "docs", "-C", str(project), check=True)
    assert "contains a link 'changelog.md'" in (project / "dist" / "docs" / "mkdocs.log").read_text()
