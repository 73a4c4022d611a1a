"""Audit: what each stage's sandbox sees and what its supply chain holds, counted.

"Packages" are distinct pinned things that went into a stage: each Debian
package and each wheel, counted once; pyrel's own generated store paths (the
project source, builder scripts, derivations that name no lock entry, stage
outputs) are listed separately.  Bytes are the size of the store paths, as
``nix-store -q --size`` reports them.

Two closures per stage, both defined by Nix queries on the stage's derivation
``D`` (so they agree with ``nix-store -qR`` by construction):

* **sandbox**: ``nix-store -qR`` of D's input sources and its input
  derivations' outputs -- exactly what the build sandbox's ``/nix/store`` holds;
* **supply chain**: ``nix-store -qR --include-outputs D`` -- every derivation
  and source needed to build D from the pinned artifacts, plus their outputs.

Without a build, outputs are missing from the store: the sandbox closure then
holds the input paths (their names map to lock entries, so the package count
is exact) and the closure of those that are valid; the supply chain holds the
derivation closure and the valid outputs.  Such a closure is marked
``complete = false`` and its bytes count only the valid paths.

This module is pure except for :func:`query_stage`, which asks the store through
:mod:`pywrap.adapters.nix`.  The build's short summary is :mod:`pywrap.execution.closure`.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pywrap.adapters import nix
from pywrap.config.model import Budget, Project, Stage
from pywrap.errors import BaselineError, BudgetExceededError
from pywrap.execution.fetch import LOADER_NAME, LOADER_PACKAGE
from pywrap.execution.plan import derivation_name, toolchain_id
from pywrap.locking.lockfile import DebEntry, InventoryEntry, Lock, WheelEntry
from pywrap.purl import deb_purl, inventory_purl, pypi_purl
from pywrap.storepath import store_name

AUDIT_SCHEMA_VERSION = 1
SANDBOX = "sandbox"
SUPPLY_CHAIN = "supply-chain"
CLOSURE_KINDS = (SANDBOX, SUPPLY_CHAIN)
#: Nix's bootstrap and the busybox tree made from it both come from busybox-static.
BUSYBOX_PATHS = ("pyrel-bootstrap-busybox", "pyrel-busybox")


# --- components: lock entries, and the store paths that map to them ------------------


@attrs.frozen
class Component:
    """One pinned lock entry: a Debian package or a wheel."""

    kind: str  # "deb" | "wheel" | "inventory" (an intersphinx objects.inv)
    name: str
    version: str
    sha256: str
    filename: str
    size: int | None = None  # download size
    architecture: str = ""
    depends: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}={self.version}"

    @property
    def key(self) -> str:
        """Identity across versions, for diffs."""
        return f"{self.kind}:{self.name}"

    @property
    def purl(self) -> str:
        if self.kind == "deb":
            return deb_purl(self.name, self.version, self.architecture)
        if self.kind == "inventory":
            return inventory_purl(self.name, self.version, self.sha256)
        return pypi_purl(self.name, self.version)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "filename": self.filename,
            "size": self.size,
            "purl": self.purl,
        }
        if self.kind == "deb":
            data["architecture"] = self.architecture
            data["depends"] = list(self.depends)
        return data

    @classmethod
    def from_json(cls, data: object, where: str = "") -> Component:
        """The component ``data`` holds; :class:`BaselineError` saying which key is wrong if it is not one."""
        return cls(
            kind=_field(data, "kind", str, where),
            name=_field(data, "name", str, where),
            version=_field(data, "version", str, where),
            sha256=_field(data, "sha256", str, where, ""),
            filename=_field(data, "filename", str, where, ""),
            size=_field(data, "size", (int, type(None)), where, None),
            architecture=_field(data, "architecture", str, where, ""),
            depends=_strings(data, "depends", where),
        )


def deb_component(entry: DebEntry) -> Component:
    return Component(
        "deb", entry.name, entry.version, entry.sha256, entry.filename, entry.size, entry.architecture, entry.depends
    )


def wheel_component(entry: WheelEntry) -> Component:
    return Component("wheel", entry.name, entry.version, entry.sha256, entry.filename, entry.size)


def inventory_component(entry: InventoryEntry) -> Component:
    """An intersphinx inventory: named by its mapping key, versioned by its header (else by its hash)."""
    return Component(
        "inventory", entry.name, entry.version or entry.sha256[:12], entry.sha256, entry.filename, entry.size
    )


@attrs.frozen
class PathEntry:
    """One store path of a closure, and what it is."""

    path: str
    size: int | None  # None: not valid in the store (not built yet)
    #: artifact, unpacked, root, busybox, loader, derivation, source, git-metadata, script, stage-output, other
    role: str
    components: tuple[str, ...] = ()  # ids of the lock entries it holds

    @property
    def name(self) -> str:
        return store_path_name(self.path)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "role": self.role, "components": list(self.components)}

    @classmethod
    def from_json(cls, data: object, where: str = "") -> PathEntry:
        """The entry ``data`` holds; :class:`BaselineError` saying which key is wrong if it is not one."""
        return cls(
            _field(data, "path", str, where),
            _field(data, "size", (int, type(None)), where, None),
            _field(data, "role", str, where),
            _strings(data, "components", where),
        )


#: The store name of the project's git metadata (nix/lib.nix, for a stage with `git = true`).
GIT_METADATA = "pyrel-git-metadata"


def store_path_name(path: str) -> str:
    """``/nix/store/<hash>-<name>`` -> ``<name>``."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    return base.split("-", 1)[1] if "-" in base else base


