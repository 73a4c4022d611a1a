"""flit_core, leaving a mark wherever it runs with PYREL_FIXTURE_BACKEND_MARKER set: the test sets it
for pyrel lock, whose processes on the host inherit it; a Nix sandbox's do not."""

import os

from flit_core.buildapi import *  # noqa: F403

_MARKER = os.environ.get("PYREL_FIXTURE_BACKEND_MARKER")
if _MARKER:
    with open(_MARKER, "a") as marker:
        marker.write(f"the build backend ran in {os.getcwd()} (pid {os.getpid()})\n")
