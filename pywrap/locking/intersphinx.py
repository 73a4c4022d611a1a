"""Pin the intersphinx inventories of each Sphinx stage, at lock time.

A Sphinx stage whose conf.py maps other projects (``intersphinx_mapping``) needs
their ``objects.inv`` files to turn ``:py:class:`` references into links.  Sphinx
downloads them while it builds, which the sandbox cannot: every cross-reference
would silently stay plain text.  So ``pyrel lock`` does what it does for every
other artifact: it finds them, downloads them, and pins each by sha256 in the
stage's lock entry; the build fetches them into the store (fixed-output paths)
and ``nix/tools/sphinx_offline.py`` hands Sphinx those copies.

conf.py is code, and is never run on the host: a one-off variant of the stage,
built like the backend probe with the stage's own toolchain and wheels, runs it
in the sandbox and writes the mapping as JSON (``sphinx_offline.py probe``).
Only the downloads happen here, through :mod:`pywrap.adapters.http`.  Every remote
inventory of a stage found nowhere is named in one lock error, with every URL
tried, unless the stage says ``intersphinx = false``.
"""

from __future__ import annotations

import hashlib
import shlex
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from pywrap.config.model import Project, Stage
from pywrap.errors import BuildError, DownloadError, LockError
from pywrap.locking.lockfile import InventoryEntry, Lock

PROBE_OUTPUT = "intersphinx.json"
PROBE_SCHEMA_VERSION = 1
#: The first line of every inventory Sphinx reads (versions 1 and 2).
INVENTORY_MAGIC = b"# Sphinx inventory version "

#: url -> the file's bytes, or None when there is no such file (HTTP 404); DownloadError otherwise.
Download = Callable[[str], bytes | None]


@attrs.frozen
class ProbedEntry:
    """One entry of ``intersphinx_mapping``, as the probe read it in the sandbox."""

    name: str
    target: str
    #: Every location Sphinx tries, in order (``None`` already made ``<target>/objects.inv``).
    locations: tuple[str, ...]
    #: For each location: a file in the project that Sphinx would read (no download).
    local_files: tuple[bool, ...]


@attrs.frozen
class ProbeAnswer:
    #: "conf.py" (run as Sphinx runs it) or "literal" (read as text: conf.py did not run without the project).
    method: str
    note: str
    entries: tuple[ProbedEntry, ...]
    #: Entries Sphinx itself refuses (it downloads nothing for them).
    invalid: tuple[str, ...] = ()


def is_remote(location: str) -> bool:
    """Sphinx's test: a location with ``://`` is downloaded, any other is a file under the source directory."""
    return "://" in location


def _fail(stage: str, what: str) -> LockError:
    return LockError(
        f"stage '{stage}': the intersphinx probe answered {what}",
        hint="this is a bug in pyrel's probe (nix/tools/sphinx_offline.py); set intersphinx = false "
        f"in [tool.pyrel.stages.{stage}] meanwhile",
    )


def parse_answer(data: object, stage: str, sphinx_dir: str) -> ProbeAnswer:
    """The probe's JSON, checked; a conf.py whose mapping could not be read is a :class:`LockError`."""
    if not isinstance(data, dict) or data.get("schema-version") != PROBE_SCHEMA_VERSION:
        raise _fail(stage, f"{data!r:.200}, not an answer of schema version {PROBE_SCHEMA_VERSION}")
    error = data.get("error", "")
    if error:
        raise LockError(
            f"stage '{stage}': cannot read intersphinx_mapping from {sphinx_dir}/conf.py: {error}",
            hint="write intersphinx_mapping as a literal dict in conf.py, or let conf.py run before the project is "
            f"installed (pyrel runs it in the sandbox to find the inventories to pin); or set intersphinx = false "
            f"in [tool.pyrel.stages.{stage}] to build without other projects' inventories",
        )
    entries = []
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list):
        raise _fail(stage, "no list of entries")
    for raw in raw_entries:
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("name"), str)
            and isinstance(raw.get("target"), str)
            and _strings(raw.get("locations"))
            and isinstance(raw.get("local-files"), list)
            and len(raw["local-files"]) == len(raw["locations"])
            and all(isinstance(item, bool) for item in raw["local-files"])
        ):
            raise _fail(stage, f"a malformed entry {raw!r:.200}")
        entries.append(ProbedEntry(raw["name"], raw["target"], tuple(raw["locations"]), tuple(raw["local-files"])))
    invalid = data.get("invalid", [])
    return ProbeAnswer(
        str(data.get("method", "")),
        str(data.get("note", "")),
        tuple(entries),
        tuple(invalid) if _strings(invalid, allow_empty=True) else (),
    )


