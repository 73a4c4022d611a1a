"""The config parser and the lock reader, fuzzed: every malformed input ends in a clean
ConfigError or LockError (what the user reads), never another exception."""

from __future__ import annotations

import contextlib
import copy
import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pywrap.config.loader import build_project, load_project
from pywrap.errors import ConfigError, LockError
from pywrap.locking.lockfile import LOCK_FILE, lock_from_toml, read_lock, read_pylock

SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.sampled_from(["", "*", "60 MB", "build", "source", "../x", "/etc", "${x}"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "provider",
    "debian-suite",
    "source-date-epoch",
    "exclude-newer",
    "stages",
    "python",
    "system",
    "requires",
    "requires-file",
    "inputs",
    "run",
    "outputs",
    "env",
    "budget",
    "compiler",
    "status-file",
    "packages",
    "bytes",
    "sphinx-dir",
    "builders",
    "source",
    "docs",
    "test",
    "custom",
]

PYPROJECT = {
    "build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"},
    "project": {"name": "demo", "version": "1.0"},
}
CONFIG: dict[str, Any] = {
    "stages": {
        "source": {"requires": ["build", "flit_core>=3.4"], "budget": {"packages": 25, "bytes": "60 MB"}},
        "custom": {"run": ["echo hi > $out/x"], "outputs": ["x"], "inputs": ["source"], "env": {"A": "1"}},
    }
}


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with a few values replaced, keys removed or keys added, anywhere in it."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [path for path in _paths(document) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = draw(values)
    return document


@SETTINGS
@given(mutated(CONFIG))
def test_a_malformed_config_is_a_config_error(config: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with contextlib.suppress(ConfigError):
            build_project(root, root / "pyproject.toml", PYPROJECT, config)


@SETTINGS
@given(mutated({"tool": {"pyrel": CONFIG}, **PYPROJECT}))
def test_a_malformed_pyproject_is_a_config_error(pyproject: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "pyproject.toml").write_text(tomli_w.dumps(pyproject))
        with contextlib.suppress(ConfigError):
            load_project(root)


@SETTINGS
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda data: data.decode("latin-1"))))
def test_any_text_as_pyproject_is_a_project_or_a_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "pyproject.toml").write_bytes(text.encode("utf-8", "surrogateescape"))
        with contextlib.suppress(ConfigError):
            load_project(root)


DEB = {
    "name": "busybox-static",
    "version": "1:1.35.0-4+b3",
    "architecture": "amd64",
    "sha256": "a" * 64,
    "size": 1000,
    "filename": "busybox-static_1.35.0-4+b3_amd64.deb",
    "url": "file:///nowhere/busybox.deb",
    "depends": [],
    "source": "busybox",
}
LOCK: dict[str, Any] = {
    "lock-version": 1,
    "provider": "debian",
    "debian": {
        "suite": "bookworm",
        "architecture": "amd64",
        "python": "3.11",
        "python-full-version": "3.11.2",
        "glibc": "2.36",
        "bootstrap": ["busybox-static"],
        "packages": [DEB],
    },
    "stages": {
        "source": {
            "fingerprint": "f" * 64,
            "system": ["busybox-static"],
            "python-lock": "",
            "python-lock-sha256": "",
            "backend-requires": ["flit_core"],
        }
    },
}


def test_the_base_lock_reads() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        assert lock_from_toml(LOCK, Path(scratch)).stages[0].name == "source"


@SETTINGS
@given(mutated(LOCK))
def test_a_malformed_lock_is_a_lock_error(document: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch, contextlib.suppress(LockError):
        lock_from_toml(document, Path(scratch))


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_the_lock_file_is_a_lock_or_a_lock_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / LOCK_FILE).write_text(text)
        with contextlib.suppress(LockError):
            read_lock(root)


PYLOCK: dict[str, Any] = {
    "lock-version": "1.0",
    "packages": [
        {
            "name": "build",
            "version": "1.2.2",
            "wheels": [
                {
                    "name": "build-1.2.2-py3-none-any.whl",
                    "url": "file:///nowhere/build-1.2.2-py3-none-any.whl",
                    "hashes": {"sha256": "b" * 64},
                    "size": 10,
                }
            ],
        }
    ],
}


@SETTINGS
@given(mutated(PYLOCK))
def test_a_malformed_pylock_is_a_lock_error(document: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "pylock.source.toml"
        path.write_text(tomli_w.dumps(document))
        with contextlib.suppress(LockError):
            read_pylock(path, "3.11", "x86_64-manylinux_2_36")
