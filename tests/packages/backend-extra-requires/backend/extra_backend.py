"""flit_core, plus requirements only get_requires_for_build_sdist and get_requires_for_build_wheel reveal."""

from flit_core.buildapi import *  # noqa: F403
from flit_core.buildapi import build_sdist as _flit_build_sdist
from flit_core.buildapi import build_wheel as _flit_build_wheel


def get_requires_for_build_sdist(config_settings=None):
    return ["tomli-w>=1.0"]


def build_sdist(sdist_directory, config_settings=None):
    import tomli_w  # proves the extra requirement reached the sandbox

    assert tomli_w.dumps({"ok": True})
    return _flit_build_sdist(sdist_directory, config_settings)


def get_requires_for_build_wheel(config_settings=None):
    return ["iniconfig>=2"]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    import iniconfig  # proves the wheel stage got what the backend asked for, and only it

    assert iniconfig.IniConfig
    return _flit_build_wheel(wheel_directory, config_settings, metadata_directory)
