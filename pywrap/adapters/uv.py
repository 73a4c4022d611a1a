"""Thin adapter: resolve Python requirements to a PEP 751 lock with uv."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pywrap.adapters.run import require_tool, run
from pywrap.errors import CommandFailed, ResolutionError

INSTALL_HINT = "uv is a dependency of pyrel: reinstall pyrel (`pip install .`) or `pip install uv`"


def uv_binary() -> str:
    """The uv that came with pyrel (the `uv` package installs it beside pyrel's interpreter,
    which need not be on PATH: `.venv/bin/pyrel` run without activating the venv), else PATH's."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return require_tool("uv", INSTALL_HINT)
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return require_tool("uv", INSTALL_HINT)


#: uv's own words for a package it may not build (--no-build) and that has no wheel it can use.
_NO_WHEEL = (
    re.compile(r"Wheels are required for `([^`]+)`"),
    # The name, then uv's version range ("==3.0.1", ">=1.16.11", "<=0.5.0"): never a version itself.
    re.compile(r"(?<![\w.<>=!~-])([A-Za-z0-9][A-Za-z0-9._-]*)(?:[<>=!~]=?[^\s,]+)? (?:has|have) no usable wheels"),
)


def compile_pylock(
    requirements: Sequence[str],
    *,
    python_version: str,
    platform: str,
    output: Path,
    what: str,
    exclude_newer: str | None = None,
    exclude_newer_exempt: Sequence[str] = (),
    constraints: Sequence[str] = (),
    options: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> None:
    """Resolve ``requirements`` for the target interpreter and platform into ``output``.

    uv resolves for a Python and platform that need not exist on the host, and
    writes PEP 751 directly with every file's size and sha256.  It never builds
    anything (``--no-build``): a package's metadata comes from its wheels, so no
    build backend, the project's or a dependency's, runs on the host.
    ``requirements`` and ``constraints`` are plain requirement lines (never a
    path or URL: uv would build it here), ``options`` index options such as
    ``--extra-index-url URL``; the packages of ``exclude`` (the project itself,
    which its stage builds) are left out of the resolution, never fetched.  ``exclude_newer_exempt``
    names packages resolved without the ``exclude_newer`` date.
    """
    uv = uv_binary()
    inputs = {
        output.with_name(output.name + ".in"): [*options, *requirements],
        output.with_name(output.name + ".constraints.in"): list(constraints),
        # An override that never applies removes the package from the resolution (uv's documented
        # way to drop a dependency): a dependency on the project resolves to nothing from the index.
        output.with_name(output.name + ".exclude.in"): [f"{name} ; sys_platform == 'never'" for name in exclude],
    }
    requirements_in, constraints_in, exclude_in = inputs
    for file, lines in inputs.items():
        file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    try:
        run(
            [
                uv,
                "pip",
                "compile",
                str(requirements_in),
                "--python-version",
                python_version,
                "--python-platform",
                platform,
                "--no-build",
                "--generate-hashes",
                "--no-header",
                "--quiet",
                "--format",
                "pylock.toml",
                *(["--constraints", str(constraints_in)] if constraints else []),
                *(["--overrides", str(exclude_in)] if exclude else []),
                *(["--exclude-newer", exclude_newer] if exclude_newer else []),
                *(
                    argument
                    for name in (exclude_newer_exempt if exclude_newer else ())
                    for argument in ("--exclude-newer-package", f"{name}=false")
                ),
                "-o",
                str(output),
            ],
            what=f"resolving {what}",
        )
    except CommandFailed as exc:
        stderr = exc.completed.stderr.strip()
        without_wheel = list(dict.fromkeys(match for pattern in _NO_WHEEL for match in pattern.findall(stderr)))
        if without_wheel:
            names = ", ".join(f"'{name}'" for name in without_wheel)
            raise ResolutionError(
                f"cannot resolve the Python requirements of {what}: {names} "
                f"{'has' if len(without_wheel) == 1 else 'have'} no wheel for Python {python_version} on "
                f"{platform} (pyrel installs wheels only, and never builds a package on the host to read its "
                f"metadata)\n{stderr}",
                hint=f"require a version of {names} that publishes a wheel for Python {python_version}, "
                "or versions of what requires it that do not",
            ) from exc
        raise ResolutionError(
            f"cannot resolve the Python requirements of {what}: {', '.join(requirements)}\n{stderr}",
            hint=f"check the requirement names and versions (and that they support Python {python_version})",
        ) from exc
    finally:
        for file in inputs:
            file.unlink(missing_ok=True)
