"""Test hooks: deterministic points where the test suite stops pyrel to kill it.

``PYREL_TEST_PAUSE_AT=fetch|build|export`` makes pyrel, on reaching that step,
create the file named by ``PYREL_TEST_PAUSE_FILE`` (if set), print a notice and
sleep (``PYREL_TEST_PAUSE_SECONDS``, default 60) so that a test can send
SIGINT or SIGKILL at a known moment:

* ``fetch``  -- an artifact is downloaded into the cache's scratch directory, not yet moved in;
* ``build``  -- nix-build is running and has started building a derivation;
* ``export`` -- a stage's new dist/ directory is assembled beside the old one, not yet swapped in.

Only the test suite sets these; pyrel never sets them, and each pause is
announced on stderr so it cannot go unnoticed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_paused: set[str] = set()


def pause(step: str) -> None:
    """Pause at ``step`` once per run, if the test suite asked for it."""
    if os.environ.get("PYREL_TEST_PAUSE_AT") != step or step in _paused:
        return
    _paused.add(step)
    print(f"pyrel: TEST HOOK: pausing at {step} (PYREL_TEST_PAUSE_AT)", file=sys.stderr, flush=True)
    marker = os.environ.get("PYREL_TEST_PAUSE_FILE")
    if marker:
        Path(marker).write_text(f"{os.getpid()} {step}\n")
    time.sleep(float(os.environ.get("PYREL_TEST_PAUSE_SECONDS", "60")))