@attrs.frozen
class PathIndex:
    """Store path names -> (role, lock entries): the map from the store back to the lock."""

    names: Mapping[str, tuple[str, tuple[Component, ...]]]
    stage_outputs: Mapping[str, str]  # derivation name -> stage name

    def classify(self, path: str, size: int | None) -> PathEntry:
        name = store_path_name(path)
        is_derivation = name.endswith(".drv")
        bare = name.removesuffix(".drv")
        if bare in self.names:
            role, components = self.names[bare]
            return PathEntry(
                path, size, "derivation" if is_derivation else role, tuple(component.id for component in components)
            )
        if is_derivation:
            role = "derivation"
        elif bare in self.stage_outputs:
            role = "stage-output"
        elif bare == "source":
            role = "source"
        elif bare == GIT_METADATA:
            role = "git-metadata"  # the project's history a VCS plugin reads (pywrap.execution.vcs)
        elif bare.endswith((".sh", ".py")):
            role = "script"
        else:
            role = "other"
        return PathEntry(path, size, role)


def path_index(project: Project, lock: Lock) -> PathIndex:
    """Every store name pyrel's Nix library gives a locked thing (see nix/lib.nix)."""
    names: dict[str, tuple[str, tuple[Component, ...]]] = {}
    for entry in lock.packages:
        component = deb_component(entry)
        names[entry.store_name] = ("artifact", (component,))
        names[f"{entry.name}-{store_name(entry.version)}"] = ("unpacked", (component,))
    for stage_lock in lock.stages:
        for wheel in stage_lock.wheels:
            component = wheel_component(wheel)
            names[wheel.store_name] = ("artifact", (component,))
            names[f"{store_name(wheel.name)}-{store_name(wheel.version)}-unpacked"] = ("unpacked", (component,))
        for inventory in stage_lock.inventories:
            names[inventory.store_name] = ("artifact", (inventory_component(inventory),))
    python_binary = f"usr/bin/python{lock.python_version}"
    outputs = {}
    for stage in project.stages:
        outputs[derivation_name(project.name, stage.name)] = stage.name
        locked = next((s for s in lock.stages if s.name == stage.name), None)
        if locked is None:
            continue
        packages = [lock.package(name) for name in locked.system]
        identifier = toolchain_id(packages, python_binary if stage.python else "")
        names[f"pyrel-root-{identifier}"] = ("root", tuple(deb_component(entry) for entry in packages))
    if any(entry.name == "busybox-static" for entry in lock.packages):
        busybox = deb_component(lock.package("busybox-static"))
        for name in BUSYBOX_PATHS:
            names[name] = ("busybox", (busybox,))
    if any(entry.name == LOADER_PACKAGE for entry in lock.packages):
        # The ELF loader mounted where programs ask for it, taken out of libc6.
        names[LOADER_NAME] = ("loader", (deb_component(lock.package(LOADER_PACKAGE)),))
    return PathIndex(names, outputs)


