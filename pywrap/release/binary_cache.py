"""Share built stages through Nix's binary caches (``pyrel export``, ``pyrel keygen``).

pyrel has no scheduler of its own.  One machine (or a CI job) builds a stage
and exports its output and the output's closure, signed, to a binary cache;
another builds the same stage with that cache as its only substituter and
signatures required (``pyrel build --from URL --trusted-key KEY``): Nix sees
the output is substitutable, fetches it, and builds nothing.  A cache signed by
another key is refused by Nix itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from pywrap.adapters import nix, nixcache
from pywrap.config.model import Project
from pywrap.errors import CacheError, UsageError
from pywrap.execution.graph import stage_graph


@attrs.frozen
class ExportReport:
    store_url: str
    stages: tuple[tuple[str, str], ...]  # (stage, output store path)
    closure: tuple[str, ...]  # every store path copied


def stage_outputs(project: Project, stage_names: Sequence[str], progress: Callable[[str], None]) -> dict[str, str]:
    """The built output path of each stage (the plan of the last build, evaluated again)."""
    with stage_graph(project, stage_names, progress=progress) as graph:
        outputs = graph.built_outputs(stage_names)
    missing = [name for name in stage_names if name not in outputs]
    if missing:
        raise CacheError(
            f"stage {', '.join(missing)} of {project.name} is not built in this store",
            hint=f"run `pyrel build {' '.join(missing)}` first",
        )
    return outputs


def export(
    project: Project,
    stage_names: Sequence[str],
    store_url: str,
    *,
    secret_key_file: Path | None,
    progress: Callable[[str], None] = lambda message: None,
) -> ExportReport:
    """Copy the stages' outputs and their runtime closures to ``store_url``, signed."""
    if secret_key_file is not None and not secret_key_file.is_file():
        raise CacheError(
            f"no secret key at {secret_key_file}",
            hint="make one with `pyrel keygen NAME` (or nix-store --generate-binary-cache-key)",
        )
    outputs = stage_outputs(project, stage_names, progress)
    closure = nix.requisites(list(outputs.values()))
    progress(f"copying {len(closure)} store paths to {store_url}")
    nixcache.copy_to(store_url, list(outputs.values()), secret_key_file=secret_key_file)
    return ExportReport(store_url, tuple((name, outputs[name]) for name in stage_names), tuple(closure))


def cache_options(base: nix.NixOptions, caches: Sequence[str], trusted_keys: Sequence[str]) -> nix.NixOptions:
    """``base`` with ``caches`` as extra substituters; signatures are then always required."""
    if caches and not trusted_keys:
        raise UsageError(
            "--from needs --trusted-key: pyrel substitutes only signed paths",
            hint="pass the cache's public key (the .pub file `pyrel keygen` wrote)",
        )
    return attrs.evolve(
        base,
        substituters=(*base.substituters, *caches),
        trusted_public_keys=(*base.trusted_public_keys, *trusted_keys),
    )


def read_key(text: str) -> str:
    """A public key given inline (``name:base64``) or as a file holding one."""
    candidate = Path(text)
    if ":" not in text or (candidate.is_file() and "/" in text):
        try:
            text = candidate.read_text().strip()
        except OSError as exc:
            raise UsageError(f"--trusted-key {text!r} is neither a key (name:base64) nor a readable file") from exc
    name, sep, key = text.partition(":")
    if not sep or not name or not key:
        raise UsageError(f"--trusted-key {text!r} is not a Nix public key (name:base64)")
    return text
