"""Poetry's dependency tables as PEP 508 requirements (pure).

Poetry projects without a ``[project]`` table keep their dependencies in
``[tool.poetry.dependencies]`` and their test and docs tools in
``[tool.poetry.group.<name>.dependencies]`` (or the older
``[tool.poetry.dev-dependencies]``), written in Poetry's own constraint
syntax: ``^1.2``, ``~1.2``, ``1.2.*``, ``>=1.2 <2``, ``||`` alternatives, or a
table with ``version``, ``extras``, ``python`` and ``markers``, or a list of
those (one constraint per Python or platform).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pywrap.errors import ConfigError

_VERSION = re.compile(r"^\d+(\.\d+)*([a-zA-Z0-9.+-]*)$")
_OPERATOR = re.compile(r"^(===|==|!=|<=|>=|~=|<|>|=)\s*(.+)$")
#: Sources pyrel cannot pin from a registry: the project must declare such a stage's requires itself.
_UNPINNABLE = ("git", "path", "url", "file", "develop")


def _numbers(version: str) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3]]


def _caret(version: str) -> list[str]:
    parts = _numbers(version)
    if not parts:
        raise ValueError(f"^{version}")
    for index, part in enumerate(parts):
        if part != 0 or index == len(parts) - 1:
            break
    upper = parts[: index + 1]
    upper[-1] += 1
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


def _tilde(version: str) -> list[str]:
    parts = _numbers(version)
    if not parts:
        raise ValueError(f"~{version}")
    upper = parts[:2] if len(parts) > 1 else parts[:1]
    upper[-1] += 1
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


def _clause(text: str) -> list[str]:
    text = text.strip()
    if text in ("", "*"):
        return []
    if text.startswith("^"):
        return _caret(text[1:].strip())
    if text.startswith("~") and not text.startswith("~="):
        return _tilde(text[1:].strip())
    match = _OPERATOR.match(text)
    if match:
        operator, version = match.groups()
        return [f"{'==' if operator == '=' else operator}{version.strip()}"]
    if _VERSION.match(text) or text.endswith(".*"):
        return [f"=={text}"]
    raise ValueError(text)


def specifier(constraint: str) -> str:
    """A Poetry constraint as a PEP 440 specifier set: ``^1.2`` -> ``>=1.2,<2``."""
    if "||" in constraint or re.search(r"\s\|\s", constraint):
        raise ValueError(constraint)
    clauses: list[str] = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", constraint.strip()):
        clauses += _clause(part)
    return ",".join(clauses)


def _python_marker(constraint: str) -> str:
    clauses = [re.match(r"(===|==|!=|<=|>=|~=|<|>)(.+)", c) for c in specifier(constraint).split(",") if c]
    return " and ".join(f'{_python_variable(m.group(2))} {m.group(1)} "{m.group(2)}"' for m in clauses if m)


def _python_variable(version: str) -> str:
    """python_version is "3.11": a three-part bound (``>=3.8.1``) compares python_full_version."""
    return "python_full_version" if version.count(".") >= 2 and not version.endswith(".*") else "python_version"


def requirement(name: str, value: Any, file: Path, key: str) -> str:
    """One entry of a Poetry dependency table as a PEP 508 requirement."""
    where = f"{file}: '{key}.{name}'"
    table: Mapping[str, Any] = value if isinstance(value, dict) else {"version": value}
    if not isinstance(value, (str, dict)):
        raise ConfigError(f"{where} must be a constraint string or a table, got {value!r}")
    unpinnable = [source for source in _UNPINNABLE if source in table]
    if unpinnable:
        raise ConfigError(
            f"{where} comes from a {unpinnable[0]} source, which pyrel cannot pin from a registry",
            hint="declare the stage's requires in [tool.pyrel.stages.<name>] as PEP 508 strings",
        )
    try:
        version = specifier(str(table.get("version", "*")))
        python = _python_marker(str(table["python"])) if "python" in table else ""
    except ValueError as exc:
        raise ConfigError(
            f"{where} has the constraint {exc.args[0]!r}, which pyrel does not translate",
            hint="declare the stage's requires in [tool.pyrel.stages.<name>] as PEP 508 strings",
        ) from exc
    extras = table.get("extras", [])
    text = name + (f"[{','.join(extras)}]" if extras else "") + version
    markers = [f"({marker})" for marker in (python, str(table.get("markers", ""))) if marker]
    return text + ("; " + " and ".join(markers) if markers else "")


def requirements(table: Any, file: Path, key: str, *, optional: bool = False) -> list[str]:
    """A Poetry dependency table (``python`` left out) as PEP 508 requirements.

    ``optional = true`` entries are a runtime table's extras: skipped unless
    ``optional`` asks for them.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: '{key}' must be a table")
    result = []
    for name, value in table.items():
        if name.lower() == "python":
            continue
        # Poetry's multiple-constraint dependencies (a list of entries, each under its own `python` or
        # `markers`): one requirement per entry, as poetry-core writes them into Requires-Dist.
        entries = value if isinstance(value, list) and value else [value]
        for entry in entries:
            if isinstance(entry, dict) and entry.get("optional") and not optional:
                continue
            result.append(requirement(name, entry, file, key))
    return result