# --- closures ------------------------------------------------------------------------


@attrs.frozen
class Closure:
    paths: tuple[PathEntry, ...]  # sorted by path
    components: tuple[Component, ...]  # sorted by id
    complete: bool = True

    @property
    def package_count(self) -> int:
        return len(self.components)

    @property
    def bytes(self) -> int:
        return sum(entry.size or 0 for entry in self.paths)

    @property
    def generated(self) -> tuple[PathEntry, ...]:
        """pyrel's own store paths: they hold no lock entry."""
        return tuple(entry for entry in self.paths if not entry.components)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(entry.path for entry in self.paths if entry.size is None)

    def component_ids(self) -> set[str]:
        return {component.id for component in self.components}

    def to_json(self) -> dict[str, Any]:
        by_component: dict[str, list[str]] = collections.defaultdict(list)
        for entry in self.paths:
            for component_id in entry.components:
                by_component[component_id].append(entry.path)
        return {
            "packages": self.package_count,
            "bytes": self.bytes,
            "store-path-count": len(self.paths),
            "complete": self.complete,
            "components": [
                {**component.to_json(), "store-paths": by_component[component.id]} for component in self.components
            ],
            "generated": [entry.to_json() for entry in self.generated],
            "store-paths": [entry.to_json() for entry in self.paths],
        }

    @classmethod
    def from_json(cls, data: object, where: str = "") -> Closure:
        """The closure ``data`` holds; :class:`BaselineError` saying which key is wrong if it is not one."""
        paths = _field(data, "store-paths", list, where)
        components = _field(data, "components", list, where)
        return cls(
            tuple(PathEntry.from_json(entry, f"{where}store-paths[{index}].") for index, entry in enumerate(paths)),
            tuple(
                Component.from_json(component, f"{where}components[{index}].")
                for index, component in enumerate(components)
            ),
            _field(data, "complete", bool, where, True),
        )


def make_closure(paths: Iterable[str], sizes: Mapping[str, int], index: PathIndex, *, complete: bool) -> Closure:
    entries = tuple(index.classify(path, sizes.get(path)) for path in sorted(set(paths)))
    components: dict[str, Component] = {}
    for path in sorted(set(paths)):
        name = store_path_name(path).removesuffix(".drv")
        for component in index.names.get(name, ("", ()))[1]:
            components[component.id] = component
    return Closure(entries, tuple(sorted(components.values(), key=lambda c: c.id)), complete)


def union(closures: Iterable[Closure]) -> Closure:
    paths: dict[str, PathEntry] = {}
    components: dict[str, Component] = {}
    complete = True
    for closure in closures:
        paths.update({entry.path: entry for entry in closure.paths})
        components.update({component.id: component for component in closure.components})
        complete = complete and closure.complete
    return Closure(
        tuple(paths[path] for path in sorted(paths)), tuple(components[key] for key in sorted(components)), complete
    )


# --- the store's facts about one stage (the only impure part) ------------------------


@attrs.frozen
class StoreFacts:
    """What Nix says about one stage's derivation; everything else is computed from it."""

    derivation: str
    output: str
    built: bool
    sandbox_paths: tuple[str, ...]
    sandbox_complete: bool
    supply_paths: tuple[str, ...]
    supply_complete: bool
    sizes: Mapping[str, int]  # valid paths only


#: nix/lib.nix names a stage's Python environment "<stage derivation>-python".
PYTHON_ENV_SUFFIX = "-python"


