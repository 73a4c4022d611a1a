"""`pyrel verify [stage...]`: rebuild each stage and say whether it is reproducible.

The stages are built as `pyrel build` builds them (same plan, same Nix
library), then rebuilt with ``nix-build --check --keep-failed``: Nix rebuilds
each stage's derivation in the sandbox and compares the result with the
output it has.  When they differ it keeps the rebuild as ``<out>.check``, and
pyrel compares the two trees file by file (and the members of archives),
with diffoscope's report when diffoscope is installed.
"""

from __future__ import annotations

import enum
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from pywrap.adapters import diffoscope, nix
from pywrap.config.model import Project
from pywrap.errors import BuildError, CommandFailed
from pywrap.execution.graph import stage_graph, state_dir
from pywrap.release import verify

_DIFFERS = re.compile(r"may not be deterministic: output '(/[^']+)' differs from '(/[^']+)'")
_KEPT_DIRECTORY = re.compile(r"keeping build directory '(/[^']+)'")


class Verdict(enum.Enum):
    REPRODUCIBLE = "reproducible"
    DIFFERS = "differs"
    FAILED = "failed"


@attrs.frozen
class StageCheck:
    stage: str
    verdict: Verdict
    output: str = ""
    rebuilt: str = ""  # the differing rebuild, `<out>.check`
    differences: tuple[verify.Difference, ...] = ()
    #: Per differing archive: the members that differ.
    members: tuple[tuple[str, tuple[verify.Difference, ...]], ...] = ()
    diffoscope: tuple[tuple[str, str], ...] = ()  # (file, report)
    reason: str = ""

    def __bool__(self) -> bool:
        return self.verdict is Verdict.REPRODUCIBLE

    def to_json(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "verdict": self.verdict.value,
            "output": self.output,
            "rebuilt": self.rebuilt or None,
            "differences": [{"file": d.path, "reason": d.reason} for d in self.differences],
            "archive-members": {
                name: [{"member": d.path, "reason": d.reason} for d in found] for name, found in self.members
            },
            "diffoscope": dict(self.diffoscope) if self.diffoscope else None,
            "reason": self.reason,
        }


def parse_check_log(log: str) -> tuple[dict[str, str], list[str]]:
    """From `nix-build --check --keep-failed` stderr: {output: its differing rebuild}, kept build dirs."""
    differing = {match.group(1): match.group(2) for match in _DIFFERS.finditer(log)}
    return differing, _KEPT_DIRECTORY.findall(log)


def _remove_kept_directories(directories: Sequence[str]) -> None:
    """--keep-failed also keeps the build directory; only the rebuilt output is of interest."""
    temporary = Path(tempfile.gettempdir()).resolve()
    for directory in directories:
        path = Path(directory)
        if path.name.startswith("nix-build-") and path.parent.resolve() == temporary:
            shutil.rmtree(path, ignore_errors=True)


def explain(stage: str, output: str, rebuilt: str, *, use_diffoscope: bool = True) -> StageCheck:
    differences = verify.compare_trees(Path(output), Path(rebuilt))
    members = []
    reports = []
    for difference in differences:
        first, second = Path(output, difference.path), Path(rebuilt, difference.path)
        if not (first.is_file() and second.is_file()):
            continue
        found = verify.archive_differences(first, second)
        if found is not None:
            members.append((difference.path, tuple(found)))
        if use_diffoscope and diffoscope.available():
            reports.append((difference.path, diffoscope.compare(first, second)))
    return StageCheck(stage, Verdict.DIFFERS, output, rebuilt, tuple(differences), tuple(members), tuple(reports))


def check_stages(
    project: Project,
    stage_names: Sequence[str],
    *,
    options: nix.NixOptions | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> list[StageCheck]:
    """Build the stages if needed, rebuild each once more, and compare."""
    with stage_graph(project, stage_names, progress=progress) as graph:
        out_link = state_dir(project) / "result"
        progress(f"building {', '.join(stage_names)} (if not built yet)")
        outputs = graph.build(stage_names, options, out_link=out_link)
        progress(f"rebuilding {', '.join(stage_names)} to compare (nix-build --check)")
        log = ""
        try:
            graph.build(
                stage_names, attrs.evolve(options or nix.NixOptions(), keep_failed=True), out_link=out_link, check=True
            )
        except BuildError as error:
            cause = error.__cause__
            log = cause.completed.stderr if isinstance(cause, CommandFailed) else error.log_tail
        derivation_names = {name: graph.derivation_name(name) for name in stage_names}
    differing, kept = parse_check_log(log)
    _remove_kept_directories(kept)
    checks = []
    for name in stage_names:
        output = outputs[name]
        if output in differing:
            progress(f"stage {name} differs: comparing {output} with {differing[output]}")
            checks.append(explain(name, output, differing[output]))
        elif errors := _errors_about(log, derivation_names[name]):
            checks.append(StageCheck(name, Verdict.FAILED, output, reason="the rebuild failed:\n" + errors))
        else:
            checks.append(StageCheck(name, Verdict.REPRODUCIBLE, output))
    return checks


def _errors_about(log: str, derivation_name: str) -> str:
    """Nix's error lines about this stage's derivation (not the summary naming every requested one)."""
    marker = f"-{derivation_name}.drv'"
    lines = [
        line
        for line in log.splitlines()
        if line.startswith("error:") and marker in line and not line.startswith("error: build of ")
    ]
    return "\n".join(lines[-10:])
