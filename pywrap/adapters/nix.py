"""Thin adapter: every call to `nix-build`, `nix-store` and `nix-instantiate`.

The sandbox is forced on (Debian's nix.conf turns it off) and Nix may never
fall back to building without it.  Substituters are only those the user
configured; offline, Nix would otherwise wait on the default cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from pywrap.adapters import nixcache
from pywrap.adapters.nixcache import real_path
from pywrap.adapters.run import require_tool, run, stream, tail
from pywrap.errors import BuildError, CommandFailed, FetchError, SandboxError, ToolMissingError
from pywrap.progress import plain_text
from pywrap.storepath import Derivation, parse_derivation

INSTALL_HINT = (
    "install Nix: `sudo apt-get install nix-bin` on Debian/Ubuntu (or the official installer), then run pyrel again"
)


@attrs.frozen
class NixOptions:
    substituters: tuple[str, ...] = ()
    trusted_public_keys: tuple[str, ...] = ()
    max_jobs: str | None = None
    builders: str | None = None
    #: Keep a failed build's directory and, with --check, the differing rebuild as `<out>.check`.
    keep_failed: bool = False
    #: The pinned busybox mounted at /bin/sh in every sandbox ('': no /bin/sh).
    sandbox_shell: str = ""
    #: The locked ELF loader (a store file) and where it is mounted, the path programs ask for
    #: (``/lib64/ld-linux-x86-64.so.2``); '': none.
    sandbox_loader: str = ""
    loader_mount_point: str = ""

    @property
    def sandbox_paths(self) -> tuple[str, ...]:
        """Everything bind-mounted into the sandbox besides the declared inputs: pyrel's /bin/sh and
        the locked ELF loader, and nothing else, whatever nix.conf says (Debian's Nix mounts nothing,
        most other builds of Nix their own unpinned /bin/sh, and `extra-sandbox-paths` may add host
        files).  A mount's source is a file on this machine: in a chroot store (`--store DIR`), under DIR."""
        mounts = [f"/bin/sh={real_path(self.sandbox_shell)}"] if self.sandbox_shell else []
        if self.sandbox_loader and self.loader_mount_point:
            mounts.append(f"{self.loader_mount_point}={real_path(self.sandbox_loader)}")
        return tuple(mounts)

    def flags(self) -> list[str]:
        flags = [
            "--option",
            "sandbox",
            "true",
            "--option",
            "sandbox-fallback",
            "false",
            "--option",
            "sandbox-paths",
            " ".join(self.sandbox_paths),
            "--option",
            "substituters",
            " ".join(self.substituters),
        ]
        if self.trusted_public_keys:
            # A cache the user trusts by key: its paths are taken only with a valid signature.
            flags += [
                "--option",
                "trusted-public-keys",
                " ".join(self.trusted_public_keys),
                "--option",
                "require-sigs",
                "true",
            ]
        if self.max_jobs is not None:
            flags += ["--max-jobs", self.max_jobs]
        if self.builders is not None:
            flags += ["--builders", self.builders]
        if self.keep_failed:
            flags.append("--keep-failed")
        return flags


def nix_build_path() -> str:
    return require_tool("nix-build", INSTALL_HINT)


def nix_store_path() -> str:
    return require_tool("nix-store", INSTALL_HINT)


def check_available() -> None:
    for tool in ("nix-build", "nix-store", "nix-instantiate"):
        if shutil.which(tool) is None:
            raise ToolMissingError(f"`{tool}` is not installed", hint=INSTALL_HINT)


def valid_paths(paths: Sequence[str]) -> set[str]:
    """The subset of ``paths`` that are valid in the store (one call)."""
    if not paths:
        return set()
    result = run([nix_store_path(), "--check-validity", "--print-invalid", *paths], check=False)
    if result.returncode != 0:
        raise FetchError(f"nix-store --check-validity failed:\n{tail(result.stderr)}")
    invalid = set(result.stdout.split())
    return {path for path in paths if path not in invalid}


def rooted_paths(roots: Path, paths: Sequence[str]) -> set[str]:
    """The subset of ``paths`` that a GC root in ``roots`` keeps alive, read from the links (no process).

    Nix roots only valid paths and never deletes a rooted one, so these are valid: the
    store query of :func:`valid_paths` is needed only for the others.  Only for this
    machine's own store; empty when the links are missing or point elsewhere.
    """
    if not nixcache.this_machines_store():
        return set()
    try:
        links = list(os.scandir(roots))
    except OSError:
        return set()
    targets = set()
    for link in links:
        try:
            targets.add(os.readlink(link.path))
        except OSError:
            continue
    return {path for path in paths if path in targets and os.path.exists(path)}


