"""Ask the project's build backend what else it needs (PEP 517's
get_requires_for_build_<dist>), inside the sandbox with the locked frontend.

Run by ``pyrel lock`` as a one-off stage: ``python requires_probe.py sdist OUT``.
It also asks for the wheel (the docs and test stages build one), which may fail
without failing the probe: that answer is then left out.
"""

from __future__ import annotations

import json
import sys

from build import BuildBackendException, ProjectBuilder


def main(distribution: str, output: str) -> None:
    builder = ProjectBuilder(".")
    answer = {"build-system": sorted(builder.build_system_requires),
              distribution: sorted(builder.get_requires_for_build(distribution))}
    if distribution == "sdist":
        try:
            answer["wheel"] = sorted(builder.get_requires_for_build("wheel"))
        except BuildBackendException as exc:
            print(f"pyrel: the backend could not say what a wheel build needs: {exc}", file=sys.stderr)
    with open(output, "w", encoding="utf-8") as stream:
        json.dump(answer, stream)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
