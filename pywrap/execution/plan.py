"""Plan: a pure function from the project, its lock and the fetched bootstrap
to the JSON data the static Nix library (``nix/default.nix``) builds.

No Nix code is generated here: the plan is data, read with ``builtins.fromJSON``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from pywrap.config.model import DOCS_STAGE, TEST_STAGE, Project, Stage
from pywrap.errors import ConfigError
from pywrap.execution.fetch import Bootstrap, Loader
from pywrap.execution.nixlib import nix_system
from pywrap.locking.lockfile import DebEntry, InventoryEntry, Lock, WheelEntry
from pywrap.storepath import store_name

PLAN_SCHEMA_VERSION = 1
#: Left out of a stage's merged root (the per-package store paths keep them for
#: the audit): documentation, and glibc's gconv modules, the legacy charset
#: converters glibc loads only from its compiled-in /usr path, absent in the sandbox.
DROPPED_DIRS = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/lintian",
    "usr/share/locale",
    "usr/share/bug",
    "usr/lib/x86_64-linux-gnu/gconv",
    "usr/lib/aarch64-linux-gnu/gconv",
)
ARCH_TO_TRIPLET = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
#: Debian's versioned compiler packages (the real drivers; `gcc`/`g++` only link to them).
GCC_PACKAGE = re.compile(r"^gcc-(\d+)$")


class Artifact(TypedDict):
    """A pinned file the Nix library fetches as a fixed-output path."""

    package: str
    versionName: str
    storeName: str
    url: str
    sha256: str


class Toolchain(TypedDict):
    """A stage's merged root: its Debian packages, unpacked and patched."""

    id: str
    debs: list[Artifact]
    python: str
    compiler: dict[str, str] | None
    compile: list[str]
    drop: list[str]


class StagePlan(TypedDict):
    name: str
    derivationName: str
    toolchain: str
    python: str
    wheels: list[Artifact]
    inputs: list[str]
    pathDirs: list[str]
    compiler: dict[str, str] | None
    env: dict[str, str]
    sourceDateEpoch: int
    run: list[str]
    outputs: list[str]
    #: Its source tree holds the project's git metadata as ``.git``, and git is among its tools.
    git: NotRequired[bool]
    #: False: the stage gets no copy of the project's tree (the built-in wheel stage: it builds from the
    #: sdist, its input, and a file the sdist lacks must not reach the wheel).
    projectTree: NotRequired[bool]
    #: False: its archives are not rewritten after its commands (they wrote them normalized).
    normalize: NotRequired[bool]
    #: nixpkgs provider: the stage's tools as nixpkgs attributes.
    nixpkgs: NotRequired[list[str]]
    #: A stage pyrel runs Sphinx for: its pinned inventories, handed to Sphinx as store paths.
    intersphinx: NotRequired[Intersphinx]


class Inventory(TypedDict):
    """A pinned intersphinx inventory: the Nix library fetches it as a fixed-output path."""

    name: str
    target: str
    storeName: str
    url: str
    sha256: str


class Intersphinx(TypedDict):
    """``enabled`` false: `intersphinx = false`, Sphinx loads no remote inventory."""

    enabled: bool
    inventories: list[Inventory]


class Plan(TypedDict):
    """What the Nix library reads (``builtins.fromJSON``); it refuses another ``schemaVersion``."""

    schemaVersion: int
    system: str
    bootstrap: dict[str, str]
    #: The locked ELF loader every stage is given (``storeName``, ``narHash``), or None: no loader.
    loader: NotRequired[dict[str, str] | None]
    patchelf: list[Artifact]
    toolchains: list[Toolchain]
    sourceFiles: list[str]
    #: The repository of the project's git metadata (pywrap.execution.vcs) for the stages with
    #: ``git``, or None when no stage planned has it.
    gitMetadata: NotRequired[str | None]
    stages: list[StagePlan]
    #: nixpkgs provider: the pinned nixpkgs (``url`` + ``sha256``, or a local ``path``).
    nixpkgs: NotRequired[dict[str, str]]


