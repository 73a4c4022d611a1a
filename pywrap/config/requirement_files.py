"""Read a pip requirements file for `pyrel lock`: plain registry requirements out, nothing local.

uv is never handed a requirements file: given ``-e .`` (or any local path or
VCS URL) it builds that project *on the host* to read its metadata, running
its build backend outside any sandbox.  So pyrel reads the file itself, the
way pip does (``-r``/``-c`` includes relative to the including file, comments,
``\\`` continuations, ``--hash`` and the index options), and:

* a spelling of *this project* (``.``, ``./``, ``-e .[test]``, ``file:.#egg=name``,
  ``name @ file:///root``, ``name[test]``) becomes its extras' requirements,
  like a requirement on the project in a stage's ``requires``: the stage builds
  the project itself, it is never resolved;
* any other local path, URL or VCS requirement is a :class:`ConfigError`
  naming the file and the line.

Reads files only; runs nothing.
"""

from __future__ import annotations

import re
import shlex
import tomllib
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pywrap.config.discovery import declared_extras, expand_self
from pywrap.errors import ConfigError

#: ``#`` at the start of a line or after whitespace starts a comment (``#egg=`` in a URL does not).
_COMMENT = re.compile(r"(^|\s+)#.*$")
#: A URL scheme (``file:``, ``https:``, ``git+ssh:``); one letter is a Windows drive, a path.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
#: PEP 508's ``name[extras] @ url``.
_NAMED_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_EXTRAS = re.compile(r"^(?P<base>.*?)\[(?P<extras>[^\[\]]*)\]$")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")

#: Options given a value, by their long name; the short spellings pip accepts.
_VALUE_OPTIONS = frozenset(
    {
        "--requirement",
        "--constraint",
        "--editable",
        "--index-url",
        "--extra-index-url",
        "--find-links",
        "--only-binary",
        "--no-binary",
        "--trusted-host",
        "--use-feature",
        "--config-settings",
        "--global-option",
        "--install-option",
        "--hash",
    }
)
_FLAG_OPTIONS = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
_SHORT = {"-r": "--requirement", "-c": "--constraint", "-e": "--editable", "-i": "--index-url", "-f": "--find-links"}
#: How pip and uv choose among the index's files: handed to uv as they are.
_PASSED_TO_UV = frozenset(
    {
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "--find-links",
        "--pre",
        "--only-binary",
        "--no-binary",
        "--prefer-binary",
        "--trusted-host",
        "--require-hashes",
        "--use-feature",
    }
)
#: What only a build or an installer reads: pyrel never builds a dependency and installs the wheels it pinned.
_IGNORED = frozenset({"--config-settings", "--global-option", "--install-option"})
#: The options a requirement line may carry after the requirement.
_PER_REQUIREMENT = frozenset({"--hash"}) | _IGNORED


@attrs.frozen
class PinnedHashes:
    """A line's ``--hash=sha256:...`` values: the wheel pyrel pins for ``name`` must be one of them."""

    name: str  # normalized
    sha256: frozenset[str]
    where: str  # "FILE:LINE"


@attrs.frozen
class RequirementFile:
    """A requirements file (with what it includes) as uv gets it: plain lines, never a path or URL."""

    requirements: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    #: Index options (``--index-url``, ``--pre``...), one ``--option value`` line each.
    options: tuple[str, ...] = ()
    hashes: tuple[PinnedHashes, ...] = ()


