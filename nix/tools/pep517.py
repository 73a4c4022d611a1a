"""pyrel's PEP 517 frontend in the sandbox: one hook, called in this fresh interpreter.

Static part of pyrel's Nix library, run by the stage's own pinned Python in the
project's tree:

    python "$pyrelTools/pep517.py" sdist OUTDIR      (the source stage)
    python "$pyrelTools/pep517.py" wheel OUTDIR      (the docs and test stages)
    python "$pyrelTools/pep517.py" requires sdist|wheel OUTPUT.json [--optional]   (`pyrel lock`'s probe)
    python "$pyrelTools/pep517.py" repack OUTDIR     (an unpacked sdist whose backend needs git for one)

The backend is the project's ``[build-system]`` as pyrel read it on the host
(PEP 517's setuptools default included), passed by the plan as
``PYREL_BUILD_BACKEND`` (``module:object``) and ``PYREL_BACKEND_PATH`` (a JSON
list of directories relative to the tree).

Why not ``python -m build --no-isolation``: it starts three interpreters for one
sdist (the frontend; a subprocess asking ``get_requires_for_build_sdist`` only to
check that they are installed; a subprocess calling ``build_sdist``), and those
starts were most of the source stage's time.  Isolation is Nix's sandbox here,
and what ``build`` would check, the lock already pinned: ``build-system.requires``
and what ``get_requires_for_build_*`` answered when ``pyrel lock`` asked with this
same script.  A hook gets what pyproject_hooks' subprocess gives it: a fresh
interpreter, the tree as working directory, this script's directory off
``sys.path``, ``backend-path`` first on it, and ``{}`` as config settings.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import import_module
from typing import NoReturn

#: PEP 517: a project without [build-system] is built by setuptools' legacy backend.
DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"


def fail(message: str) -> NoReturn:
    print(f"pyrel: {message}", file=sys.stderr)
    sys.exit(1)


def load_backend() -> object:
    spec = os.environ.get("PYREL_BUILD_BACKEND") or DEFAULT_BACKEND
    backend_path = [os.path.abspath(entry) for entry in json.loads(os.environ.get("PYREL_BACKEND_PATH") or "[]")]
    here = os.path.realpath(os.path.dirname(__file__))
    sys.path[:] = [*backend_path, *(entry for entry in sys.path if os.path.realpath(entry) != here)]
    module_name, _, attribute = spec.partition(":")
    try:
        backend: object = import_module(module_name)
    except ImportError as exc:
        # The message keeps Python's "No module named '...'", which pyrel's log reader explains.
        fail(f"cannot import the build backend {module_name!r}: {exc}")
    if backend_path:
        origin = os.path.realpath(getattr(backend, "__file__", None) or "")
        if not any(origin.startswith(os.path.realpath(entry) + os.sep) for entry in backend_path):
            fail(
                f"the build backend {module_name!r} was loaded from {origin}, not from its backend-path "
                f"{backend_path} (PEP 517 requires it to come from there)"
            )
    for part in attribute.split(".") if attribute else ():
        backend = getattr(backend, part)
    return backend


def build(distribution: str, outdir: str) -> None:
    outdir = os.path.abspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    backend = load_backend()
    print(
        f"pyrel: building the {distribution} with {os.environ.get('PYREL_BUILD_BACKEND') or DEFAULT_BACKEND}",
        flush=True,
    )
    hook = getattr(backend, f"build_{distribution}")
    name = hook(outdir, {})
    if not isinstance(name, str) or not os.path.isfile(os.path.join(outdir, name)):
        fail(f"the backend's build_{distribution} returned {name!r}, which is not a file it wrote in {outdir}")
    print(f"pyrel: built {name}", flush=True)


def repack(outdir: str) -> None:
    """The tree is an unpacked sdist (PKG-INFO at its root): pack it again, every file, as PEP 625 names it.

    For a backend whose ``build_sdist`` packs what git lists (meson-python's ``meson dist``), which an
    unpacked release does not have: its files are the release's already.  The archive normalizer then
    sorts the entries and clamps their dates and owners.
    """
    import email.parser
    import re
    import tarfile

    with open("PKG-INFO", encoding="utf-8") as stream:
        metadata = email.parser.Parser().parse(stream, headersonly=True)
    name, version = metadata.get("Name"), metadata.get("Version")
    if not name or not version:
        fail("PKG-INFO names no Name or no Version: this tree is not an unpacked sdist")
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"
    os.makedirs(outdir, exist_ok=True)
    target = os.path.join(os.path.abspath(outdir), f"{stem}.tar.gz")
    print(f"pyrel: packing the unpacked sdist as {stem}.tar.gz (its backend builds sdists from git only)", flush=True)
    with tarfile.open(target, "w:gz") as archive:
        for entry in sorted(os.listdir(".")):
            archive.add(entry, arcname=f"{stem}/{entry}")
    print(f"pyrel: built {stem}.tar.gz", flush=True)


def requires(distribution: str, output: str, optional: bool) -> None:
    """What ``get_requires_for_build_<distribution>`` asks for (PEP 517: none when the hook is absent)."""
    backend = load_backend()
    hook = getattr(backend, f"get_requires_for_build_{distribution}", None)
    try:
        answer = [] if hook is None else list(hook({}))
    except Exception as exc:  # any backend failure: reported, and fatal unless optional
        if not optional:
            raise
        print(f"pyrel: the backend could not say what a {distribution} build needs: {exc!r}", file=sys.stderr)
        return
    if not all(isinstance(item, str) for item in answer):
        fail(f"get_requires_for_build_{distribution} returned {answer!r}, not a list of requirement strings")
    with open(output, "w", encoding="utf-8") as stream:
        json.dump(sorted(answer), stream)


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] in ("sdist", "wheel"):
        build(argv[0], argv[1])
    elif len(argv) == 2 and argv[0] == "repack":
        repack(argv[1])
    elif (
        len(argv) in (3, 4)
        and argv[0] == "requires"
        and argv[1] in ("sdist", "wheel")
        and argv[3:] in ([], ["--optional"])
    ):
        requires(argv[1], argv[2], optional=argv[3:] == ["--optional"])
    else:
        fail(f"usage: pep517.py sdist|wheel|repack OUTDIR | requires sdist|wheel OUTPUT.json [--optional]; got {argv}")


if __name__ == "__main__":
    main(sys.argv[1:])