#: Why a built-in stage may be absent: pyrel found nothing it needs, and how to declare it.
BUILTIN_NOT_FOUND = {
    TEST_STAGE: (
        "; a test stage is planned for a tests/, test/ or testing/ tree, test modules (test_*.py) at the top "
        "or in src/, or test requirements: for tests elsewhere (inside the package), declare "
        "[tool.pyrel.stages.test] with run = ['python \"$pyrelTools/stage_tools.py\" test --tests PATH']"
    ),
    DOCS_STAGE: (
        "; a docs stage is planned for a Sphinx conf.py in docs/, doc/, Doc/, docs/source/, doc/source/ or "
        "documentation/, or an MkDocs mkdocs.yml at the top: for another directory, declare "
        "[tool.pyrel.stages.docs] with sphinx-dir = DIR"
    ),
}


def stage_order(project: Project, wanted: Iterable[str]) -> list[Stage]:
    """The wanted stages and the stages they read, inputs first; cycles are an error."""
    order: list[Stage] = []
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ConfigError(
                f"{project.config_file}: stage inputs form a cycle: {cycle}",
                hint="a stage may only read stages that do not read it back",
            )
        try:
            stage = project.stage(name)
        except KeyError:
            raise ConfigError(
                f"no stage named '{name}' in {project.config_file}",
                hint=f"stages: {', '.join(project.stage_names)}" + BUILTIN_NOT_FOUND.get(name, ""),
            ) from None
        visiting.append(name)
        for dependency in stage.inputs:
            visit(dependency)
        visiting.pop()
        done.add(name)
        order.append(stage)

    for name in wanted:
        visit(name)
    return order


def _deb_artifact(entry: DebEntry) -> Artifact:
    return {
        "package": entry.name,
        "versionName": store_name(entry.version),
        "storeName": entry.store_name,
        "url": entry.url,
        "sha256": entry.sha256,
    }


def intersphinx_plan(stage: Stage, entries: Sequence[InventoryEntry]) -> Intersphinx:
    """What nix/tools/sphinx_offline.py reads from ``$PYREL_INTERSPHINX`` (the Nix library adds each path)."""
    return {
        "enabled": stage.intersphinx,
        "inventories": [
            {
                "name": entry.name,
                "target": entry.target,
                "storeName": entry.store_name,
                "url": entry.url,
                "sha256": entry.sha256,
            }
            for entry in entries
        ],
    }


def _wheel_artifact(entry: WheelEntry) -> Artifact:
    return {
        "package": store_name(entry.name),
        "versionName": store_name(entry.version),
        "storeName": entry.store_name,
        "url": entry.url,
        "sha256": entry.sha256,
    }


@functools.cache
def compiler_defaults() -> dict[str, Any]:
    """The hardened build environment's flags (``pywrap/resources/compiler.toml``)."""
    text = importlib.resources.files("pywrap.resources").joinpath("compiler.toml").read_text()
    return tomllib.loads(text)


def c_compiler(system: Iterable[str], architecture: str) -> dict[str, str] | None:
    """The C (and C++) compiler among a stage's locked Debian packages, or None.

    The newest ``gcc-N`` wins if several are locked; ``g++`` counts only in the
    same version, since it runs that version's ``cc1plus``.
    """
    packages = set(system)
    versions = sorted((int(m.group(1)) for name in packages if (m := GCC_PACKAGE.match(name))), reverse=True)
    if not versions:
        return None
    version = versions[0]
    triplet = ARCH_TO_TRIPLET.get(architecture, f"{architecture}-linux-gnu")
    return {
        "cc": f"gcc-{version}",
        "cxx": f"g++-{version}" if f"g++-{version}" in packages else "",
        # Where the driver reads its default `specs` file (root.sh writes one there).
        "libDir": f"usr/lib/gcc/{triplet}/{version}",
    }


def compiler_env(architecture: str, cxx: bool, defaults: Mapping[str, Any] | None = None) -> dict[str, str]:
    """CFLAGS, CXXFLAGS and LDFLAGS with the hardening baseline, for a stage with a compiler.

    CC, CXX and LDSHARED hold the root's store path, so the Nix library adds them.
    """
    flags = defaults if defaults is not None else compiler_defaults()
    compile_flags = [*flags["compile"], *flags.get("compile-arch", {}).get(architecture, [])]
    env = {"CFLAGS": " ".join(compile_flags), "LDFLAGS": " ".join(flags["link"])}
    if cxx:
        env["CXXFLAGS"] = " ".join([*compile_flags, *flags.get("compile-cxx", [])])
    return env


