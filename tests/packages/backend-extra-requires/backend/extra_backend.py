"""flit_core, plus a requirement only get_requires_for_build_sdist reveals."""

from flit_core.buildapi import *  # noqa: F403
from flit_core.buildapi import build_sdist as _flit_build_sdist


def get_requires_for_build_sdist(config_settings=None):
    return ["tomli-w>=1.0"]


def build_sdist(sdist_directory, config_settings=None):
    import tomli_w  # proves the extra requirement reached the sandbox

    assert tomli_w.dumps({"ok": True})
    return _flit_build_sdist(sdist_directory, config_settings)
