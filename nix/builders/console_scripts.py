"""Write wrappers for a wheel's console scripts: ``python console_scripts.py SITE BIN``.

An installer would write these; pyrel unpacks wheels, so it writes them here,
with the stage's own interpreter in the shebang.  Tests call tools such as
`mypy` or a project's own CLI by name.
"""

from __future__ import annotations

import configparser
import glob
import os
import sys


def write_console_scripts(site: str, bin_dir: str) -> None:
    for entry_points in sorted(glob.glob(os.path.join(site, "*.dist-info", "entry_points.txt"))):
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(entry_points, encoding="utf-8")
        if not parser.has_section("console_scripts"):
            continue
        os.makedirs(bin_dir, exist_ok=True)
        for name, target in parser.items("console_scripts"):
            module, _, attribute = target.split("[")[0].strip().partition(":")
            head = attribute.split(".")[0] or module.split(".")[-1]
            call = attribute or "main"
            path = os.path.join(bin_dir, name)
            with open(path, "w", encoding="utf-8") as script:
                script.write(f"#!{sys.executable}\nimport sys\nfrom {module} import {head}\nsys.exit({call}())\n")
            os.chmod(path, 0o755)


if __name__ == "__main__":
    write_console_scripts(sys.argv[1], sys.argv[2])
