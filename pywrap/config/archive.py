"""Where the Debian archive is read from: the project's keys, the per-user configuration, the host.

Three settings, each in ``[tool.pyrel]`` (or ``pyrel.toml``) or in the per-user file
``$XDG_CONFIG_HOME/pyrel/config.toml`` (``~/.config/pyrel/config.toml``; ``$PYREL_CONFIG``
names another file):

* ``debian-mirror``: the archive ``pyrel lock`` reads, a URL or a list of them, each
  optionally followed by the suites to read there (``"URL bookworm bookworm-updates"``).
  Without it, the host's apt sources name the mirrors (read as files: apt never runs).
* ``debian-keyring``: OpenPGP keyrings whose keys may sign an archive's ``InRelease``, in
  addition to the Debian archive keys pyrel ships (``pywrap/resources/keyrings``).
* ``debian-snapshot``: the base URL of a snapshot archive (``<base>/archive/<archive>/<date>/``),
  where ``pyrel build`` looks for a locked ``.deb`` its mirror no longer has.

The project's value wins over the user's; keyrings from both are used.  A relative
keyring path is relative to the file that names it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from pywrap.errors import ConfigError

#: The keys of the per-user file, and the same keys' types in [tool.pyrel].
ARCHIVE_KEYS: dict[str, type | tuple[type, ...]] = {
    "debian-mirror": (str, list),
    "debian-keyring": (str, list),
    "debian-snapshot": str,
}
URL_SCHEMES = ("http://", "https://", "file://")


@attrs.frozen
class ArchiveConfig:
    """The archive settings of one file (the project's configuration, or the user's)."""

    mirrors: tuple[str, ...] = ()
    keyrings: tuple[Path, ...] = ()
    snapshot: str = ""
    #: The file they were read from, for messages.
    source: str = ""


@attrs.frozen
class ArchiveSettings:
    """What locking and fetching use: the project's settings laid over the user's."""

    mirrors: tuple[str, ...]
    #: Where ``mirrors`` came from ("" when neither file names one: the host's apt sources then).
    mirror_source: str
    keyrings: tuple[Path, ...]
    snapshot: str
    snapshot_source: str


def user_config_file() -> Path:
    explicit = os.environ.get("PYREL_CONFIG")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "pyrel" / "config.toml"


def _strings(value: Any, file: Path, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item.strip() for item in items):
        raise ConfigError(f"{file}: '{key}' must be a string or a list of non-empty strings, got {value!r}")
    return tuple(item.strip() for item in items)


def _url(text: str, file: Path, key: str) -> str:
    if not text.startswith(URL_SCHEMES) or len(text) <= len(text.split("//", 1)[0]) + 2:
        raise ConfigError(f"{file}: '{key}' = {text!r} is not a URL", hint="write an http://, https:// or file:// URL")
    return text.rstrip("/")


def parse_archive_config(table: Mapping[str, Any], file: Path, where: str, base: Path) -> ArchiveConfig:
    """The archive keys of ``table`` (already checked for unknown keys); paths relative to ``base``."""
    mirrors: list[str] = []
    for entry in _strings(table.get("debian-mirror", []), file, f"{where}debian-mirror"):
        url, *suites = entry.split()
        mirrors.append(" ".join([_url(url, file, f"{where}debian-mirror"), *suites]))
    keyrings = tuple(base / path for path in _strings(table.get("debian-keyring", []), file, f"{where}debian-keyring"))
    snapshot = table.get("debian-snapshot", "")
    if not isinstance(snapshot, str):
        raise ConfigError(f"{file}: '{where}debian-snapshot' must be a string, got {snapshot!r}")
    return ArchiveConfig(
        tuple(mirrors), keyrings, _url(snapshot, file, f"{where}debian-snapshot") if snapshot else "", str(file)
    )


def load_user_config(file: Path | None = None) -> ArchiveConfig:
    """The per-user file's settings (none if it does not exist)."""
    path = file or user_config_file()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ArchiveConfig()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read pyrel's per-user configuration: {exc}") from exc
    unknown = sorted(set(table) - ARCHIVE_KEYS.keys())
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {', '.join(repr(key) for key in unknown)}",
            hint=f"the per-user configuration has {', '.join(ARCHIVE_KEYS)}",
        )
    return parse_archive_config(table, path, "", path.parent)


def archive_settings(project: ArchiveConfig, user: ArchiveConfig | None = None) -> ArchiveSettings:
    """``project``'s settings laid over the user's (read from the per-user file unless given)."""
    user = load_user_config() if user is None else user
    mirror_from = project if project.mirrors else user
    snapshot_from = project if project.snapshot else user
    return ArchiveSettings(
        mirrors=mirror_from.mirrors,
        mirror_source=mirror_from.source if mirror_from.mirrors else "",
        keyrings=(*project.keyrings, *user.keyrings),
        snapshot=snapshot_from.snapshot,
        snapshot_source=snapshot_from.source if snapshot_from.snapshot else "",
    )