@attrs.frozen
class _Self:
    where: str
    text: str
    extras: tuple[str, ...]


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Each requirement or option line and the number of its first physical line: comments and
    blank lines skipped, lines ending in ``\\`` joined with the next."""
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw)
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        joined = "".join(parts).strip()
        parts = []
        if joined:
            yield start, joined
    if parts and "".join(parts).strip():
        yield start, "".join(parts).strip()


def read_requirements(
    path: Path, *, root: Path, project_name: str, stage: str, extras: Mapping[str, Any] | None = None
) -> RequirementFile:
    """``path`` and the files it includes, "this project" expanded into ``extras`` (by default the
    project's ``[project.optional-dependencies]``, read only when a line asks for an extra)."""
    reader = _Reader(root=root, project_name=project_name, stage=stage)
    reader.read(path, constraint=False, including=())
    requirements = list(reader.requirements)
    wanted = sorted({extra for line in reader.own for extra in line.extras})
    if wanted:
        declared = extras if extras is not None else project_extras(root)
        for line in reader.own:
            for extra in line.extras:
                if extra not in declared:
                    raise ConfigError(
                        f"{line.where}: '{line.text}' asks for the project's extra '{extra}', which its "
                        "[project.optional-dependencies] does not declare",
                        hint="pyrel reads the project's extras from pyproject.toml only (it never runs setup.py "
                        "or the build backend to learn them): declare the extra there, or list its "
                        "requirements in this file",
                    )
        where = reader.own[0].where
        for text in expand_self([f"{project_name}[{','.join(wanted)}]"], project_name, declared):
            reader.plain(text, where, f"the project's extras ({', '.join(wanted)}) require '{text}'")
            requirements.append(text)
    return RequirementFile(
        requirements=tuple(dict.fromkeys(requirements)),
        constraints=tuple(dict.fromkeys(reader.constraints)),
        options=tuple(dict.fromkeys(reader.options)),
        hashes=tuple(reader.hashes),
    )


def project_extras(root: Path) -> Mapping[str, Any]:
    """The project's extras (``[project.optional-dependencies]``, else PKG-INFO's or setup.cfg's): the model
    keeps each extra's distribution names only, and a requirements file's ``.[test]`` asks for the
    requirements themselves."""
    file = root / "pyproject.toml"
    try:
        return declared_extras(root, tomllib.loads(file.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return declared_extras(root, {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the project's extras: {exc}") from exc


@attrs.define
class _Reader:
    root: Path
    project_name: str
    stage: str
    requirements: list[str] = attrs.Factory(list)
    constraints: list[str] = attrs.Factory(list)
    options: list[str] = attrs.Factory(list)
    hashes: list[PinnedHashes] = attrs.Factory(list)
    own: list[_Self] = attrs.Factory(list)

    def read(self, path: Path, *, constraint: bool, including: tuple[Path, ...]) -> None:
        resolved = path.resolve()
        if resolved in including:
            raise ConfigError(f"{path}: includes itself (through {' -> '.join(str(p) for p in including)})")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the requirements file {path}: {exc}") from exc
        for number, line in logical_lines(text):
            self.line(line, f"{path}:{number}", path.parent, constraint, (*including, resolved))

    def line(self, line: str, where: str, directory: Path, constraint: bool, including: tuple[Path, ...]) -> None:
        # Options start at the first word beginning with '-' (pip's rule): a requirement may carry --hash.
        split = re.search(r"(?:^|\s+)(?=-)", line)
        requirement, rest = (line, "") if split is None else (line[: split.start()], line[split.end() :])
        options = _options(rest, where)
        if requirement:
            for name, _value in options:
                if name not in _PER_REQUIREMENT:
                    raise ConfigError(
                        f"{where}: '{name}' cannot follow a requirement", hint="put it on a line of its own, or drop it"
                    )
            self.requirement(
                requirement, where, directory, constraint, [value for name, value in options if name == "--hash"]
            )
            return
        for name, value in options:
            if name in ("--requirement", "--constraint"):
                self.include(value, name, where, directory, constraint or name == "--constraint", including)
            elif name == "--editable":
                self.requirement(value, where, directory, constraint, [], editable=True)
            elif name == "--find-links" and _local(value):
                raise ConfigError(
                    f"{where}: '--find-links {value}' is a local directory: its files are not on the package "
                    "index, so pyrel cannot pin them for the sandbox",
                    hint=self.fix_hint(),
                )
            elif name == "--hash":
                raise ConfigError(f"{where}: '--hash' must follow the requirement it pins")
            elif name in _PASSED_TO_UV:
                self.options.append(f"{name} {shlex.quote(value)}" if value else name)
            # _IGNORED: a build's or an installer's setting

    def include(
        self, value: str, option: str, where: str, directory: Path, constraint: bool, including: tuple[Path, ...]
    ) -> None:
        if _SCHEME.match(value) and not value.lower().startswith("file:"):
            raise ConfigError(
                f"{where}: '{option} {value}' names a URL: pyrel reads local requirement files only",
                hint="copy the file into the project and name it by its path",
            )
        target = directory / value.removeprefix("file:")
        if not target.is_file():
            raise ConfigError(
                f"{where}: '{option} {value}': {target} does not exist",
                hint="a path in a requirements file is relative to that file",
            )
        self.read(target, constraint=constraint, including=including)

    def requirement(
        self, text: str, where: str, directory: Path, constraint: bool, hashes: list[str], *, editable: bool = False
    ) -> None:
        shown = f"-e {text}" if editable else text
        requirement: Requirement | None = None
        location = "" if _NAMED_URL.match(text) else _location_part(text)
        if not location:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                raise ConfigError(
                    f"{where}: '{shown}' is not a requirement pyrel can read: {exc}",
                    hint="write a registry requirement such as 'name>=1.0'",
                ) from exc
            location = requirement.url or ""
            if not location and editable:
                raise ConfigError(
                    f"{where}: '{shown}': -e takes a path or URL", hint="drop the -e of a registry requirement"
                )
        own = requirement is not None and canonicalize_name(requirement.name) == canonicalize_name(self.project_name)
        if requirement is not None and not location:
            if own:  # `name[test]`, as in a stage's requires
                if not constraint:
                    self.own.append(_Self(where, shown, tuple(sorted(requirement.extras))))
                return
            (self.constraints if constraint else self.requirements).append(text)
            sha256 = frozenset(
                value.split(":", 1)[1].lower() for value in hashes if value.lower().startswith("sha256:")
            )
            if sha256:
                self.hashes.append(PinnedHashes(canonicalize_name(requirement.name), sha256, where))
            return
        extras = self.own_extras(location, requirement, directory)
        if extras is None:
            kind = (
                "a VCS requirement"
                if location.lower().startswith(_VCS)
                else "a URL requirement"
                if _SCHEME.match(location) and not location.lower().startswith("file:")
                else "a local path"
            )
            raise ConfigError(
                f"{where}: '{shown}' is {kind}: pyrel pins a stage's Python requirements from the package "
                "index only, and never builds or fetches a package outside the sandbox",
                hint=self.fix_hint(),
            )
        if not constraint:  # a constraint on the project: nothing to constrain, it is never resolved
            self.own.append(_Self(where, shown, extras))

    def own_extras(self, location: str, requirement: Requirement | None, directory: Path) -> tuple[str, ...] | None:
        """The extras a spelling of this project asks for, or None when ``location`` is something else."""
        base, _, fragment = location.partition("#")
        extras: list[str] = sorted(requirement.extras) if requirement is not None else []
        subdirectory = ""
        for item in fragment.split("&") if fragment else []:
            key, _, value = item.partition("=")
            if key == "egg":
                match = _EXTRAS.match(value)
                extras += _split_extras(match.group("extras")) if match else []
            elif key == "subdirectory":
                subdirectory = value
        match = _EXTRAS.match(base)
        if match:
            base = match.group("base")
            extras += _split_extras(match.group("extras"))
        if base.lower().startswith("file:"):
            path_text = base[len("file:") :]
            if path_text.startswith("//"):
                host, _, rest = path_text[2:].partition("/")
                if host not in ("", "localhost"):
                    return None
                path_text = "/" + rest
            path_text = urllib.parse.unquote(path_text)
        elif _SCHEME.match(base):
            return None
        else:
            path_text = base
        if not path_text:
            return None
        path = Path(path_text) / subdirectory
        # pip reads a relative path from the working directory (the project's root, where pip runs),
        # uv from the file's directory: either naming the root is this project.
        candidates = [path] if path.is_absolute() else [self.root / path, directory / path]
        root = self.root.resolve()
        if not any(candidate.resolve() == root for candidate in candidates):
            return None
        return tuple(dict.fromkeys(extras))

    def plain(self, text: str, where: str, what: str) -> None:
        """Reject a requirement by URL (``name @ git+https://...``) that the project's extras bring."""
        try:
            url = Requirement(text).url
        except InvalidRequirement:
            return
        if url:
            raise ConfigError(
                f"{where}: {what} is a URL requirement: pyrel pins a stage's Python requirements "
                "from the package index only",
                hint=self.fix_hint(),
            )

    def fix_hint(self) -> str:
        return (
            f"replace it with a registry requirement ('name>=version'): in this file, or in stage "
            f"'{self.stage}''s `requires` (with `requires-file = \"\"` to stop reading the file)"
        )


def _split_extras(text: str) -> list[str]:
    return [extra.strip() for extra in text.split(",") if extra.strip()]


def _location_part(text: str) -> str:
    """The path or URL a requirement line names (without its markers), or "" for a PEP 508 requirement."""
    location = re.split(r"\s+;|;\s+", text, maxsplit=1)[0].strip()
    first = location.split()[0] if location.split() else ""
    base = _EXTRAS.sub(r"\g<base>", first)
    if (
        _SCHEME.match(first)
        or first.startswith((".", "/", "~", "\\"))
        or "/" in first
        or "\\" in first
        or base.lower().endswith(_ARCHIVES)
    ):
        return location
    return ""


def _local(value: str) -> bool:
    return not _SCHEME.match(value) or value.lower().startswith("file:")


def _options(text: str, where: str) -> list[tuple[str, str]]:
    """``--name value`` pairs of an option line (or of a requirement's trailing options)."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: cannot read the options '{text}': {exc}") from exc
    result = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            if name in _FLAG_OPTIONS and not equals:
                result.append((name, ""))
                continue
        elif token[:2] in _SHORT:
            name, equals, value = _SHORT[token[:2]], "", token[2:]
            equals = "=" if value else ""
        else:
            raise ConfigError(f"{where}: unexpected '{token}'", hint="one requirement or option per line")
        if name not in _VALUE_OPTIONS:
            raise ConfigError(
                f"{where}: pyrel does not read the option '{name}' in a requirements file",
                hint="it reads -r, -c, -e (of the project itself), --hash and the index options "
                "(--index-url, --extra-index-url, --no-index, --find-links, --pre, --only-binary, --no-binary)",
            )
        if not equals:
            if index >= len(tokens):
                raise ConfigError(f"{where}: '{name}' needs a value")
            value = tokens[index]
            index += 1
        result.append((name, value))
    return result
