"""`pyrel verify`, provenance, signing and input verification, on real builds in the real sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import copy_example

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]
PACKAGES = Path(__file__).resolve().parent.parent / "packages"
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "intoto-statement-v1-slsa-provenance-v1.schema.json"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Manager",
    "GIT_AUTHOR_EMAIL": "rm@example.invalid",
    "GIT_COMMITTER_NAME": "Release Manager",
    "GIT_COMMITTER_EMAIL": "rm@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _built_fixture(tmp_path: Path, run_pyrel: Run) -> Path:
    project = tmp_path / "nondeterministic"
    shutil.copytree(PACKAGES / "nondeterministic", project)
    run_pyrel("lock", "-C", str(project), check=True)
    run_pyrel("build", "all", "-C", str(project), check=True)
    return project


def test_verify_reports_each_stage_and_names_the_differing_file(tmp_path: Path, run_pyrel: Run) -> None:
    project = _built_fixture(tmp_path, run_pyrel)
    completed = run_pyrel("verify", "--json", "-C", str(project))
    assert completed.returncode == 10, completed.stderr
    report = {stage["stage"]: stage for stage in json.loads(completed.stdout)["stages"]}
    assert report["stable"]["verdict"] == "reproducible"
    assert report["noisy"]["verdict"] == "differs"
    assert [d["file"] for d in report["noisy"]["differences"]] == ["noise.txt"]  # same.txt is the same
    assert report["noisy"]["rebuilt"] == report["noisy"]["output"] + ".check"

    text = run_pyrel("verify", "-C", str(project))
    assert text.returncode == 10
    assert "stage stable: reproducible" in text.stdout and "stage noisy: differs" in text.stdout
    assert "noise.txt: content differs" in text.stdout
    if shutil.which("diffoscope") is None:
        assert "diffoscope is not installed" in text.stdout
    assert run_pyrel("verify", "stable", "-C", str(project)).returncode == 0

    # Every exported file has a statement that validates against in-toto Statement v1 + SLSA Provenance v1.
    validator = _validator()
    for artifact in ("stable/stable.txt", "noisy/noise.txt", "noisy/same.txt"):
        document = json.loads((project / "dist" / f"{artifact}.intoto.json").read_text())
        errors = list(validator.iter_errors(document))
        assert not errors, errors
        assert document["subject"][0]["name"] == artifact.split("/")[1]
        names = [item["name"] for item in document["predicate"]["buildDefinition"]["resolvedDependencies"]]
        assert "pyrel.lock.toml" in names and any(name.startswith("libc6_") for name in names)
        assert document["predicate"]["runDetails"]["byproducts"][0]["uri"].endswith(".drv")
    # Attestations are not listed in SHA256SUMS (they differ per invocation; they are signed instead).
    assert ".intoto.json" not in (project / "dist/noisy/SHA256SUMS").read_text()


def test_tampering_with_an_artifact_a_checksum_or_an_attestation_is_detected(tmp_path: Path, run_pyrel: Run) -> None:
    project = _built_fixture(tmp_path, run_pyrel)
    dist = project / "dist"
    key = tmp_path / "release_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "release", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"release@example.invalid {key.with_suffix('.pub').read_text()}")
    run_pyrel("sign", str(dist), "--key", str(key), check=True)
    assert (dist / "stable/SHA256SUMS.sig").is_file() and (dist / "stable/stable.txt.intoto.json.sig").is_file()
    signed = (
        "verify",
        "--artifacts",
        str(dist),
        "--allowed-signers",
        str(allowed),
        "--identity",
        "release@example.invalid",
    )
    assert run_pyrel(*signed).returncode == 0
    assert run_pyrel(*signed[:3], "--allowed-signers", str(allowed), "--identity", "someone@else").returncode == 11

    for name in ("stable/stable.txt", "stable/SHA256SUMS", "stable/stable.txt.intoto.json"):
        path = dist / name
        original = path.read_bytes()
        changed = bytearray(original)
        changed[len(changed) // 2] ^= 0x01
        path.write_bytes(bytes(changed))
        completed = run_pyrel(*signed)
        assert completed.returncode == 11, (name, completed.stdout, completed.stderr)
        assert str(path) in completed.stderr, (name, completed.stderr)
        # Without signatures, the checksums and the statements still catch it (an attestation's
        # other fields are covered by its signature only).
        if name != "stable/stable.txt.intoto.json":
            assert run_pyrel("verify", "--artifacts", str(dist)).returncode == 11
        path.write_bytes(original)
    assert run_pyrel(*signed).returncode == 0


def test_two_checkouts_of_a_tag_build_identical_artifacts(tmp_path: Path, run_pyrel: Run) -> None:
    first = copy_example("hello", tmp_path / "alice")
    _git("init", "-q", "-b", "main", cwd=first)
    _git("add", "-A", cwd=first)
    _git("commit", "-q", "-m", "hello 1.0.0", cwd=first)
    _git("tag", "-a", "v1.0.0", "-m", "release 1.0.0", cwd=first)
    commit = _git("rev-parse", "HEAD", cwd=first).strip()
    second = tmp_path / "bob" / "checkout"
    _git("clone", "-q", "--branch", "v1.0.0", str(first), str(second), cwd=tmp_path)
    run_pyrel("lock", "-C", str(first), check=True)
    for lock_file in [first / "pyrel.lock.toml", *first.glob("pylock.*.toml")]:  # generated, never committed
        shutil.copy(lock_file, second)

    # Input verification: a dirty tree or a tag elsewhere is refused before anything is built.
    (first / "NOTES.txt").write_text("not committed\n")
    refused = run_pyrel("build", "source", "--tag", "v1.0.0", "-C", str(first))
    assert refused.returncode == 9 and "NOTES.txt" in refused.stderr
    (first / "NOTES.txt").unlink()
    refused = run_pyrel("build", "source", "--tag", "v9.9.9", "-C", str(first))
    assert refused.returncode == 9 and "no tag 'v9.9.9'" in refused.stderr

    # Two users' environments; the cache of downloads is shared only to avoid fetching twice.
    cache = {"PYREL_CACHE_DIR": os.environ.get("PYREL_CACHE_DIR") or str(Path.home() / ".cache" / "pyrel")}
    alice = {
        **cache,
        "HOME": str(tmp_path / "alice"),
        "TZ": "Pacific/Kiritimati",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "SOURCE_DATE_EPOCH": "1",
    }
    bob = {
        **cache,
        "HOME": str(tmp_path / "bob"),
        "TZ": "America/Adak",
        "LC_ALL": "C",
        "LANG": "",
        "PYTHONHASHSEED": "123",
    }
    with _umask(0o077):
        one = json.loads(
            run_pyrel("build", "all", "--tag", "v1.0.0", "--json", "-C", str(first), env=alice, check=True).stdout
        )
    with _umask(0o022):
        two = json.loads(
            run_pyrel("build", "all", "--tag", "v1.0.0", "--json", "-C", str(second), env=bob, check=True).stdout
        )
    # The same derivations (Nix's inputs do not depend on the checkout's path or the caller's env) ...
    assert [stage["store-path"] for stage in one["stages"]] == [stage["store-path"] for stage in two["stages"]]
    # ... and the same bytes in dist/, artifact by artifact and in SHA256SUMS.
    for stage in ("source", "docs", "test"):
        sums = (first / "dist" / stage / "SHA256SUMS").read_text()
        assert sums == (second / "dist" / stage / "SHA256SUMS").read_text()
        for line in sums.splitlines():
            name = line.split("  ", 1)[1]
            assert (first / "dist" / stage / name).read_bytes() == (second / "dist" / stage / name).read_bytes()
            document = json.loads((second / "dist" / stage / f"{name}.intoto.json").read_text())
            assert document["predicate"]["buildDefinition"]["externalParameters"]["source"] == {
                "commit": commit,
                "tag": "v1.0.0",
                "dirty": False,
            }
            assert not list(_validator().iter_errors(document))
    # Rebuilding every stage once more (nix-build --check) gives the same bytes again.
    verified = run_pyrel("verify", "--json", "-C", str(second), env=bob)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert {stage["verdict"] for stage in json.loads(verified.stdout)["stages"]} == {"reproducible"}
    assert run_pyrel("verify", "--artifacts", str(second / "dist")).returncode == 0


def test_build_check_fails_a_stage_whose_rebuild_differs(tmp_path: Path, run_pyrel: Run) -> None:
    project = tmp_path / "nondeterministic"
    shutil.copytree(PACKAGES / "nondeterministic", project)
    run_pyrel("lock", "-C", str(project), check=True)
    run_pyrel("build", "noisy", "stable", "-C", str(project), check=True)
    before = (project / "dist/noisy/noise.txt").read_bytes()
    completed = run_pyrel("build", "noisy", "stable", "--check", "-C", str(project))
    assert completed.returncode == 1
    assert "stage 'noisy' failed: not reproducible" in completed.stderr
    assert "stage 'stable'" not in completed.stderr
    assert (project / "dist/noisy/noise.txt").read_bytes() == before


def test_dist_is_one_release_or_pyrel_says_it_is_not(tmp_path: Path, run_pyrel: Run) -> None:
    """A test report of another sdist never passes `verify --artifacts`; the build that leaves it says so."""
    project = copy_example("hello", tmp_path)
    dist = project / "dist"
    run_pyrel("lock", "-C", str(project), check=True)
    run_pyrel("build", "all", "-C", str(project), check=True)
    assert run_pyrel("verify", "--artifacts", str(dist)).returncode == 0
    old_sdist = (dist / "source/SHA256SUMS").read_text().split()[0]
    # The test report names the sdist and the wheel it ran on, the docs the wheel.
    junit = json.loads((dist / "test/junit.xml.intoto.json").read_text())["predicate"]["buildDefinition"]
    assert junit["externalParameters"]["inputStages"] == ["source", "wheel"]
    named = {item["name"]: item["digest"]["sha256"] for item in junit["resolvedDependencies"]}
    assert named["source/hello_pyrel-1.0.0.tar.gz"] == old_sdist

    # A change, then only the source stage rebuilt.
    module = project / "src/hello/__init__.py"
    module.write_text(module.read_text() + '\n\ndef farewell(name: str) -> str:\n    return f"Bye, {name}!"\n')
    built = run_pyrel("build", "source", "-C", str(project), check=True)
    new_sdist = (dist / "source/SHA256SUMS").read_text().split()[0]
    assert new_sdist != old_sdist
    assert f"warning: {dist} is not one release: wheel, docs, test are stale" in built.stderr
    assert f"rebuild them: pyrel build wheel docs test -C {project}" in built.stderr
    verified = run_pyrel("verify", "--artifacts", str(dist))
    assert verified.returncode == 11, verified.stdout + verified.stderr
    text = " ".join(verified.stderr.split())
    assert (
        f"{dist / 'test'}: built from source/hello_pyrel-1.0.0.tar.gz with sha256 {old_sdist}, "
        f"but {dist / 'source/hello_pyrel-1.0.0.tar.gz'} has sha256 {new_sdist}"
    ) in text
    # The publish job's check (source and wheel) fails too: the wheel is of the old sdist.
    assert run_pyrel("verify", "--artifacts", str(dist), "source", "wheel").returncode == 11

    # Source and wheel rebuilt: those two are one release, test and docs are stale (--json carries it).
    report = json.loads(run_pyrel("build", "source", "wheel", "--json", "-C", str(project), check=True).stdout)
    assert report["consistency"]["consistent"] is False
    assert report["consistency"]["stale"] == ["docs", "test"]
    assert report["consistency"]["rebuild"] == f"pyrel build docs test -C {project}"
    assert run_pyrel("verify", "--artifacts", str(dist), "source", "wheel").returncode == 0
    verified = run_pyrel("verify", "--artifacts", str(dist), "--json")
    assert verified.returncode == 11 and json.loads(verified.stdout)["stale"] == ["docs", "test"]

    # `pyrel build test` alone into an empty directory: its statement names the artifacts of the stages
    # it read (built, not exported), which are absent there.
    elsewhere = tmp_path / "elsewhere"
    alone = json.loads(
        run_pyrel("build", "test", "--dist", str(elsewhere), "--json", "-C", str(project), check=True).stdout
    )
    assert alone["consistency"]["stale"] == ["source", "wheel"]
    junit = json.loads((elsewhere / "test/junit.xml.intoto.json").read_text())["predicate"]["buildDefinition"]
    named = {item["name"]: item["digest"]["sha256"] for item in junit["resolvedDependencies"]}
    assert named["source/hello_pyrel-1.0.0.tar.gz"] == new_sdist
    wheel_sums = {
        name: sha
        for sha, name in (line.split("  ", 1) for line in (dist / "wheel/SHA256SUMS").read_text().splitlines())
    }
    assert {name.removeprefix("wheel/"): sha for name, sha in named.items() if name.startswith("wheel/")} == wheel_sums
    assert run_pyrel("verify", "--artifacts", str(elsewhere)).returncode == 11

    # Everything rebuilt: one release again.
    built = run_pyrel("build", "all", "-C", str(project), check=True)
    assert "is not one release" not in built.stderr
    verified = run_pyrel("verify", "--artifacts", str(dist))
    assert verified.returncode == 0, verified.stdout + verified.stderr