def _strings(value: object, *, allow_empty: bool = False) -> bool:
    return isinstance(value, list) and (allow_empty or bool(value)) and all(isinstance(item, str) for item in value)


def inventory_header(data: bytes) -> tuple[str, str]:
    """An inventory's project and version (its ``# Project:`` and ``# Version:`` lines); ValueError if not one."""
    lines = data.split(b"\n", 3)
    if not lines[0].startswith(INVENTORY_MAGIC):
        shown = lines[0][:60].decode("utf-8", "replace")
        raise ValueError(f"not a Sphinx inventory (its first line is {shown!r})")
    fields = {}
    for line in lines[1:3]:
        key, _, value = line.decode("utf-8", "replace").removeprefix("# ").partition(":")
        fields[key.strip()] = value.strip()
    return fields.get("Project", ""), fields.get("Version", "")


@attrs.frozen
class PinnedInventory:
    entry: InventoryEntry
    content: bytes


@attrs.frozen
class Unfetched:
    """A remote inventory found at none of its locations: each location with what it gave."""

    name: str
    tried: tuple[str, ...]


def fetch_entry(probed: ProbedEntry, download: Download) -> PinnedInventory | Unfetched | None:
    """The inventory Sphinx would load for ``probed``, downloaded; None when it reads a project file.

    The locations are tried in Sphinx's order; the first that gives an inventory is pinned.
    """
    tried = []
    for location, local_file in zip(probed.locations, probed.local_files, strict=True):
        if not is_remote(location):
            if local_file:
                return None  # Sphinx reads it from the project's tree, which the stage has
            tried.append(f"{location} (no such file in the Sphinx directory)")
            continue
        try:
            content = download(location)
        except DownloadError as exc:
            tried.append(f"{location} ({exc.message.removeprefix(f'cannot download {location}: ')})")
            continue
        if content is None:
            tried.append(f"{location} (not found)")
            continue
        try:
            project, version = inventory_header(content)
        except ValueError as exc:
            tried.append(f"{location} ({exc})")
            continue
        return PinnedInventory(
            InventoryEntry(
                name=probed.name,
                target=probed.target,
                url=location,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                project=project,
                version=version,
            ),
            content,
        )
    if not any(is_remote(location) for location in probed.locations):
        return None  # nothing Sphinx would download; it says itself what is missing
    return Unfetched(probed.name, tuple(tried))


def unfetchable_error(stage: str, missing: Sequence[Unfetched]) -> LockError:
    """One error for every inventory of the stage found nowhere, each with the locations tried."""
    if len(missing) == 1:
        what = f"the intersphinx inventory '{missing[0].name}'"
        tried = "; tried:\n  " + "\n  ".join(missing[0].tried)
    else:
        what = "the intersphinx inventories " + ", ".join(f"'{entry.name}'" for entry in missing)
        tried = ":" + "".join(f"\n  '{entry.name}': tried\n    " + "\n    ".join(entry.tried) for entry in missing)
    return LockError(
        f"stage '{stage}': {what} of conf.py's intersphinx_mapping cannot be fetched{tried}",
        hint="the sandbox has no network, so pyrel pins every inventory at lock time: fix the location in "
        f"intersphinx_mapping (or the network, a proxy), or set intersphinx = false in [tool.pyrel.stages.{stage}] "
        "to build without other projects' inventories (references to them then stay plain text)",
    )