def query_stage(derivation: str) -> StoreFacts:
    """Ask the store (never build) for the two closures of ``derivation``."""
    references = nix.references(derivation)
    input_derivations = [path for path in references if path.endswith(".drv")]
    inputs = [path for path in references if not path.endswith(".drv")]
    inputs += nix.derivation_outputs(input_derivations)
    valid_inputs = nix.valid_paths(inputs)
    sandbox = set(inputs) | set(nix.requisites(sorted(valid_inputs)))
    # A stage's Python environment refers, by construction, to exactly the
    # outputs of its input derivations (its wheels and the root): before it is
    # built, those stand in for its runtime closure.
    for environment in input_derivations:
        [environment_output] = nix.derivation_outputs([environment])
        if environment_output.endswith(PYTHON_ENV_SUFFIX) and environment_output not in valid_inputs:
            wheel_drvs = [path for path in nix.references(environment) if path.endswith(".drv")]
            expected = nix.derivation_outputs(wheel_drvs)
            sandbox |= set(expected) | set(nix.requisites(sorted(nix.valid_paths(expected))))
    supply = nix.requisites([derivation], include_outputs=True)
    all_outputs = nix.derivation_outputs([path for path in supply if path.endswith(".drv")])
    supply_set = set(supply)
    valid = nix.valid_paths(sorted(sandbox | supply_set))
    output = nix.derivation_outputs([derivation])[0]
    return StoreFacts(
        derivation=derivation,
        output=output,
        built=output in supply_set,
        sandbox_paths=tuple(sorted(sandbox)),
        sandbox_complete=valid_inputs == set(inputs),
        supply_paths=tuple(sorted(supply_set)),
        supply_complete=set(all_outputs) <= supply_set,
        sizes=nix.sizes(sorted(valid)),
    )


def audit_project(
    project: Project, lock: Lock, derivations: Mapping[str, str], facts: Mapping[str, StoreFacts]
) -> AuditReport:
    """The report, from the store's facts about each stage's derivation (pure)."""
    index = path_index(project, lock)
    stages = []
    for name in derivations:
        stage = project.stage(name)
        audited = audit_stage(name, facts[name], index, stage.budget, stage.inputs)
        stages.append(
            attrs.evolve(
                audited,
                trimmed=lock.stage(name).trimmed,
                intersphinx=intersphinx_audit(stage, lock.stage(name).inventories),
            )
        )
    return AuditReport(project.name, tuple(stages))


def collect(
    project: Project, stage_names: Sequence[str], progress: Callable[[str], None] = lambda message: None
) -> tuple[Lock, AuditReport]:
    """Instantiate the stages' derivations (no build) and ask the store about them."""
    from pywrap.execution.graph import stage_graph

    with stage_graph(project, stage_names, progress=progress) as graph:
        progress(f"instantiating {', '.join(graph.stages)}")
        derivations = graph.instantiate()
        lock = graph.lock
    facts = {name: query_stage(path) for name, path in derivations.items()}
    return lock, audit_project(project, lock, derivations, facts)


# --- the audit -----------------------------------------------------------------------


@attrs.frozen
class IntersphinxAudit:
    """A Sphinx stage's intersphinx: the inventories pinned, or the stage's opt-out (`intersphinx = false`)."""

    enabled: bool
    #: (mapping key, URL it was downloaded from, sha256) of each pinned inventory.
    inventories: tuple[tuple[str, str, str], ...] = ()

    def describe(self, stage: str) -> str:
        if not self.enabled:
            return (
                f"{stage}: intersphinx = false: Sphinx loads no other project's inventory (cross-references "
                "to them stay plain text)"
            )
        return f"{stage}: {len(self.inventories)} intersphinx inventories pinned"

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "inventories": [{"name": name, "url": url, "sha256": sha256} for name, url, sha256 in self.inventories],
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> IntersphinxAudit | None:
        if data is None:
            return None
        inventories = []
        for index, entry in enumerate(_field(data, "inventories", list, where)):
            at = f"{where}inventories[{index}]."
            inventories.append(
                (_field(entry, "name", str, at), _field(entry, "url", str, at), _field(entry, "sha256", str, at))
            )
        return cls(_field(data, "enabled", bool, where), tuple(inventories))


def intersphinx_audit(stage: Stage, inventories: Sequence[InventoryEntry]) -> IntersphinxAudit | None:
    """None for a stage pyrel does not run Sphinx for."""
    if stage.sphinx_dir is None:
        return None
    return IntersphinxAudit(stage.intersphinx, tuple((entry.name, entry.url, entry.sha256) for entry in inventories))


