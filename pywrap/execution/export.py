"""Export: copy a stage's outputs to ``dist/<stage>/`` atomically, with SHA256SUMS.

The new directory is assembled beside the old one and swapped in with renames;
if anything fails, ``dist/`` is left exactly as it was.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs

from pywrap import testhooks
from pywrap.digest import file_sha256
from pywrap.errors import ExportError
from pywrap.execution import recovery

CHECKSUMS = "SHA256SUMS"


@attrs.frozen
class ExportedFile:
    name: str
    sha256: str
    size: int


def matching_outputs(store_output: Path, globs: Sequence[str]) -> list[Path]:
    matched = []
    for path in sorted(store_output.rglob("*")):
        relative = path.relative_to(store_output).as_posix()
        if path.is_file() and any(fnmatch.fnmatch(relative, glob) for glob in globs):
            matched.append(path)
    return matched


def output_files(store_output: Path, globs: Sequence[str]) -> list[ExportedFile]:
    """The artifacts of a stage's output, as :func:`export_stage` would export them (nothing is copied)."""
    return [
        ExportedFile(path.relative_to(store_output).as_posix(), file_sha256(path), path.stat().st_size)
        for path in matching_outputs(store_output, globs)
    ]


def checksums_text(files: Sequence[ExportedFile]) -> str:
    return "".join(f"{file.sha256}  {file.name}\n" for file in files)


def export_stage(store_output: Path, globs: Sequence[str], dist: Path, stage: str) -> list[ExportedFile]:
    sources = matching_outputs(store_output, globs)
    if not sources:
        raise ExportError(f"stage '{stage}' produced no file matching {', '.join(globs)}")
    exported = [
        ExportedFile(path.relative_to(store_output).as_posix(), file_sha256(path), path.stat().st_size)
        for path in sources
    ]
    target = dist / stage
    if (
        (target / CHECKSUMS).is_file()
        and (target / CHECKSUMS).read_text() == checksums_text(exported)
        and all(file_sha256(target / file.name) == file.sha256 for file in exported if (target / file.name).is_file())
        and all((target / file.name).is_file() for file in exported)
    ):
        return exported  # already exported: a no-op rebuild touches nothing
    try:
        dist.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{stage}.new-", dir=dist))
    except OSError as exc:
        raise ExportError(f"cannot write to {dist}: {recovery.plain_os_error(exc, f'creating {dist}')}") from exc
    previous = dist / f".{stage}.old"
    try:
        for source, file in zip(sources, exported, strict=True):
            destination = staging / file.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
            os.chmod(destination, 0o644)
        (staging / CHECKSUMS).write_text(checksums_text(exported))
        os.chmod(staging, 0o755)
        testhooks.pause("export")
        recovery.swap_in(staging, target, previous)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(
            f"cannot export stage '{stage}' to {target}: {recovery.plain_os_error(exc, f'writing {target}')}"
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(previous, ignore_errors=True)
    return exported