def probe_stage_project(project: Project, stage: Stage) -> Project:
    """The project with only the probe: the stage's toolchain and wheels, conf.py read in the sandbox."""
    assert stage.sphinx_dir is not None
    probe = attrs.evolve(
        stage,
        run=(
            f'python "$pyrelTools/sphinx_offline.py" probe --sphinx-dir {shlex.quote(stage.sphinx_dir)} '
            f'"$out/{PROBE_OUTPUT}"',
        ),
        outputs=(PROBE_OUTPUT,),
        inputs=(),
        status_file="",
    )
    return attrs.evolve(project, stages=(probe,))


def probe_mapping(project: Project, stage: Stage, lock: Lock, progress: Callable[[str], None]) -> ProbeAnswer:
    """Run conf.py in the sandbox (the stage's toolchain) and read its ``intersphinx_mapping``."""
    import json

    from pywrap.execution.graph import stage_graph  # a one-off build, like the backend probe

    progress(f"stage '{stage.name}': reading intersphinx_mapping from {stage.sphinx_dir}/conf.py (in the sandbox)")
    with (
        tempfile.TemporaryDirectory(prefix="pyrel-intersphinx-") as scratch,
        stage_graph(
            probe_stage_project(project, stage),
            [stage.name],
            lock=lock,
            check_lock=False,
            plan_file=Path(scratch) / "plan.json",
            progress=progress,
        ) as graph,
    ):
        try:
            output = graph.build([stage.name], out_link=Path(scratch) / "result")[stage.name]
        except BuildError as exc:
            raise LockError(
                f"stage '{stage.name}': reading conf.py's intersphinx_mapping failed in the sandbox; the log ends "
                "with:\n" + exc.log_tail[-3000:],
                hint=f"set intersphinx = false in [tool.pyrel.stages.{stage.name}] to build without other projects' "
                "inventories",
            ) from exc
        data = json.loads((Path(output) / PROBE_OUTPUT).read_text(encoding="utf-8"))
    return parse_answer(data, stage.name, str(stage.sphinx_dir))


def _download(url: str) -> bytes | None:
    from pywrap.adapters import http

    response = http.get(url)
    return response.body if response.found else None


def lock_inventories(
    project: Project,
    lock: Lock,
    progress: Callable[[str], None],
    *,
    download: Download = _download,
    probe: Callable[..., ProbeAnswer] = probe_mapping,
    keep: Callable[[InventoryEntry, bytes], object] = lambda entry, content: None,
) -> Lock:
    """``lock`` with each Sphinx stage's inventories pinned (``keep`` stores each downloaded file)."""
    updated = {}
    for stage in _sphinx_stages(project, lock):
        if not stage.intersphinx:
            progress(
                f"warning: stage '{stage.name}': intersphinx = false: no inventory is pinned, and Sphinx "
                "loads none (cross-references to other projects stay plain text)"
            )
            continue
        answer = probe(project, stage, lock, progress)
        if answer.method == "literal":
            progress(
                f"stage '{stage.name}': conf.py did not run without the project installed ({answer.note}); "
                "read intersphinx_mapping as a literal"
            )
        for refused in answer.invalid:
            progress(f"warning: stage '{stage.name}': Sphinx refuses the intersphinx_mapping entry {refused}")
        pinned = []
        unfetched = []  # all of them in one error, not the first only
        for probed in answer.entries:
            found = fetch_entry(probed, download)
            if isinstance(found, Unfetched):
                unfetched.append(found)
                continue
            if found is None:
                continue
            keep(found.entry, found.content)
            progress(
                f"stage '{stage.name}': pinned the intersphinx inventory '{probed.name}' ({found.entry.url}, "
                f"sha256 {found.entry.sha256})"
            )
            pinned.append(found.entry)
        if unfetched:
            raise unfetchable_error(stage.name, unfetched)
        updated[stage.name] = attrs.evolve(lock.entry(stage.name), inventories=tuple(pinned))
    return attrs.evolve(lock, stages=tuple(updated.get(entry.name, entry) for entry in lock.stages))


def _sphinx_stages(project: Project, lock: Lock) -> Sequence[Stage]:
    """The stages pyrel runs Sphinx for, that were locked."""
    skipped = lock.skipped_stages()
    return [stage for stage in project.stages if stage.sphinx_dir is not None and stage.name not in skipped]