@attrs.frozen
class StageAudit:
    name: str
    derivation: str
    output: str
    built: bool
    sandbox: Closure
    supply_chain: Closure
    budget: Budget = attrs.field(factory=Budget)
    inputs: tuple[str, ...] = ()
    #: Debian packages the stage's `system-exclude` cut from Python's Depends closure.
    trimmed: tuple[str, ...] = ()
    #: A Sphinx stage's intersphinx inventories, or its opt-out; None for other stages.
    intersphinx: IntersphinxAudit | None = None

    def closure(self, kind: str) -> Closure:
        return self.sandbox if kind == SANDBOX else self.supply_chain


@attrs.frozen
class AuditReport:
    project: str
    stages: tuple[StageAudit, ...]

    @property
    def monolithic_sandbox(self) -> Closure:
        """As if every stage ran in one job: the union of the stages' sandboxes."""
        return union(stage.sandbox for stage in self.stages)

    @property
    def monolithic_supply_chain(self) -> Closure:
        return union(stage.supply_chain for stage in self.stages)

    def monolithic(self, kind: str) -> Closure:
        return self.monolithic_sandbox if kind == SANDBOX else self.monolithic_supply_chain

    def stage(self, name: str) -> StageAudit:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def added_by_stage(self) -> dict[str, tuple[Component, ...]]:
        """What each stage's sandbox adds to the stages before it (in plan order)."""
        seen: set[str] = set()
        added = {}
        for stage in self.stages:
            new = tuple(c for c in stage.sandbox.components if c.id not in seen)
            seen |= stage.sandbox.component_ids()
            added[stage.name] = new
        return added

    def to_json(self) -> dict[str, Any]:
        monolithic = {kind: self.monolithic(kind) for kind in CLOSURE_KINDS}
        return {
            "schema-version": AUDIT_SCHEMA_VERSION,
            "kind": "pyrel-audit",
            "project": self.project,
            "stages": [
                {
                    "name": stage.name,
                    "derivation": stage.derivation,
                    "output": stage.output,
                    "built": stage.built,
                    "inputs": list(stage.inputs),
                    "trimmed": list(stage.trimmed),
                    "intersphinx": stage.intersphinx.to_json() if stage.intersphinx else None,
                    "budget": {"packages": stage.budget.packages, "bytes": stage.budget.bytes},
                    SANDBOX: stage.sandbox.to_json(),
                    SUPPLY_CHAIN: stage.supply_chain.to_json(),
                    "monolithic-ratio": {
                        kind: ratio(monolithic[kind].package_count, stage.closure(kind).package_count)
                        for kind in CLOSURE_KINDS
                    },
                }
                for stage in self.stages
            ],
            "monolithic": {kind: monolithic[kind].to_json() for kind in CLOSURE_KINDS},
        }

    @classmethod
    def from_json(cls, data: object) -> AuditReport:
        """The report ``data`` holds (``to_json``'s shape); :class:`BaselineError` saying what is wrong if not."""
        if not isinstance(data, Mapping):
            raise BaselineError("not a JSON object", hint=_REPORT_HINT)
        if data.get("kind") != "pyrel-audit" or data.get("schema-version") != AUDIT_SCHEMA_VERSION:
            raise BaselineError(f"not a pyrel audit report of schema version {AUDIT_SCHEMA_VERSION}", hint=_REPORT_HINT)
        stages = []
        for index, stage in enumerate(_field(data, "stages", list, "")):
            where = f"stages[{index}]."
            budget = _field(stage, "budget", (dict, type(None)), where, None) or {}
            stages.append(
                StageAudit(
                    name=_field(stage, "name", str, where),
                    derivation=_field(stage, "derivation", str, where),
                    output=_field(stage, "output", str, where),
                    built=_field(stage, "built", bool, where),
                    sandbox=Closure.from_json(_field(stage, SANDBOX, dict, where), f"{where}{SANDBOX}."),
                    supply_chain=Closure.from_json(_field(stage, SUPPLY_CHAIN, dict, where), f"{where}{SUPPLY_CHAIN}."),
                    budget=Budget(
                        _field(budget, "packages", (int, type(None)), f"{where}budget.", None),
                        _field(budget, "bytes", (int, type(None)), f"{where}budget.", None),
                    ),
                    inputs=_strings(stage, "inputs", where),
                    trimmed=_strings(stage, "trimmed", where),
                    intersphinx=IntersphinxAudit.from_json(
                        _field(stage, "intersphinx", (dict, type(None)), where, None), f"{where}intersphinx."
                    ),
                )
            )
        return cls(_field(data, "project", str, ""), tuple(stages))

    @classmethod
    def read(cls, path: Path) -> AuditReport:
        """The report in ``path`` (a baseline); :class:`BaselineError` naming the file and what is wrong."""
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError as error:
            raise BaselineError(f"{path}: no such file", hint=_REPORT_HINT) from error
        except OSError as error:
            raise BaselineError(f"cannot read {path}: {error.strerror or error}") from error
        except (ValueError, RecursionError) as error:  # not JSON (or not UTF-8), or nested too deep
            raise BaselineError(f"{path}: not valid JSON ({error})", hint=_REPORT_HINT) from error
        try:
            return cls.from_json(data)
        except BaselineError as error:
            raise BaselineError(f"{path}: {error.message}", hint=error.hint or _REPORT_HINT) from error


