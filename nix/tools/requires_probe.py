"""Ask the project's build backend what else it needs (PEP 517's
get_requires_for_build_<dist>), inside the sandbox with the locked frontend.

Run by ``pyrel lock`` as a one-off stage: ``python requires_probe.py sdist OUT``.
"""

from __future__ import annotations

import json
import sys

from build import ProjectBuilder


def main(distribution: str, output: str) -> None:
    builder = ProjectBuilder(".")
    requires = sorted(builder.get_requires_for_build(distribution))
    with open(output, "w", encoding="utf-8") as stream:
        json.dump({"build-system": sorted(builder.build_system_requires), distribution: requires}, stream)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
