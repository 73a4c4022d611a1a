"""Sphinx without the network: intersphinx inventories come from the lock, never from a download.

Static part of pyrel's Nix library, run by a Sphinx stage's own pinned Python:

    python "$pyrelTools/sphinx_offline.py" probe --sphinx-dir docs OUT.json
    python "$pyrelTools/sphinx_offline.py" build SPHINX-BUILD-ARGUMENTS...

``probe`` runs at lock time, in a one-off stage of the docs stage's toolchain:
conf.py is code, so it is run here, in the sandbox, never on the host.  It runs
the way Sphinx runs it (``__file__`` and ``tags`` set, in its directory) and
writes each entry of its ``intersphinx_mapping`` as JSON: the mapping key, the
target URI links point to, and every inventory location Sphinx would try, in
order.  A conf.py that cannot run before the project is installed (it imports
the project, or asks for its version) is read as text instead: the mapping must
then be a literal.  ``pyrel lock`` downloads each remote inventory on the host
and pins it by sha256.

``build`` is ``python -m sphinx`` with one more built-in extension (this
module), which rewrites ``intersphinx_mapping`` before Sphinx's intersphinx
reads it: each pinned entry keeps its target URI (links point where they
always did) and loads its inventory from the store path the Nix library hands
over in ``$PYREL_INTERSPHINX``.  A remote entry the lock does not pin is an
error that says to run ``pyrel lock``; with ``intersphinx = false`` remote
entries are dropped, said loudly.  No entry can make Sphinx download anything.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import posixpath
import sys
import traceback
from collections.abc import Mapping
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
#: The name Sphinx imports this module by (registered in sys.modules before Sphinx starts).
EXTENSION = "pyrel_sphinx_offline"
#: The plan's intersphinx settings of the stage: {"enabled": bool, "inventories": [{name, target, url, path}]}.
SETTINGS_VARIABLE = "PYREL_INTERSPHINX"
INVENTORY_FILENAME = "objects.inv"
PROBE_SCHEMA_VERSION = 1


def is_remote(location: str) -> bool:
    """Sphinx's own test: a location with ``://`` is downloaded, anything else is a file under the source dir."""
    return "://" in location


def split_entry(key: object, value: object) -> tuple[str, object, bool] | None:
    """``(target, inventory locations, new format)`` of one mapping entry, or None if Sphinx would refuse it.

    ``{name: (target, inventories)}`` is the format of Sphinx 8 and later; ``{target: inventories}``
    the older one, still read the way Sphinx 7 reads it.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or not isinstance(value[0], str) or not value[0]:
            return None
        return value[0], value[1], True
    if not isinstance(key, str) or not key:
        return None
    return key, value, False


def locations_of(target: str, inventories: object) -> list[str] | None:
    """Every location Sphinx tries for an entry, in order (None -> ``<target>/objects.inv``), or None if invalid."""
    items = list(inventories) if isinstance(inventories, (tuple, list)) else [inventories]
    locations = []
    for item in items:
        if item is None:
            locations.append(posixpath.join(target, INVENTORY_FILENAME))
        elif isinstance(item, str) and item:
            locations.append(item)
        else:
            return None
    return locations


# --- probe: the mapping, read in the sandbox ------------------------------------------


def _tags() -> object:
    try:
        from sphinx.util.tags import Tags  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return Tags()


def run_conf(conf: str) -> dict[str, Any]:
    """conf.py's namespace, run as Sphinx runs it: in its directory, with ``__file__`` and ``tags``.

    The project's tree (the stage's working copy) and its ``src/`` come last on ``sys.path``: a
    conf.py that imports a pure-Python project finds it there before the wheel exists.
    """
    for directory in (os.getcwd(), os.path.join(os.getcwd(), "src")):
        if os.path.isdir(directory) and directory not in sys.path:
            sys.path.append(directory)
    namespace: dict[str, Any] = {"__file__": conf, "__name__": "conf", "tags": _tags()}
    previous = os.getcwd()
    os.chdir(os.path.dirname(conf))
    try:
        with open(conf, "rb") as stream:
            code = compile(stream.read(), conf, "exec")
        exec(code, namespace)
    finally:
        os.chdir(previous)
    return namespace


def literal_mapping(conf: str) -> tuple[object, str]:
    """``intersphinx_mapping`` read from conf.py's text, and why not if it is not a literal."""
    with open(conf, "rb") as stream:
        tree = ast.parse(stream.read(), conf)
    value: object = {}
    assigned = 0
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign) and node.value is not None
            else []
        )
        if any(isinstance(target, ast.Name) and target.id == "intersphinx_mapping" for target in targets):
            assert isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None, f"line {node.lineno}: intersphinx_mapping is computed, not a literal"
            assigned += 1
    uses = sum(1 for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "intersphinx_mapping")
    if uses > assigned:
        return None, "intersphinx_mapping is changed after it is assigned (not a plain literal)"
    return value, ""


