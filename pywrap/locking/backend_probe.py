"""Ask the build backend, inside the sandbox, what it needs beyond build-system.requires.

PEP 517's ``get_requires_for_build_sdist`` can only be answered by running the
backend.  ``pyrel lock`` does that hermetically: it builds a one-off variant of
the source stage, with the toolchain and wheels just resolved, whose only
command calls the hook and writes the answer as JSON.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pywrap.config.model import SOURCE_STAGE, Project
from pywrap.errors import BuildError, LockError
from pywrap.locking.lockfile import Lock, WheelEntry

#: The probe's answers, one file per distribution: the sdist's must come, the wheel's may fail.
PROBE_OUTPUTS = {"sdist": "requires-sdist.json", "wheel": "requires-wheel.json"}


def probe_stage_project(project: Project) -> Project:
    """The project with its source stage replaced by the probe: one fresh interpreter per hook."""
    stage = project.stage(SOURCE_STAGE)
    probe = attrs.evolve(
        stage,
        run=(
            f'python "$pyrelTools/pep517.py" requires sdist "$out/{PROBE_OUTPUTS["sdist"]}"',
            f'python "$pyrelTools/pep517.py" requires wheel "$out/{PROBE_OUTPUTS["wheel"]}" --optional',
        ),
        outputs=(PROBE_OUTPUTS["sdist"],),
        inputs=(),
    )
    return attrs.evolve(project, stages=(probe,))


def backend_requires(project: Project, lock: Lock, progress: Callable[[str], None]) -> tuple[list[str], list[str]]:
    """The backend's extra requirements for building an sdist, and for a wheel (either may be empty).

    ``lock``: the lock being made (not written yet, so not checked for freshness).
    """
    from pywrap.execution.graph import stage_graph  # the lock-time probe is a one-off build

    progress("asking the build backend for its sdist requirements (in the sandbox)")
    with (
        tempfile.TemporaryDirectory(prefix="pyrel-probe-") as scratch,
        stage_graph(
            probe_stage_project(project),
            [SOURCE_STAGE],
            lock=lock,
            check_lock=False,
            plan_file=Path(scratch) / "plan.json",
            progress=progress,
        ) as graph,
    ):
        try:
            output = graph.build([SOURCE_STAGE], out_link=Path(scratch) / "result")[SOURCE_STAGE]
        except BuildError as exc:
            # The same failure will stop `pyrel build source`, which shows the log
            # and leaves dist/ alone; the lock of build-system.requires stands.
            progress(
                "warning: the build backend failed when asked for its sdist requirements; "
                "locked build-system.requires only. Its log ends with:\n" + exc.log_tail[-2000:]
            )
            return [], []
        sdist = probe_requirements(json.loads((Path(output) / PROBE_OUTPUTS["sdist"]).read_text()))
        wheel_answer = Path(output) / PROBE_OUTPUTS["wheel"]
        wheel = probe_requirements(json.loads(wheel_answer.read_text())) if wheel_answer.is_file() else []
    return sdist, wheel


def probe_requirements(answer: object) -> list[str]:
    """The requirements one of the probe's answers lists (a JSON list of strings)."""
    if not isinstance(answer, list) or not all(isinstance(item, str) for item in answer):
        raise LockError(f"the requirements probe returned {answer!r}, not a list of requirements")
    return sorted(set(answer))


def unsatisfied(requirements: Sequence[str], wheels: Sequence[WheelEntry], python_full_version: str) -> list[str]:
    """Requirements that the locked wheels do not satisfy on the target interpreter."""
    environment = {key: str(value) for key, value in default_environment().items()}
    environment |= {
        "python_full_version": python_full_version,
        "python_version": ".".join(python_full_version.split(".")[:2]),
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
    }
    locked = {canonicalize_name(wheel.name): wheel.version for wheel in wheels}
    missing = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise LockError(f"the build backend asked for an invalid requirement {text!r}: {exc}") from exc
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(text)
    return missing