def backend_env(project: Project) -> dict[str, str]:
    """The project's build backend, for pyrel's in-sandbox PEP 517 frontend (``nix/tools/pep517.py``)."""
    if project.build_system is None:
        return {}
    return {
        "PYREL_BUILD_BACKEND": project.build_system.backend,
        "PYREL_BACKEND_PATH": json.dumps(list(project.build_system.backend_path)),
    }


def wheel_env(lock: Lock) -> dict[str, str]:
    """For the stage that builds the project's wheel: the platform tag a compiled wheel gets, the manylinux
    policy of the lock's glibc on its architecture, which auditwheel checks it against."""
    return {"PYREL_PLATFORM_TAG": lock.manylinux_tag}


def toolchain_id(packages: Sequence[DebEntry], python: str) -> str:
    text = json.dumps([[p.name, p.version, p.sha256] for p in packages] + [python])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def derivation_name(project_name: str, stage_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9+\-._?=]", "-", f"{project_name}-{stage_name}").strip(".-")
    return name or stage_name


def source_paths(files: Iterable[str]) -> list[str]:
    """The files and every directory above them: Nix's filter visits directories first."""
    paths: set[str] = set()
    for name in files:
        parts = name.split("/")
        for depth in range(1, len(parts) + 1):
            paths.add("/".join(parts[:depth]))
    return sorted(paths)


def make_plan(
    project: Project,
    lock: Lock,
    stage_names: Iterable[str],
    *,
    bootstrap: Bootstrap,
    source_files: Sequence[str],
    source_date_epoch: int,
    loader: Loader | None = None,
    git_metadata: Path | None = None,
) -> Plan:
    stages = stage_order(project, stage_names)
    python_binary = f"usr/bin/python{lock.python_version}"
    toolchains: dict[str, Toolchain] = {}
    stage_plans: list[StagePlan] = []
    for stage in stages:
        stage_lock = lock.stage(stage.name)
        packages = [lock.package(name) for name in stage_lock.system]
        python = python_binary if stage.python else ""
        identifier = toolchain_id(packages, python)
        compiler = c_compiler(stage_lock.system, lock.architecture)
        toolchains.setdefault(
            identifier,
            {
                "id": identifier,
                "debs": [_deb_artifact(entry) for entry in packages],
                "python": python,
                "compiler": compiler,
                "compile": [f"usr/lib/python{lock.python_version}"] if stage.python else [],
                "drop": list(DROPPED_DIRS),
            },
        )
        if stage_lock.wheels and not stage.python:
            raise ConfigError(
                f"{project.config_file}: stage '{stage.name}' has Python requirements but python = false",
                hint="set python = true or drop its requires",
            )
        stage_plans.append(
            {
                "name": stage.name,
                "derivationName": derivation_name(project.name, stage.name),
                "toolchain": identifier,
                "python": python,
                "wheels": [_wheel_artifact(wheel) for wheel in stage_lock.wheels],
                "inputs": list(stage.inputs),
                "pathDirs": [],
                # pyrel's defaults first (the backend for nix/tools/pep517.py, the compiler's
                # flags): the stage's own env overrides them.
                "compiler": compiler,
                "env": {
                    **(backend_env(project) if stage.python else {}),
                    **(wheel_env(lock) if stage.builds_wheel else {}),
                    **(compiler_env(lock.architecture, bool(compiler["cxx"])) if compiler else {}),
                    **dict(stage.env),
                },
                "sourceDateEpoch": source_date_epoch,
                "run": list(stage.run),
                "outputs": list(stage.outputs),
                "git": stage.git,
                "projectTree": not stage.only_builds_wheel,
                "normalize": not stage.only_builds_wheel,
            }
        )
        if stage.sphinx_dir is not None:
            stage_plans[-1]["intersphinx"] = intersphinx_plan(stage, stage_lock.inventories)
    patchelf_debs = [lock.package(name) for name in lock.bootstrap if name != "busybox-static"]
    return {
        "schemaVersion": PLAN_SCHEMA_VERSION,
        "system": nix_system(lock.architecture),
        "bootstrap": {"storeName": bootstrap.store_name, "narHash": bootstrap.nar_hash},
        "loader": {"storeName": loader.store_name, "narHash": loader.nar_hash} if loader else None,
        "patchelf": [_deb_artifact(entry) for entry in patchelf_debs],
        "toolchains": list(toolchains.values()),
        "sourceFiles": source_paths(source_files),
        "gitMetadata": str(git_metadata) if git_metadata else None,
        "stages": stage_plans,
    }
