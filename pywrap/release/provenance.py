"""Provenance: an in-toto v1 Statement with a SLSA Provenance v1 predicate per artifact (pure).

One statement per exported file, written beside it as ``<artifact>.intoto.json``.
What each field holds (documented in the README, "Verify and provenance"):

* ``subject``: the artifact's file name and sha256;
* ``buildDefinition.buildType``: :data:`BUILD_TYPE`, "one pyrel stage built by
  nix-build in Nix's sandbox from a pyrel plan";
* ``externalParameters``: project, stage, the stages it reads (``inputStages``),
  the source (commit, tag, clean tree);
* ``internalParameters``: Nix's version, the sandbox settings (``sandboxPaths``: the
  pinned /bin/sh, the one thing mounted besides the inputs), substituters,
  the system, provider, suite and SOURCE_DATE_EPOCH;
* ``resolvedDependencies``: the source commit, pyrel's lock files, every locked
  artifact of the stage (its Debian packages, the bootstrap packages every stage
  uses, its wheels; sha256, purl as ``uri``, download URL) and every artifact of
  its input stages, named ``<stage>/<file>`` (exported or not in the same run:
  :func:`recorded_inputs` reads them back, and `pyrel verify --artifacts` holds
  them against the input stages' directories of ``dist/``);
* ``runDetails``: builder id and versions; invocation id and start and end
  times; byproducts: the stage's derivation (with the sha256 of the .drv file)
  and its output store path, as ``file://`` URIs.

Statements differ from build to build (invocation id, times); the artifacts do
not.  That is why SHA256SUMS lists only the artifacts.
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from pywrap.locking.lockfile import LOCK_FILE, DebEntry, InventoryEntry, Lock, WheelEntry
from pywrap.purl import deb_purl, inventory_purl, pypi_purl
from pywrap.release.source_state import SourceInfo

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
#: pyrel has no published site: its build type is a URN, described in the README.
BUILD_TYPE = "urn:pyrel:build-type:nix-stage:v1"
#: The builder when nothing else says which: this machine, running pyrel by hand.
#: CI sets PYREL_BUILDER_ID to its own identity (e.g. the workflow's URL).
DEFAULT_BUILDER_ID = "urn:pyrel:builder:local"
ATTESTATION_SUFFIX = ".intoto.json"


@attrs.frozen
class BuildContext:
    """One `pyrel build` invocation, as recorded in every statement it writes."""

    project: str
    invocation_id: str
    started_on: datetime.datetime
    finished_on: datetime.datetime
    builder_id: str
    pyrel_version: str
    nix_version: str
    source: SourceInfo
    substituters: tuple[str, ...] = ()
    system: str = ""
    source_date_epoch: int | None = None
    lock_files: tuple[tuple[str, str], ...] = ()  # (file name, sha256)
    #: Nix's sandbox-paths for the build: what every sandbox had besides its declared inputs.
    sandbox_paths: tuple[str, ...] = ()


def timestamp(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC, whole seconds, as SLSA's examples write it."""
    return moment.astimezone(datetime.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def redact_url(url: str) -> str:
    """A URL without user name or password (a git remote may carry a token)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _git_uri(remote: str) -> str:
    remote = redact_url(remote)
    scp = re.fullmatch(r"([\w.-]+@)?([\w.-]+):(?!//)(.+)", remote)  # git@host:owner/repo
    if remote.startswith("/"):  # a clone of a local repository
        remote = f"file://{urllib.parse.quote(remote)}"
    elif scp:
        remote = f"ssh://{scp.group(2)}/{scp.group(3)}"
    return remote if remote.startswith("git+") else f"git+{remote}"


def deb_dependency(entry: DebEntry) -> dict[str, Any]:
    return {
        "name": entry.filename.rsplit("/", 1)[-1],
        "uri": deb_purl(entry.name, entry.version, entry.architecture),
        "digest": {"sha256": entry.sha256},
        "downloadLocation": entry.url,
        "mediaType": "application/vnd.debian.binary-package",
    }


def wheel_dependency(entry: WheelEntry) -> dict[str, Any]:
    return {
        "name": entry.filename,
        "uri": pypi_purl(entry.name, entry.version),
        "digest": {"sha256": entry.sha256},
        "downloadLocation": entry.url,
    }


def source_dependency(source: SourceInfo) -> list[dict[str, Any]]:
    if source.commit is None:
        return []
    descriptor: dict[str, Any] = {"name": "source", "digest": {"gitCommit": source.commit}}
    if source.remote:
        ref = f"@refs/tags/{source.tag}" if source.tag else ""
        descriptor["uri"] = _git_uri(source.remote) + ref
    return [descriptor]


def inventory_dependency(entry: InventoryEntry) -> dict[str, Any]:
    return {
        "name": entry.filename,
        "uri": inventory_purl(entry.name, entry.version or entry.sha256[:12], entry.sha256),
        "digest": {"sha256": entry.sha256},
        "downloadLocation": entry.url,
    }


def stage_dependencies(lock: Lock, stage: str) -> list[dict[str, Any]]:
    """Every locked artifact that went into ``stage``: bootstrap and stage debs, its wheels, its inventories."""
    stage_lock = lock.stage(stage)
    names = sorted({*lock.bootstrap, *stage_lock.system})
    debs = [deb_dependency(lock.package(name)) for name in names]
    wheels = [wheel_dependency(wheel) for wheel in sorted(stage_lock.wheels, key=lambda wheel: wheel.filename)]
    return debs + wheels + [inventory_dependency(entry) for entry in stage_lock.inventories]


def lock_file_names(lock: Lock, stage: str) -> list[str]:
    python_lock = lock.stage(stage).python_lock
    return [LOCK_FILE, *([python_lock] if python_lock else [])]


def statement(
    *,
    artifact: str,
    sha256: str,
    stage: str,
    context: BuildContext,
    dependencies: Sequence[Mapping[str, Any]],
    derivation: str | None,
    output: str | None,
    input_artifacts: Iterable[tuple[str, str]] = (),
    input_stages: Sequence[str] = (),
    derivation_sha256: str = "",
) -> dict[str, Any]:
    """The in-toto Statement for one artifact of ``stage``.

    ``input_stages``: the stages ``stage`` reads; ``input_artifacts``: (``<stage>/<file>``,
    sha256) of every artifact of those stages, the files it was built from.
    ``derivation`` and ``output`` are store paths (recorded as ``file://`` URIs).
    """
    resolved = [
        *source_dependency(context.source),
        *({"name": name, "digest": {"sha256": digest}} for name, digest in context.lock_files),
        *({"name": name, "digest": {"sha256": digest}} for name, digest in input_artifacts),
        *dependencies,
    ]
    external = _external_parameters(context, stage, input_stages)
    internal = _internal_parameters(context)
    run_details = _run_details(context, derivation, output, derivation_sha256)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": artifact, "digest": {"sha256": sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": internal,
                "resolvedDependencies": [dict(item) for item in resolved],
            },
            "runDetails": run_details,
        },
    }


def _external_parameters(context: BuildContext, stage: str, input_stages: Sequence[str]) -> dict[str, Any]:
    source = context.source
    # inputStages is written even when empty: it tells a stage that reads none from a statement
    # that does not say (an older pyrel's), whose inputs cannot be checked.
    external: dict[str, Any] = {"project": context.project, "stage": stage, "inputStages": list(input_stages)}
    source_parameters: dict[str, Any] = {}
    if source.commit is not None:
        source_parameters["commit"] = source.commit
    if source.tag is not None:
        source_parameters["tag"] = source.tag
    if source.dirty is not None:
        source_parameters["dirty"] = source.dirty
    if source_parameters:
        external["source"] = source_parameters
    return external


def _internal_parameters(context: BuildContext) -> dict[str, Any]:
    internal: dict[str, Any] = {
        "nixVersion": context.nix_version,
        "sandbox": True,
        "sandboxFallback": False,
        "sandboxPaths": list(context.sandbox_paths),
        "substituters": list(context.substituters),
    }
    if context.system:
        internal["system"] = context.system
    if context.source_date_epoch is not None:
        internal["sourceDateEpoch"] = context.source_date_epoch
    return internal


def _run_details(
    context: BuildContext, derivation: str | None, output: str | None, derivation_sha256: str
) -> dict[str, Any]:
    byproducts: list[dict[str, Any]] = []
    if derivation:
        descriptor: dict[str, Any] = {"name": "derivation", "uri": f"file://{derivation}"}
        if derivation_sha256:
            descriptor["digest"] = {"sha256": derivation_sha256}
        byproducts.append(descriptor)
    if output:
        byproducts.append({"name": "output", "uri": f"file://{output}"})
    run_details: dict[str, Any] = {
        "builder": {"id": context.builder_id, "version": {"pyrel": context.pyrel_version, "nix": context.nix_version}},
        "metadata": {
            "invocationId": context.invocation_id,
            "startedOn": timestamp(context.started_on),
            "finishedOn": timestamp(context.finished_on),
        },
    }
    if byproducts:
        run_details["byproducts"] = byproducts
    return run_details


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def attestation_name(artifact: str) -> str:
    return artifact + ATTESTATION_SUFFIX


@attrs.frozen
class RecordedInputs:
    """What a statement says its stage was built from, of other stages' artifacts."""

    stage: str
    input_stages: tuple[str, ...]
    #: (input stage, file, sha256) of every artifact of the input stages the stage read.
    files: tuple[tuple[str, str, str], ...]


def recorded_inputs(document: object) -> RecordedInputs | None:
    """The stages and artifacts a statement says its stage read; None when it does not say.

    A statement without ``externalParameters.inputStages`` (an older pyrel's, or not
    pyrel's) cannot be checked against the other stages of ``dist/``.
    """
    predicate = document.get("predicate") if isinstance(document, dict) else None
    definition = predicate.get("buildDefinition") if isinstance(predicate, dict) else None
    if not isinstance(definition, dict):
        return None
    external = definition.get("externalParameters")
    if not isinstance(external, dict):
        return None
    stage, input_stages = external.get("stage"), external.get("inputStages")
    if not (
        isinstance(stage, str)
        and isinstance(input_stages, list)
        and all(isinstance(name, str) and name and "/" not in name for name in input_stages)
    ):
        return None
    files = []
    dependencies = definition.get("resolvedDependencies")
    for item in dependencies if isinstance(dependencies, list) else []:
        name = item.get("name") if isinstance(item, dict) else None
        digest = item.get("digest") if isinstance(item, dict) else None
        if not (isinstance(name, str) and "/" in name and isinstance(digest, dict)):
            continue
        input_stage, file = name.split("/", 1)
        sha256 = digest.get("sha256")
        if input_stage in input_stages and isinstance(sha256, str):
            files.append((input_stage, file, sha256))
    return RecordedInputs(stage, tuple(input_stages), tuple(files))


def subject_problems(document: object, artifact: str, sha256: str) -> list[str]:
    """What is wrong with ``document`` as the statement of ``artifact`` (empty when it checks out)."""
    if not isinstance(document, dict):
        return ["is not a JSON object"]
    problems = []
    if document.get("_type") != STATEMENT_TYPE:
        problems.append(f"_type is {document.get('_type')!r}, not {STATEMENT_TYPE!r}")
    if document.get("predicateType") != PREDICATE_TYPE:
        problems.append(f"predicateType is {document.get('predicateType')!r}, not {PREDICATE_TYPE!r}")
    subjects = document.get("subject")
    if not isinstance(subjects, list) or not subjects:
        return [*problems, "has no subject"]
    named = [s for s in subjects if isinstance(s, dict) and s.get("name") == artifact]
    if not named:
        problems.append(f"has no subject named {artifact!r}")
    else:
        digests = [s.get("digest", {}).get("sha256") if isinstance(s.get("digest"), dict) else None for s in named]
        if sha256 not in digests:
            problems.append(f"subject {artifact!r} has sha256 {digests[0]}, the file has {sha256}")
    return problems
