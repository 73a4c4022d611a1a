"""What the source stage's git metadata holds, decided from `git describe` (pywrap.execution.vcs), and
which projects get it by default (pywrap.config.discovery.reads_git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pywrap.config.discovery import reads_git
from pywrap.execution.vcs import history_depth, tag_of


@pytest.mark.parametrize(
    ("described", "tag", "depth"),
    [
        ("v1.2.3-0-gabcdef1", "v1.2.3", 1),  # HEAD at the tag: one commit
        ("v1.2.3-14-gabcdef1", "v1.2.3", 15),  # back to the tag, the tag's commit included
        ("release-2024-01-3-gabcdef1", "release-2024-01", 4),  # a tag holding dashes
        (None, None, None),  # no tag: the plugins count every commit, so all of them
    ],
)
def test_the_history_copied_reaches_the_nearest_tag(described: str | None, tag: str | None, depth: int | None) -> None:
    assert tag_of(described) == tag
    assert history_depth(described) == depth


@pytest.mark.parametrize(
    ("requires", "pyproject", "expected"),
    [
        (["setuptools>=64", "setuptools_scm[toml]>=8"], {}, True),
        (["hatchling", "hatch-vcs"], {}, True),
        (["meson-python>=0.15"], {}, True),
        (["setuptools", "wheel"], {}, False),
        (["flit_core>=3.4"], {}, False),
        (["pdm-backend"], {"tool": {"pdm": {"version": {"source": "scm"}}}}, True),
        (["pdm-backend"], {"tool": {"pdm": {"version": {"source": "file", "path": "x.py"}}}}, False),
        (["not a requirement ;;"], {}, False),
    ],
)
def test_the_source_stage_reads_git_when_a_vcs_plugin_builds_the_sdist(
    tmp_path: Path, requires: list[str], pyproject: dict[str, object], expected: bool
) -> None:
    assert not reads_git(tmp_path, pyproject, requires)  # not a git work tree: never
    (tmp_path / ".git").mkdir()
    assert reads_git(tmp_path, pyproject, requires) is expected
