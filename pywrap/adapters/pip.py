"""Thin adapter: download pinned wheels with the machine's own pip."""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.utils import parse_wheel_filename

from pywrap.adapters.run import run
from pywrap.errors import CommandFailed, FetchError


def target_options(filename: str, python_version: str) -> list[str]:
    """pip's target flags for a wheel built for another interpreter than the host's.

    pip refuses to download a wheel it could not install here unless told the
    target: the stage's Python version and the wheel's own ABI and platform tags.
    """
    _, _, _, tags = parse_wheel_filename(filename)
    options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version.replace(".", "")]
    for abi in sorted({tag.abi for tag in tags}):
        options += ["--abi", abi]
    for platform in sorted({tag.platform for tag in tags}):
        options += ["--platform", platform]
    return options


def download(url: str, dest_dir: Path, *, filename: str, python_version: str) -> Path:
    """Download the file at ``url`` (a locked wheel) into ``dest_dir``.

    pip honours the machine's index, proxy and certificate configuration; the
    caller verifies the sha256 against the lock.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--dest",
                str(dest_dir),
                *target_options(filename, python_version),
                url,
            ],
            what=f"pip download {url}",
        )
    except CommandFailed as exc:
        raise FetchError(f"pip could not download {url}:\n{exc.completed.stderr.strip()}") from exc
    files = [path for path in dest_dir.iterdir() if path.is_file()]
    if len(files) != 1:
        raise FetchError(f"pip download of {url} left {len(files)} files in {dest_dir}, expected 1")
    return files[0]