def add_roots(roots: Path, paths: Sequence[str]) -> None:
    """Make ``paths`` (valid) GC roots: links ``roots/<id>``, ``<id>-2``, ... (one call; indirect roots)."""
    if not paths or not nixcache.this_machines_store():
        return
    roots.mkdir(parents=True, exist_ok=True)
    batch = hashlib.sha256("\n".join(sorted(paths)).encode()).hexdigest()[:16]
    run([nix_store_path(), "--realise", "--add-root", str(roots / batch), *sorted(paths)], what="nix-store --add-root")


def substitute(paths: Sequence[str], substituters: Sequence[str], trusted_public_keys: Sequence[str] = ()) -> set[str]:
    """Realise ``paths`` from ``substituters`` alone (never by building); the subset valid afterwards.

    For fixed-output paths (the locked artifacts) Nix checks the content against the
    path's hash, so a cache needs no signature for them.
    """
    if not paths or not substituters:
        return set()
    argv = [nix_store_path(), "--realise", "--keep-going", *paths, "--option", "substituters", " ".join(substituters)]
    if trusted_public_keys:
        argv += ["--option", "trusted-public-keys", " ".join(trusted_public_keys)]
    run(argv, what="nix-store --realise (from binary caches)", check=False)
    return valid_paths(paths)


def add_fixed(path: Path, *, recursive: bool = False) -> str:
    args = [nix_store_path(), "--add-fixed"]
    if recursive:
        args.append("--recursive")
    result = run([*args, "sha256", str(path)], what="nix-store --add-fixed")
    return result.stdout.strip()


def query_hash(store_path: str) -> str:
    """The NAR hash of a valid store path, as `sha256:<nix base32>`."""
    return run([nix_store_path(), "--query", "--hash", store_path]).stdout.strip()


def requisites(paths: Sequence[str], *, include_outputs: bool = False) -> list[str]:
    """``nix-store -qR``: the closure of ``paths``; with derivations and
    ``include_outputs``, also the outputs of every derivation in it that are valid."""
    if not paths:
        return []
    flags = ["--include-outputs"] if include_outputs else []
    return run([nix_store_path(), "--query", "--requisites", *flags, *paths]).stdout.split()


def references(path: str) -> list[str]:
    """``nix-store -q --references``: of a .drv, its input derivations and input sources."""
    return run([nix_store_path(), "--query", "--references", path]).stdout.split()


