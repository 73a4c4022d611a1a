"""Thin adapter: Nix's own binary caches, signing keys and stores.

pyrel schedules nothing itself: builds scale out with Nix's remote builders
(``--builders``, ``--max-jobs``) and share results through binary caches
(``file://``, ``s3://``, ...), each signed with a key from
``nix-store --generate-binary-cache-key``.  ``nix copy`` needs the
experimental CLI on Nix 2.8, enabled per call, never in the user's config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import attrs

from pywrap.adapters.run import require_tool, run
from pywrap.errors import CacheError

INSTALL_HINT = "install Nix: `sudo apt-get install nix-bin` on Debian/Ubuntu (or the official installer)"
EXPERIMENTAL = ("--extra-experimental-features", "nix-command")
#: The environment variable every Nix command reads its default store from.
STORE_VARIABLE = "NIX_REMOTE"


def use_store(store: str) -> None:
    """Point every Nix command this process starts at ``store``.

    A directory is a local *chroot store*: its paths are named ``/nix/store/...``
    but live under ``<dir>/nix/store``, and builds there use the sandbox as usual.
    """
    os.environ[STORE_VARIABLE] = store


def store_root() -> str:
    """Where the current store's ``/nix/store`` lives on this machine ('' for the default store)."""
    store = os.environ.get(STORE_VARIABLE, "")
    if store.startswith("/"):
        return store.rstrip("/")
    if store.startswith("local?"):
        match = re.search(r"(?:^|[?&])root=([^&]+)", store)
        return match.group(1).rstrip("/") if match else ""
    return ""


def this_machines_store() -> bool:
    """Whether Nix commands use this machine's own ``/nix/store`` (directly or through its daemon)."""
    return os.environ.get(STORE_VARIABLE, "") in ("", "auto", "daemon", "local")


def real_path(store_path: str) -> Path:
    """The file of ``store_path`` on this machine (inside a chroot store, if one is used)."""
    return Path(store_root() + store_path)


def generate_key(name: str, secret_file: Path, public_file: Path) -> str:
    """A new signing key pair; returns the public key (``name:base64``)."""
    nix_store = require_tool("nix-store", INSTALL_HINT)
    for path in (secret_file, public_file):
        if path.exists():
            raise CacheError(f"{path} exists; pyrel never overwrites a key", hint="choose another file name")
        path.parent.mkdir(parents=True, exist_ok=True)
    run(
        [nix_store, "--generate-binary-cache-key", name, str(secret_file), str(public_file)],
        what="nix-store --generate-binary-cache-key",
    )
    secret_file.chmod(0o600)
    return public_file.read_text().strip()


def _with_parameter(url: str, name: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{name}={value}"


@attrs.frozen
class CopyReport:
    store_url: str
    paths: tuple[str, ...]
    log: str


def copy_to(store_url: str, paths: Sequence[str], *, secret_key_file: Path | None) -> CopyReport:
    """``nix copy --to``: ``paths`` and their closures, signed in the cache with ``secret_key_file``."""
    nix = require_tool("nix", INSTALL_HINT)
    target = store_url
    if secret_key_file is not None:
        target = _with_parameter(store_url, "secret-key", str(secret_key_file.resolve()))
    result = run([nix, *EXPERIMENTAL, "copy", "--to", target, *paths], what="nix copy", check=False)
    if result.returncode != 0:
        raise CacheError(
            f"cannot copy to {store_url}:\n{result.stderr.strip()}",
            hint="check the URL and that the key file is a secret key from `pyrel keygen`",
        )
    return CopyReport(store_url, tuple(paths), result.stderr)