_REPORT_HINT = (
    "a baseline is a report `pyrel audit` wrote (dist/audit/audit.json, or its --json output); "
    "pass another --baseline, or remove a damaged dist/audit/audit.json"
)
_REQUIRED: Any = object()
_JSON_TYPES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def _field(data: object, key: str, kind: type | tuple[type, ...], where: str, default: Any = _REQUIRED) -> Any:
    """``data[key]`` of an audit report, checked to be a ``kind``; :class:`BaselineError` naming the key if not."""
    if not isinstance(data, Mapping):
        raise BaselineError(f"'{where.rstrip('.') or 'the report'}' is not a JSON object")
    if key not in data:
        if default is _REQUIRED:
            raise BaselineError(f"'{where}{key}' is missing")
        return default
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_JSON_TYPES.get(option, option.__name__) for option in kinds)
        raise BaselineError(f"'{where}{key}' must be {expected}, not {json.dumps(value)[:60]}")
    return value


def _strings(data: object, key: str, where: str) -> tuple[str, ...]:
    values = _field(data, key, list, where, [])
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise BaselineError(f"'{where}{key}[{index}]' must be a string, not {json.dumps(value)[:60]}")
    return tuple(values)


def ratio(whole: int, part: int) -> float | None:
    return round(whole / part, 2) if part else None


def audit_stage(
    name: str, facts: StoreFacts, index: PathIndex, budget: Budget | None = None, inputs: Sequence[str] = ()
) -> StageAudit:
    return StageAudit(
        name=name,
        derivation=facts.derivation,
        output=facts.output,
        built=facts.built,
        sandbox=make_closure(facts.sandbox_paths, facts.sizes, index, complete=facts.sandbox_complete),
        supply_chain=make_closure(facts.supply_paths, facts.sizes, index, complete=facts.supply_complete),
        budget=budget or Budget(),
        inputs=tuple(inputs),
    )


# --- diffs against a baseline ----------------------------------------------------------


@attrs.frozen
class ClosureDiff:
    added: tuple[Component, ...]
    removed: tuple[Component, ...]
    changed: tuple[tuple[Component, Component], ...]  # (old, new)
    package_delta: int
    bytes_delta: int

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [component.id for component in self.added],
            "removed": [component.id for component in self.removed],
            "changed": [{"name": new.key, "old": old.version, "new": new.version} for old, new in self.changed],
            "package-delta": self.package_delta,
            "bytes-delta": self.bytes_delta,
        }


@attrs.frozen
class StageDiff:
    stage: str
    status: str  # "changed" | "added" | "removed"
    closures: Mapping[str, ClosureDiff]

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "status": self.status,
            **{kind: diff.to_json() for kind, diff in self.closures.items()},
        }


