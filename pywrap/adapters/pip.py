"""Thin adapter: download pinned wheels with the machine's own pip."""

from __future__ import annotations

import sys
from pathlib import Path

from pywrap.adapters.run import CommandFailed, run
from pywrap.errors import FetchError


def download(url: str, dest_dir: Path) -> Path:
    """Download the file at ``url`` (a locked wheel) into ``dest_dir``.

    pip honours the machine's index, proxy and certificate configuration; the
    caller verifies the sha256 against the lock.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation",
             "--quiet", "--dest", str(dest_dir), url],
            what=f"pip download {url}",
        )
    except CommandFailed as exc:
        raise FetchError(f"pip could not download {url}:\n{exc.completed.stderr.strip()}") from exc
    files = [path for path in dest_dir.iterdir() if path.is_file()]
    if len(files) != 1:
        raise FetchError(f"pip download of {url} left {len(files)} files in {dest_dir}, expected 1")
    return files[0]