def probe_entries(mapping: object, source_dir: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The entries as ``pyrel lock`` reads them, and the entries Sphinx would refuse (it would download nothing)."""
    if mapping is None:
        return [], []
    if not isinstance(mapping, Mapping):
        return [], [f"intersphinx_mapping is a {type(mapping).__name__}, not a dict"]
    entries, invalid = [], []
    for key, value in mapping.items():
        split = split_entry(key, value)
        locations = locations_of(split[0], split[1]) if split else None
        if split is None or locations is None:
            invalid.append(f"{key!r}: {value!r}")
            continue
        entries.append(
            {
                "name": str(key),
                "target": split[0],
                "locations": locations,
                # A local inventory Sphinx would read first: nothing to download.
                "local-files": [
                    not is_remote(location) and os.path.isfile(os.path.join(source_dir, location))
                    for location in locations
                ],
            }
        )
    return entries, invalid


def probe(arguments: argparse.Namespace) -> None:
    source_dir = os.path.abspath(arguments.sphinx_dir)
    conf = os.path.join(source_dir, "conf.py")
    answer: dict[str, Any] = {"schema-version": PROBE_SCHEMA_VERSION, "method": "conf.py", "note": "", "error": ""}
    try:
        mapping = run_conf(conf).get("intersphinx_mapping")
    except BaseException as exc:  # conf.py's own error, whatever it is; SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        print(
            f"pyrel: conf.py did not run in the probe ({last}); reading intersphinx_mapping as a literal",
            file=sys.stderr,
        )
        answer.update({"method": "literal", "note": last})
        mapping, problem = literal_mapping(conf)
        if problem:
            answer["error"] = f"{problem}, and conf.py did not run without the project installed ({last})"
    entries, invalid = probe_entries(mapping, source_dir)
    answer.update({"entries": entries, "invalid": invalid})
    with open(arguments.output, "w", encoding="utf-8") as stream:
        json.dump(answer, stream, indent=1, sort_keys=True)
        stream.write("\n")


# --- build: Sphinx, with the pinned inventories ---------------------------------------


def rewrite(mapping: Mapping[Any, Any], settings: Mapping[str, Any]) -> tuple[dict[Any, Any], list[str], list[str]]:
    """The mapping Sphinx gets, the problems that stop the build, and the entries left out (``intersphinx = false``).

    Pure.  A pinned entry loads its store copy and keeps its target; an entry of local
    files only is left alone; a remote location is never kept.
    """
    pinned = {str(entry["name"]): entry for entry in settings.get("inventories", [])}
    enabled = bool(settings.get("enabled", True))
    result: dict[Any, Any] = {}
    problems, dropped = [], []
    for key, value in mapping.items():
        split = split_entry(key, value)
        locations = locations_of(split[0], split[1]) if split else None
        if split is None or locations is None:
            result[key] = value  # Sphinx refuses it, with its own message
            continue
        target, inventories, new_format = split
        remote = [location for location in locations if is_remote(location)]
        items = list(inventories) if isinstance(inventories, (tuple, list)) else [inventories]
        local = tuple(item for item, location in zip(items, locations, strict=True) if not is_remote(location))
        entry = pinned.get(str(key))
        if not remote:
            result[key] = value
        elif enabled and entry is not None:
            if entry["target"] != target:
                problems.append(
                    f"intersphinx_mapping[{key!r}] links to {target}, but pyrel.lock.toml pinned it for "
                    f"{entry['target']}: conf.py changed since `pyrel lock`"
                )
            result[key] = (target, entry["path"]) if new_format else entry["path"]
        elif local:
            result[key] = (target, local) if new_format else local
        elif not enabled:
            dropped.append(f"{key} ({', '.join(remote)})")
        else:
            problems.append(
                f"intersphinx_mapping[{key!r}] ({', '.join(remote)}) is not pinned in pyrel.lock.toml: "
                "conf.py changed since `pyrel lock`"
            )
    return result, problems, dropped


def _offline_intersphinx(app: Any, config: Any) -> None:
    settings = json.loads(os.environ.get(SETTINGS_VARIABLE) or "null")
    if settings is None:
        return
    try:
        mapping = config.intersphinx_mapping
    except AttributeError:  # sphinx.ext.intersphinx is not loaded: nothing is downloaded
        return
    if not isinstance(mapping, dict) or not mapping:
        return
    rewritten, problems, dropped = rewrite(mapping, settings)
    if problems:
        from sphinx.errors import ConfigError  # type: ignore[import-not-found,unused-ignore]

        message = (
            "; ".join(problems) + ". The sandbox has no network: run `pyrel lock` to pin the inventories "
            "conf.py names now (or set intersphinx = false in the stage)"
        )
        print(f"pyrel: {message}", file=sys.stderr, flush=True)  # above Sphinx's own report of the error
        raise ConfigError(f"pyrel: {message}")
    if dropped:
        print(
            f"pyrel: warning: intersphinx = false: Sphinx loads no inventory of {', '.join(dropped)}; "
            "cross-references to those projects stay plain text",
            file=sys.stderr,
            flush=True,
        )
    mapping.clear()
    mapping.update(rewritten)


def setup(app: Any) -> dict[str, Any]:
    # Before sphinx.ext.intersphinx checks the mapping (priority 800): it then sees only local files.
    app.connect("config-inited", _offline_intersphinx, priority=100)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def build(arguments: list[str]) -> int:
    """``python -m sphinx ARGUMENTS`` with this module among Sphinx's built-in extensions."""
    sys.modules[EXTENSION] = sys.modules[__name__]
    import sphinx.application  # type: ignore[import-not-found,unused-ignore]
    from sphinx.cmd.build import main  # type: ignore[import-not-found,unused-ignore]

    sphinx.application.builtin_extensions = (*sphinx.application.builtin_extensions, EXTENSION)
    return int(main(arguments))


def main() -> None:
    # pyrel's tools are not the project's modules: a docs build must not import them by accident.
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != HERE]
    if sys.argv[1:2] == ["build"]:
        sys.exit(build(sys.argv[2:]))
    parser = argparse.ArgumentParser(prog="sphinx_offline")
    commands = parser.add_subparsers(dest="command", required=True)
    probe_parser = commands.add_parser("probe")
    probe_parser.add_argument("--sphinx-dir", required=True)
    probe_parser.add_argument("output")
    probe(parser.parse_args())


if __name__ == "__main__":
    main()
