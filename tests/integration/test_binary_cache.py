"""Scale-out on Nix's own machinery: build in one store, export signed to a
`file://` binary cache, build the same stages in a second, empty chroot store
with only that cache as substituter: nothing is built there, and a cache signed
with another key is refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from tests.conftest import REPO, copy_example

pytestmark = [pytest.mark.nix, pytest.mark.apt, pytest.mark.network]

RunPyrel = Callable[..., subprocess.CompletedProcess[str]]


@attrs.frozen
class DryRun:
    """What ``nix-build --dry-run`` says it would do."""

    will_build: tuple[str, ...]
    will_fetch: tuple[str, ...]


_HEADER = re.compile(r"^(?:these|this) (?:\d+ )?(derivations?|paths?) will be (built|fetched)")


def parse_dry_run(text: str) -> DryRun:
    """Parse Nix's "these N derivations will be built:" / "these N paths will be fetched" lists."""
    build: list[str] = []
    fetch: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        match = _HEADER.match(line.strip())
        if match:
            current = build if match.group(2) == "built" else fetch
            continue
        if line.startswith("  /") and current is not None:
            current.append(line.strip())
        else:
            current = None
    return DryRun(tuple(build), tuple(fetch))


def _dry_run(project: Path, store: Path, cache: str, public_key: str, stage: str) -> str:
    """nix-build --dry-run of the plan pyrel wrote, in ``store``, substituting only from ``cache``."""
    completed = subprocess.run(
        [
            "nix-build",
            str(REPO / "nix" / "default.nix"),
            "-A",
            stage,
            "--dry-run",
            "--argstr",
            "planFile",
            str(project / ".pyrel" / "plan.json"),
            "--argstr",
            "projectRoot",
            str(project),
            "--option",
            "sandbox",
            "true",
            "--option",
            "substituters",
            cache,
            "--option",
            "trusted-public-keys",
            public_key,
            "--option",
            "require-sigs",
            "true",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NIX_REMOTE": str(store)},
        check=True,
    )
    return completed.stderr


def test_second_store_substitutes_everything_and_refuses_a_wrong_key(tmp_path: Path, run_pyrel: RunPyrel) -> None:
    project = copy_example("hello", tmp_path)
    run_pyrel("lock", "-C", str(project), check=True)
    run_pyrel("build", "source", "test", "-C", str(project), check=True)
    keys = tmp_path / "keys"
    run_pyrel("keygen", "release-cache-1", "--output", str(keys), check=True)
    run_pyrel("keygen", "someone-else-1", "--output", str(keys), check=True)
    public_key = (keys / "release-cache-1.pub").read_text().strip()
    good, wrong = f"file://{tmp_path / 'cache'}", f"file://{tmp_path / 'wrong-cache'}"
    run_pyrel(
        "export",
        "source",
        "wheel",
        "test",
        "-C",
        str(project),
        "--to",
        good,
        "--secret-key",
        str(keys / "release-cache-1.sec"),
        check=True,
    )
    run_pyrel(
        "export",
        "source",
        "wheel",
        "test",
        "-C",
        str(project),
        "--to",
        wrong,
        "--secret-key",
        str(keys / "someone-else-1.sec"),
        check=True,
    )
    narinfos = list((tmp_path / "cache").glob("*.narinfo"))
    assert narinfos and all("Sig: release-cache-1:" in info.read_text() for info in narinfos)

    # A second, empty store (a chroot store: its own /nix/store under a directory).
    second = tmp_path / "second-store"
    # The signed cache: every stage output would be fetched, no derivation built.
    planned = parse_dry_run(_dry_run(project, second, good, public_key, "test"))
    assert planned.will_build == ()
    assert any(path.endswith("-hello-pyrel-test") for path in planned.will_fetch)
    # (A dry run does not check signatures: Nix checks them when it substitutes, below.)

    # pyrel itself, in the second store: builds nothing (no build log), exports the same files.
    dist = tmp_path / "dist-second"
    built = run_pyrel(
        "build",
        "source",
        "test",
        "-C",
        str(project),
        "--json",
        "--dist",
        str(dist),
        "--store",
        str(second),
        "--from",
        good,
        "--trusted-key",
        str(keys / "release-cache-1.pub"),
        check=True,
    )
    assert [stage["status"] for stage in json.loads(built.stdout)["stages"]] == ["success", "success"]
    assert not (second / "nix" / "var" / "log" / "nix" / "drvs").exists(), "a derivation was built"
    assert (dist / "source" / "SHA256SUMS").read_text() == (project / "dist" / "source" / "SHA256SUMS").read_text()
    assert (second / "nix" / "store").is_dir()

    # With the wrong key and local builds forbidden, the build fails instead of trusting the cache.
    third = tmp_path / "third-store"
    refused_build = run_pyrel(
        "build",
        "test",
        "-C",
        str(project),
        "--dist",
        str(tmp_path / "dist-third"),
        "--store",
        str(third),
        "--from",
        wrong,
        "--trusted-key",
        public_key,
        "--max-jobs",
        "0",
    )
    assert refused_build.returncode != 0
    output = refused_build.stdout + refused_build.stderr
    assert "is not signed by any of the keys in 'trusted-public-keys'" in output
    assert not (tmp_path / "dist-third" / "test").exists()