EMPTY_CLOSURE = Closure((), ())


def diff_closures(old: Closure, new: Closure) -> ClosureDiff:
    old_by_key = {component.key: component for component in old.components}
    new_by_key = {component.key: component for component in new.components}
    return ClosureDiff(
        added=tuple(new_by_key[key] for key in sorted(new_by_key.keys() - old_by_key.keys())),
        removed=tuple(old_by_key[key] for key in sorted(old_by_key.keys() - new_by_key.keys())),
        changed=tuple(
            (old_by_key[key], new_by_key[key])
            for key in sorted(old_by_key.keys() & new_by_key.keys())
            if old_by_key[key].version != new_by_key[key].version
        ),
        package_delta=new.package_count - old.package_count,
        bytes_delta=new.bytes - old.bytes,
    )


def diff_reports(old: AuditReport, new: AuditReport) -> list[StageDiff]:
    old_names = {stage.name for stage in old.stages}
    new_names = {stage.name for stage in new.stages}
    names = [stage.name for stage in new.stages] + sorted(old_names - new_names)
    diffs = []
    for name in names:
        before = old.stage(name) if name in old_names else None
        after = new.stage(name) if name in new_names else None
        status = "changed" if before and after else ("added" if after else "removed")
        diffs.append(
            StageDiff(
                name,
                status,
                {
                    kind: diff_closures(
                        before.closure(kind) if before else EMPTY_CLOSURE,
                        after.closure(kind) if after else EMPTY_CLOSURE,
                    )
                    for kind in CLOSURE_KINDS
                },
            )
        )
    return diffs


# --- budgets --------------------------------------------------------------------------


@attrs.frozen
class BudgetViolation:
    stage: str
    measure: str  # "packages" | "bytes"
    limit: int
    actual: int
    added: tuple[Component, ...] = ()  # what grew since the baseline, when there is one
    changed: tuple[tuple[Component, Component], ...] = ()

    def describe(self) -> str:
        from pywrap.logger import human_bytes

        if self.measure == "bytes":
            text = (
                f"stage '{self.stage}': its sandbox closure is {human_bytes(self.actual)} "
                f"({self.actual} bytes), over the budget of {human_bytes(self.limit)} ({self.limit} bytes)"
            )
        else:
            text = (
                f"stage '{self.stage}': its sandbox closure has {self.actual} packages, over the budget of {self.limit}"
            )
        grew = [f"added {component.id}" for component in self.added]
        grew += [f"{old.key} {old.version} -> {new.version}" for old, new in self.changed]
        if grew:
            text += "; since the baseline: " + ", ".join(grew)
        return text


def check_budgets(report: AuditReport, diffs: Sequence[StageDiff] = ()) -> list[BudgetViolation]:
    """Budgets apply to the sandbox closure: what the stage's build can see."""
    by_stage = {diff.stage: diff.closures[SANDBOX] for diff in diffs}
    violations = []
    for stage in report.stages:
        diff = by_stage.get(stage.name)
        added = diff.added if diff else ()
        changed = diff.changed if diff else ()
        closure = stage.sandbox
        if stage.budget.packages is not None and closure.package_count > stage.budget.packages:
            violations.append(
                BudgetViolation(stage.name, "packages", stage.budget.packages, closure.package_count, added, changed)
            )
        if stage.budget.bytes is not None and closure.bytes > stage.budget.bytes:
            violations.append(BudgetViolation(stage.name, "bytes", stage.budget.bytes, closure.bytes, added, changed))
    return violations


def budget_error(violations: Sequence[BudgetViolation]) -> BudgetExceededError:
    return BudgetExceededError(
        "over budget:\n  " + "\n  ".join(violation.describe() for violation in violations),
        hint="drop the new dependency, or raise [tool.pyrel.stages.<name>.budget] if it is wanted",
    )


# --- why ------------------------------------------------------------------------------


@attrs.frozen
class WhyAnswer:
    stage: str
    closures: tuple[str, ...]  # which closures hold it
    component: Component
    chain: tuple[str, ...]  # from what the stage asked for down to the package
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "closures": list(self.closures),
            "package": self.component.id,
            "chain": list(self.chain),
            "reason": self.reason,
        }