def read_derivation(derivation: str) -> Derivation | None:
    """What a .drv file names, read from the file itself (no process); None if it is gone or unreadable."""
    try:
        return parse_derivation(real_path(derivation).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sandbox_inputs(derivation: Derivation) -> list[str] | None:
    """Its input sources and every output of its input derivations, from the .drv files: what
    `--references` and then `--outputs` of the input derivations say, without the two processes.
    None when an input derivation cannot be read or its outputs have no fixed path yet."""
    inputs = set(derivation.input_sources)
    for path in derivation.input_derivations:
        input_derivation = read_derivation(path)
        if input_derivation is None or not all(input_derivation.outputs.values()):
            return None
        inputs.update(input_derivation.outputs.values())
    return sorted(inputs)


def derivation_outputs(derivations: Sequence[str]) -> list[str]:
    """The output paths of ``derivations`` (known whether or not they are built)."""
    if not derivations:
        return []
    return run([nix_store_path(), "--query", "--outputs", *derivations]).stdout.split()


def sizes(paths: Sequence[str]) -> dict[str, int]:
    if not paths:
        return {}
    output = run([nix_store_path(), "--query", "--size", *paths]).stdout.split()
    return dict(zip(paths, (int(value) for value in output), strict=True))


def evaluate_json(expression_file: Path, attribute: str, args: dict[str, str]) -> object:
    nix_instantiate = require_tool("nix-instantiate", INSTALL_HINT)
    argv = [nix_instantiate, "--eval", "--strict", "--json", str(expression_file), "-A", attribute]
    for name, value in args.items():
        argv += ["--argstr", name, value]
    return json.loads(run(argv, what="nix-instantiate --eval").stdout)


def instantiate(expression_file: Path, attributes: Sequence[str], args: dict[str, str]) -> list[str]:
    nix_instantiate = require_tool("nix-instantiate", INSTALL_HINT)
    argv = [nix_instantiate, str(expression_file)]
    for attribute in attributes:
        argv += ["-A", attribute]
    for name, value in args.items():
        argv += ["--argstr", name, value]
    return run(argv, what="nix-instantiate").stdout.split()


#: What Nix says when it cannot set up the sandbox itself (not a builder failing in it).
_SANDBOX_FAILURE = re.compile(
    r"cloning builder process|sandboxing builds is not supported|setting up a private mount namespace"
    r"|unable to start build process|pivot_root|mounting /proc|setgroups failed|user namespaces? (are|is) not",
    re.IGNORECASE,
)


#: What pyrel's builders say when they find themselves outside the sandbox (nix/builders/sandboxed.sh).
NOT_SANDBOXED = "pyrel: not in Nix's sandbox"
#: Nix's warning for a setting a client may not change (the daemon's users that are not trusted).
IGNORED_SETTING = re.compile(r"ignoring the client-specified setting '([^']+)'")


def build(
    expression_file: Path,
    attributes: Sequence[str],
    args: dict[str, str],
    options: NixOptions,
    *,
    out_link: Path,
    check: bool = False,
    on_log_line: Callable[[str], None] | None = None,
) -> list[str]:
    """Build ``attributes`` and return their output paths, in order.

    With ``on_log_line``, Nix logs as ``--log-format internal-json`` and each
    stderr line is handed over as it comes (live progress); errors still carry
    the plain-text tail.
    """
    # --keep-going: independent stages finish even when one fails.
    argv = [
        nix_build_path(),
        str(expression_file),
        *options.flags(),
        "--keep-going",
        "--option",
        "log-lines",
        "60",
        "--out-link",
        str(out_link),
    ]
    for attribute in attributes:
        argv += ["-A", attribute]
    for name, value in args.items():
        argv += ["--argstr", name, value]
    if check:
        argv.append("--check")
    if on_log_line is not None:
        argv += ["--log-format", "internal-json"]
    try:
        result = run(argv, what="nix-build") if on_log_line is None else stream(argv, on_log_line, what="nix-build")
    except CommandFailed as exc:
        stderr = exc.completed.stderr if on_log_line is None else plain_text(exc.completed.stderr)
        if NOT_SANDBOXED in stderr:
            ignored = sorted(set(IGNORED_SETTING.findall(stderr)))
            raise SandboxError(
                "Nix built without its sandbox, so pyrel's builders refused to run (nothing was built)"
                + (f"; Nix ignored pyrel's settings: {', '.join(ignored)}" if ignored else ""),
                hint="Nix's daemon ignores these settings from users it does not trust: add yourself to "
                "`trusted-users` in /etc/nix/nix.conf (or set `sandbox = true` there), restart nix-daemon, "
                "and run `pyrel doctor`",
            ) from exc
        if _SANDBOX_FAILURE.search(stderr) and "error: builder for" not in stderr:
            raise SandboxError(
                "Nix could not enable its build sandbox; pyrel never builds without it:\n" + tail(stderr, 15),
                hint="enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) "
                "or run as a user allowed to create them",
            ) from exc
        raise BuildError("nix-build failed", log_tail=tail(stderr, 60)) from exc
    return result.stdout.split()


def built_outputs(expression_file: Path, attributes: Sequence[str], args: dict[str, str]) -> dict[str, str]:
    """The output paths of ``attributes`` that are valid now (after a partial build)."""
    drvs = instantiate(expression_file, attributes, args)
    outputs = {}
    for attribute, drv in zip(attributes, drvs, strict=True):
        [output] = run([nix_store_path(), "--query", "--outputs", drv]).stdout.split()
        outputs[attribute] = output
    valid = valid_paths(list(outputs.values()))
    return {attribute: path for attribute, path in outputs.items() if path in valid}


def version() -> str:
    """Nix's version, e.g. "2.8.0" (from `nix-build --version`)."""
    text = run([nix_build_path(), "--version"], what="nix-build --version").stdout.strip()
    return text.rsplit(" ", 1)[-1]


def deriver(store_path: str) -> str | None:
    """The derivation that built ``store_path`` (`nix-store --query --deriver`), if Nix knows it."""
    result = run([nix_store_path(), "--query", "--deriver", store_path], check=False)
    text = result.stdout.strip()
    return text if result.returncode == 0 and text.endswith(".drv") else None


def read_log(derivation: str) -> str:
    """The build log Nix kept of ``derivation`` (`nix-store --read-log`), or "" when it kept none."""
    if not derivation:
        return ""
    result = run([nix_store_path(), "--read-log", derivation], check=False)
    return result.stdout if result.returncode == 0 else ""
