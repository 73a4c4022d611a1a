"""Put a wheel's programs on the stage's PATH: ``python console_scripts.py SITE BIN``.

An installer would write these; pyrel unpacks wheels, so it writes them here
(python-env.sh, once per wheel, into the stage's Python environment):

* wrappers for the console scripts of the wheel's ``entry_points.txt``, with
  the stage's own interpreter in the shebang.  Tests call tools such as `mypy`
  or a project's own CLI by name;
* the wheel's ``.data/scripts`` (unpack-wheel.sh keeps them in the unpacked
  wheel's ``bin/``, beside ``SITE``).  A script whose ``#!`` names a Python
  (``#!python``, which PEP 427 asks installers to rewrite, or
  ``#!/usr/bin/env python3``: the sandbox has no /usr/bin/env) gets the stage's
  interpreter; anything else is linked as it is: a static program (maturin's),
  a ``#!/bin/sh`` script, and a manylinux program (ruff's, ninja's), which asks
  for the standard ELF loader: pyrel mounts the locked one there, and the
  stage's LD_LIBRARY_PATH holds the root's libraries (nix/lib.nix, loaderEnv).
  Started as itself, not through the loader, such a program finds its own
  files beside ``/proc/self/exe`` (cmake's modules).
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


def write_data_scripts(scripts_dir: str, bin_dir: str) -> list[str]:
    """The wheel's ``.data/scripts`` in ``bin_dir``, each made runnable in the sandbox; their names."""
    if not os.path.isdir(scripts_dir):
        return []
    written = []
    os.makedirs(bin_dir, exist_ok=True)
    for name in sorted(os.listdir(scripts_dir)):
        source = os.path.join(scripts_dir, name)
        if not os.path.isfile(source):
            continue
        target = os.path.join(bin_dir, name)
        if os.path.lexists(target):
            os.remove(target)  # an installer overwrites a console script of the same name too
        first_line = _first_line(source)
        python_args = _python_shebang(first_line)
        if python_args is not None:
            with open(source, "rb") as original, open(target, "wb") as script:
                original.readline()
                script.write(f"#!{sys.executable}{python_args}\n".encode())
                script.write(original.read())
            os.chmod(target, 0o755)
        else:
            os.symlink(source, target)
        written.append(name)
    return written


def _first_line(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.readline(4096).rstrip(b"\r\n")


def _python_shebang(line: bytes) -> str | None:
    """The arguments after a Python interpreter the shebang names (``""`` if none), or None: not Python's."""
    if not line.startswith(b"#!"):
        return None
    words = line[2:].decode("utf-8", "replace").split()
    if words and words[0] == "/usr/bin/env":
        words = words[2:] if words[1:2] == ["-S"] else words[1:]
    if not words or not os.path.basename(words[0]).startswith("python"):
        return None
    return "".join(f" {word}" for word in words[1:])


if __name__ == "__main__":
    site, bin_dir = sys.argv[1], sys.argv[2]
    write_console_scripts(site, bin_dir)
    write_data_scripts(os.path.join(os.path.dirname(site), "bin"), bin_dir)