def _deb_chain(roots: Sequence[str], target: str, depends: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The shortest Depends chain from one of ``roots`` to ``target`` (breadth first)."""
    previous: dict[str, str | None] = {root: None for root in roots}
    queue = collections.deque(roots)
    while queue:
        name = queue.popleft()
        if name == target:
            chain = [name]
            while (parent := previous[chain[-1]]) is not None:
                chain.append(parent)
            return tuple(reversed(chain))
        for dependency in depends.get(name, ()):
            if dependency not in previous:
                previous[dependency] = name
                queue.append(dependency)
    return ()


def _requirement_names(requirements: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for text in requirements:
        try:
            names.add(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            continue
    return names


def why(report: AuditReport, project: Project, lock: Lock, package: str) -> list[WhyAnswer]:
    """Which stages pull ``package`` in, and through which chain."""
    wanted = canonicalize_name(package)
    depends = {entry.name: entry.depends for entry in lock.packages}
    python_roots = [f"python{lock.python_version}-minimal", f"libpython{lock.python_version}-stdlib"]
    bootstrap_roots = [name for name in ("patchelf",) if name in lock.bootstrap] or list(lock.bootstrap)
    answers = []
    for stage in report.stages:
        try:
            config: Stage | None = project.stage(stage.name)
        except KeyError:
            config = None
        for component, kinds in _components_named(stage, wanted, package):
            if component.kind == "wheel":
                chain, reason = _wheel_chain(stage.name, component, config, wanted)
            elif component.kind == "inventory":
                chain, reason = (
                    (stage.name, component.name),
                    ("an intersphinx inventory conf.py's intersphinx_mapping names, pinned by `pyrel lock`"),
                )
            else:
                roots = [*python_roots] if config is not None and config.python else []
                roots += list(config.system) if config is not None else []
                chain, reason = _deb_chain_and_reason(stage.name, component, kinds, roots, bootstrap_roots, depends)
            answers.append(WhyAnswer(stage.name, tuple(kinds), component, chain, reason))
    return answers


def _components_named(stage: StageAudit, wanted: str, package: str) -> list[tuple[Component, list[str]]]:
    """The stage's components named ``package``, each with the closures that hold it."""
    found: dict[str, list[str]] = collections.defaultdict(list)
    components: dict[str, Component] = {}
    for kind in CLOSURE_KINDS:
        for component in stage.closure(kind).components:
            if canonicalize_name(component.name) == wanted or component.name == package:
                found[component.id].append(kind)
                components[component.id] = component
    return [(components[component_id], kinds) for component_id, kinds in found.items()]


def _wheel_chain(
    stage_name: str, component: Component, config: Stage | None, wanted: str
) -> tuple[tuple[str, ...], str]:
    direct = config is not None and wanted in _requirement_names(config.requires)
    reason = (
        "a direct requirement of the stage"
        if direct
        else "a resolved dependency of the stage's requirements (the pylock records no edges)"
    )
    return (stage_name, component.name), reason


def _deb_chain_and_reason(
    stage_name: str,
    component: Component,
    kinds: Sequence[str],
    roots: Sequence[str],
    bootstrap_roots: Sequence[str],
    depends: Mapping[str, Sequence[str]],
) -> tuple[tuple[str, ...], str]:
    if component.name == "busybox-static":
        return (stage_name, "busybox-static"), "every stage's shell and coreutils"
    if component.name == LOADER_PACKAGE and SANDBOX in kinds and not _deb_chain(roots, component.name, depends):
        return (stage_name, LOADER_PACKAGE), "its ELF loader, mounted where programs ask for it (every stage's)"
    if SANDBOX in kinds and (found_chain := _deb_chain(roots, component.name, depends)):
        return (stage_name, *found_chain), "Debian Depends chain from what the stage asked for"
    if found_chain := _deb_chain(bootstrap_roots, component.name, depends):
        return (
            ("bootstrap", *found_chain),
            "used to build the stage's root (patchelf and its libraries), not in its sandbox",
        )
    return (stage_name, component.name), "in the closure of an input stage"
