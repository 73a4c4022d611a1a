"""Write provenance: one in-toto statement beside each exported artifact, atomically.

Runs after export; the statements are built by :mod:`pywrap.release.provenance` (pure).
SHA256SUMS keeps listing only the artifacts: a statement records one build
invocation (its id and times), so it is not part of what two builds compare.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pywrap import __version__
from pywrap.adapters import nix
from pywrap.cache import cache_dir
from pywrap.config.model import Project
from pywrap.digest import file_sha256
from pywrap.execution.nixlib import nix_system
from pywrap.files import write_atomically
from pywrap.locking.lockfile import Lock
from pywrap.release import provenance
from pywrap.release.source_state import SourceInfo

if TYPE_CHECKING:
    from pywrap.execution.build import Outcome, Result

BUILDER_ID_VARIABLE = "PYREL_BUILDER_ID"


def nix_version() -> str:
    """Nix's version, remembered per nix-build binary (its path, size and mtime): an upgrade changes
    them, and an attested build starts one process fewer."""
    binary = Path(nix.nix_build_path()).resolve()
    try:
        status = binary.stat()
    except OSError:
        return nix.version()
    key = f"{binary}:{status.st_size}:{status.st_mtime_ns}"
    record = cache_dir() / "nix-version.json"
    try:
        known = json.loads(record.read_text())
        if known["binary"] == key:
            return str(known["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    version = nix.version()
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(record, json.dumps({"binary": key, "version": version}).encode())
    return version


def _file_sha256(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError:
        return ""


def build_context(
    project: Project,
    lock: Lock,
    *,
    source: SourceInfo,
    started_on: datetime.datetime,
    finished_on: datetime.datetime,
    substituters: Sequence[str],
    source_date_epoch: int | None,
    stage_names: Sequence[str],
    sandbox_paths: Sequence[str] = (),
) -> provenance.BuildContext:
    import uuid

    lock_files = sorted({name for stage in stage_names for name in provenance.lock_file_names(lock, stage)})
    return provenance.BuildContext(
        project=project.name,
        invocation_id=str(uuid.uuid4()),
        started_on=started_on,
        finished_on=finished_on,
        builder_id=os.environ.get(BUILDER_ID_VARIABLE) or provenance.DEFAULT_BUILDER_ID,
        pyrel_version=__version__,
        nix_version=nix_version(),
        source=source,
        substituters=tuple(substituters),
        system=nix_system(lock.architecture),
        source_date_epoch=source_date_epoch,
        lock_files=tuple((name, _file_sha256(project.root / name)) for name in lock_files),
        sandbox_paths=tuple(sandbox_paths),
    )


def _attested(target: Path, sha256: str, store_path: str) -> bool:
    """An attestation of this very artifact from this very build output is already there."""
    try:
        text = target.read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, ValueError, RecursionError):  # unreadable, not JSON: written again
        return False
    subjects = document.get("subject") if isinstance(document, dict) else None
    if not isinstance(subjects, list):
        return False
    same_subject = any(
        isinstance(s, dict) and isinstance(s.get("digest"), dict) and s["digest"].get("sha256") == sha256
        for s in subjects
    )
    # The same output was built from the same inputs; a statement that does not name them
    # (an older pyrel's) is written again, so that dist/ can be checked as one release.
    return same_subject and bool(store_path) and store_path in text and provenance.recorded_inputs(document) is not None


def write_attestations(
    project: Project, lock: Lock, results: Sequence[Result], dist: Path, context: provenance.BuildContext
) -> list[Path]:
    """``dist/<stage>/<artifact>.intoto.json`` for every file each stage exported."""
    exported = {result.stage: result for result in results if result.outputs}
    written = []
    for result in exported.values():
        stage = project.stage(result.stage)
        # Only the lock entries of this stage's own lock files (not every stage's).
        lock_names = set(provenance.lock_file_names(lock, result.stage))
        stage_context = attrs.evolve(
            context, lock_files=tuple(item for item in context.lock_files if item[0] in lock_names)
        )
        dependencies = provenance.stage_dependencies(lock, result.stage)
        if all(
            _attested(dist / result.stage / provenance.attestation_name(file.name), file.sha256, result.store_path)
            for file in result.outputs
        ):
            continue  # a no-op rebuild: the same output, already attested
        derivation = result.derivation or (nix.deriver(result.store_path) if result.store_path else None)
        for file in result.outputs:
            document = provenance.statement(
                artifact=file.name,
                sha256=file.sha256,
                stage=result.stage,
                context=stage_context,
                dependencies=dependencies,
                derivation=derivation,
                output=result.store_path or None,
                input_artifacts=result.inputs,
                input_stages=stage.inputs,
                derivation_sha256=_file_sha256(Path(derivation)) if derivation else "",
            )
            target = dist / result.stage / provenance.attestation_name(file.name)
            write_atomically(target, provenance.dumps(document).encode())
            written.append(target)
    return written


def attest_results(
    project: Project,
    outcome: Outcome,
    dist: Path,
    *,
    source: SourceInfo,
    started_on: datetime.datetime,
    substituters: Sequence[str],
) -> list[Path]:
    """Write the statements of one `pyrel build` run (after export)."""
    exported = [result for result in outcome.results if result.outputs]
    if all(
        _attested(dist / result.stage / provenance.attestation_name(file.name), file.sha256, result.store_path)
        for result in exported
        for file in result.outputs
    ):
        return []  # nothing new was exported (a no-op rebuild): its attestations stand
    context = build_context(
        project,
        outcome.lock,
        source=source,
        started_on=started_on,
        finished_on=datetime.datetime.now(datetime.UTC),
        substituters=substituters,
        source_date_epoch=outcome.source_date_epoch,
        stage_names=[result.stage for result in exported],
        sandbox_paths=outcome.sandbox_paths,
    )
    return write_attestations(project, outcome.lock, exported, dist, context)
