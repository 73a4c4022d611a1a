"""A real project with Sphinx docs and a large pytest suite, every stage from clean.

attrs (hatchling + hatch-vcs, furo docs, hypothesis tests), its published sdist,
on Debian trixie (Python 3.13): one of attrs' own tests fails on Python 3.11
(bookworm) upstream as well, so the suite that matches its CI is used.
"""

from __future__ import annotations

import subprocess
import tarfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_backends import Published, published_sdist, unpack

pytestmark = [pytest.mark.nix, pytest.mark.network]

ATTRS = Published(
    "hatchling+hatch-vcs", "attrs", "26.1.0", "d03ceb89cb322a8fd706d4fb91940737b6642aa36998fe130a9bc96c985eff32"
)


def test_attrs_source_docs_and_test_stages_pass(
    tmp_path: Path, run_pyrel: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    project = unpack(published_sdist(ATTRS), tmp_path / "attrs")
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.pyrel]\ndebian-suite = "trixie"\n')
    # attrs' conf.py maps the Python documentation (intersphinx), which this machine cannot reach: the
    # lock cannot pin its inventory and says so, naming it, until the docs stage opts out.
    unpinned = run_pyrel("lock", "-C", str(project))
    assert unpinned.returncode == 3, unpinned.stderr
    assert "the intersphinx inventory 'python'" in unpinned.stderr and "/objects.inv" in unpinned.stderr
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n[tool.pyrel.stages.docs]\nintersphinx = false\n")
    run_pyrel("lock", "-C", str(project), check=True)
    completed = run_pyrel("build", "all", "-C", str(project), check=True)
    for stage in ("source", "wheel", "docs", "test"):
        assert f"stage {stage}: success" in completed.stdout
    assert "warning: intersphinx = false" in completed.stderr  # warnings go to stderr, the results to stdout

    assert (project / "dist/source/attrs-26.1.0.tar.gz").is_file()
    # hatch-vcs builds the wheel from the sdist (its PKG-INFO holds the version), as installers do.
    assert (project / "dist/wheel/attrs-26.1.0-py3-none-any.whl").is_file()
    with tarfile.open(project / "dist/docs/attrs-26.1.0-docs-html.tar.gz") as archive:
        assert "attrs-26.1.0-docs-html/api.html" in archive.getnames()
    junit = ElementTree.parse(project / "dist/test/junit.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", 0)) > 1000
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
