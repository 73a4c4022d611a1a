"""Provenance statements (pure): shape, schema validity, what they record; input verification rules."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pywrap.locking.lockfile import DebEntry, Lock, StageLock, WheelEntry
from pywrap.release import provenance
from pywrap.release.source_state import SourceInfo, dirty_entries

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "intoto-statement-v1-slsa-provenance-v1.schema.json"
SHA = "ab" * 32


def _deb(name: str, version: str = "1.0-1") -> DebEntry:
    return DebEntry(
        name=name,
        version=version,
        architecture="amd64",
        sha256="cd" * 32,
        size=10,
        filename=f"pool/main/x/{name}/{name}_{version}_amd64.deb",
        url=f"http://archive.invalid/pool/main/x/{name}/{name}_{version}_amd64.deb",
    )


def _lock() -> Lock:
    wheel = WheelEntry(
        name="Flit_Core",
        version="3.9.0",
        filename="flit_core-3.9.0-py3-none-any.whl",
        url="https://files.invalid/flit_core-3.9.0-py3-none-any.whl",
        sha256="ef" * 32,
    )
    stage = StageLock(
        name="source",
        fingerprint="f",
        system=("libc6", "python3.11-minimal"),
        python_lock="pylock.source.toml",
        python_lock_sha256="00" * 32,
        wheels=(wheel,),
    )
    return Lock(
        provider="debian",
        suite="bookworm",
        architecture="amd64",
        python_version="3.11",
        python_full_version="3.11.2",
        glibc="2.36",
        bootstrap=("busybox-static",),
        packages=(_deb("busybox-static", "1:1.35.0-4"), _deb("libc6"), _deb("python3.11-minimal")),
        stages=(stage,),
    )


def _context(source: SourceInfo) -> provenance.BuildContext:
    moment = datetime.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    return provenance.BuildContext(
        project="hello-pyrel",
        invocation_id="0f7c4b9e-4a52-4d5c-9a51-0d3b7b9f1e11",
        started_on=moment,
        finished_on=moment + datetime.timedelta(seconds=42),
        builder_id=provenance.DEFAULT_BUILDER_ID,
        pyrel_version="0.1.0",
        nix_version="2.8.0",
        source=source,
        substituters=(),
        system="x86_64-linux",
        source_date_epoch=1700000000,
        lock_files=(("pyrel.lock.toml", "11" * 32), ("pylock.source.toml", "22" * 32)),
        sandbox_paths=("/bin/sh=/nix/store/aaa-pyrel-bootstrap-busybox/bin/busybox",),
    )


def _statement(source: SourceInfo | None = None) -> dict[str, Any]:
    lock = _lock()
    return provenance.statement(
        artifact="hello_pyrel-1.0.0.tar.gz",
        sha256=SHA,
        stage="source",
        context=_context(
            source
            or SourceInfo(
                commit="a" * 40, tag="v1.0.0", dirty=False, remote="https://user:token@git.invalid/org/hello.git"
            )
        ),
        dependencies=provenance.stage_dependencies(lock, "source"),
        derivation="/nix/store/" + "x" * 32 + "-hello-pyrel-source.drv",
        derivation_sha256="33" * 32,
        output="/nix/store/" + "y" * 32 + "-hello-pyrel-source",
        input_artifacts=[],
    )


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_statement_validates_against_the_in_toto_and_slsa_schema() -> None:
    document = json.loads(provenance.dumps(_statement()))
    errors = sorted(_validator().iter_errors(document), key=str)
    assert not errors, "\n".join(str(error) for error in errors)


def test_the_schema_rejects_what_the_spec_forbids() -> None:
    validator = _validator()
    document = _statement()
    broken = json.loads(json.dumps(document))
    del broken["subject"][0]["digest"]
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(document))
    broken["predicate"]["runDetails"]["byproducts"][1]["uri"] = "/nix/store/not-a-uri"
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(document))
    broken["predicate"]["buildDefinition"].pop("buildType")
    assert not validator.is_valid(broken)


def test_the_statement_records_the_build() -> None:
    document = _statement()
    assert document["subject"] == [{"name": "hello_pyrel-1.0.0.tar.gz", "digest": {"sha256": SHA}}]
    definition = document["predicate"]["buildDefinition"]
    assert definition["buildType"] == provenance.BUILD_TYPE
    assert definition["externalParameters"] == {
        "project": "hello-pyrel",
        "stage": "source",
        "inputStages": [],
        "source": {"commit": "a" * 40, "tag": "v1.0.0", "dirty": False},
    }
    assert definition["internalParameters"]["sandbox"] is True
    assert definition["internalParameters"]["nixVersion"] == "2.8.0"
    # What the sandbox had besides the declared inputs: pyrel's pinned /bin/sh, nothing else.
    assert definition["internalParameters"]["sandboxPaths"] == [
        "/bin/sh=/nix/store/aaa-pyrel-bootstrap-busybox/bin/busybox"
    ]
    dependencies = definition["resolvedDependencies"]
    # The source first, with the remote's credentials removed, then the lock files, then every artifact.
    assert dependencies[0] == {
        "name": "source",
        "digest": {"gitCommit": "a" * 40},
        "uri": "git+https://git.invalid/org/hello.git@refs/tags/v1.0.0",
    }
    names = [item["name"] for item in dependencies]
    assert names[1:3] == ["pyrel.lock.toml", "pylock.source.toml"]
    assert "busybox-static_1:1.35.0-4_amd64.deb" in names  # bootstrap packages are inputs of every stage
    assert "libc6_1.0-1_amd64.deb" in names and "flit_core-3.9.0-py3-none-any.whl" in names
    wheel = next(item for item in dependencies if item["name"].endswith(".whl"))
    assert wheel["uri"] == "pkg:pypi/flit-core@3.9.0" and wheel["digest"] == {"sha256": "ef" * 32}
    busybox = next(item for item in dependencies if item["name"].startswith("busybox"))
    assert busybox["uri"] == "pkg:deb/debian/busybox-static@1:1.35.0-4?arch=amd64"
    run = document["predicate"]["runDetails"]
    assert run["metadata"]["startedOn"] == "2024-05-01T12:00:00Z"
    assert run["metadata"]["finishedOn"] == "2024-05-01T12:00:42Z"
    assert run["byproducts"][0]["uri"].endswith("-hello-pyrel-source.drv")


def test_outside_git_no_source_is_claimed() -> None:
    document = _statement(SourceInfo())
    assert "source" not in document["predicate"]["buildDefinition"]["externalParameters"]
    assert document["predicate"]["buildDefinition"]["resolvedDependencies"][0]["name"] == "pyrel.lock.toml"
    assert _validator().is_valid(document)


@pytest.mark.parametrize(
    ("remote", "uri"),
    [
        ("git@git.invalid:org/hello.git", "git+ssh://git.invalid/org/hello.git"),
        ("https://git.invalid/org/hello.git", "git+https://git.invalid/org/hello.git"),
        ("https://user:secret@git.invalid/org/hello.git", "git+https://git.invalid/org/hello.git"),
        ("/srv/git/hello project", "git+file:///srv/git/hello%20project"),
    ],
)
def test_git_remotes_become_uris_without_credentials(remote: str, uri: str) -> None:
    [source] = provenance.source_dependency(SourceInfo(commit="b" * 40, remote=remote))
    assert source["uri"] == uri


def test_subject_problems_name_what_does_not_match() -> None:
    document = _statement()
    assert provenance.subject_problems(document, "hello_pyrel-1.0.0.tar.gz", SHA) == []
    [problem] = provenance.subject_problems(document, "hello_pyrel-1.0.0.tar.gz", "00" * 32)
    assert "has sha256" in problem
    assert provenance.subject_problems(document, "other.tar.gz", SHA) == ["has no subject named 'other.tar.gz'"]
    assert provenance.subject_problems([], "x", SHA) == ["is not a JSON object"]


def test_pyrels_own_files_do_not_make_a_tree_dirty() -> None:
    entries = [
        "?? pyrel.lock.toml",
        "?? pylock.source.toml",
        "?? dist/source/x.tar.gz",
        "?? .pyrel/plan.json",
        " M src/hello/__init__.py",
        "?? notes.txt",
        "?? distribution/x",
    ]
    files = frozenset({"pyrel.lock.toml", "pylock.source.toml"})
    assert dirty_entries(entries, files, [".pyrel", "dist"]) == [
        " M src/hello/__init__.py",
        "?? notes.txt",
        "?? distribution/x",
    ]


def test_the_nix_version_is_asked_once_per_nix_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pywrap.adapters import nix
    from pywrap.release import attest

    binary = tmp_path / "nix-build"
    binary.write_text("v1")
    asked: list[str] = []
    monkeypatch.setenv("PYREL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(nix, "nix_build_path", lambda: str(binary))

    def version() -> str:
        asked.append("?")
        return f"2.{len(asked)}.0"

    monkeypatch.setattr(nix, "version", version)
    assert attest.nix_version() == "2.1.0"
    assert attest.nix_version() == "2.1.0" and len(asked) == 1
    binary.write_text("v2, upgraded")  # another size and mtime: asked again
    assert attest.nix_version() == "2.2.0" and len(asked) == 2


def test_the_version_pyrel_records_is_its_package_version() -> None:
    import tomllib

    import pywrap

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pywrap.__version__ == pyproject["project"]["version"]
