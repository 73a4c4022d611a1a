"""What an MkDocs site needs in the docs stage: the distributions behind the theme, plugins and
Markdown extensions mkdocs.yml names, and the plugins the sandbox cannot run.

Reads the configuration only; runs nothing.  mkdocs.yml uses YAML tags a safe loader refuses
(``!ENV``, ``!!python/name:``, ``!relative``): this loader keeps ``!ENV`` as :class:`EnvValue`,
``!!python/name:`` as :class:`PythonName`, and reads any other tag as the plain value it tags.
The distributions are a small explicit table, ``resources/mkdocs.toml``.
"""

from __future__ import annotations

import functools
import importlib.resources
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pywrap.errors import ConfigError

CONFIG_FILES = ("mkdocs.yml", "mkdocs.yaml")
#: mkdocstrings' handler when the configuration names none (its `default_handler`).
DEFAULT_HANDLER = "python"
#: Where a Python distribution registers what mkdocs.yml may name.
PLUGIN_ENTRY_POINTS = "mkdocs.plugins"
THEME_ENTRY_POINTS = "mkdocs.themes"
#: INHERIT chains longer than this are a loop.
MAX_INHERIT = 10


@attrs.frozen
class EnvValue:
    """``!ENV VAR`` or ``!ENV [VAR, ..., default]``: the first variable set, else the default (yaml_env_tag)."""

    variables: tuple[str, ...]
    default: object = None

    def resolve(self, environment: Mapping[str, str]) -> object:
        for variable in self.variables:
            if variable in environment:
                return _scalar(environment[variable])
        return self.default


@attrs.frozen
class PythonName:
    """``!!python/name:module.attribute``: an object mkdocs imports (an emoji index, a fence formatter)."""

    path: str

    @property
    def module(self) -> str:
        return self.path.split(".", 1)[0]


@attrs.frozen
class Plugin:
    name: str
    #: ``enabled`` as written: absent (True), a boolean, or an ``!ENV`` the stage's environment decides.
    enabled: object = True
    #: mkdocstrings' handlers (its extras); empty for other plugins.
    handlers: tuple[str, ...] = ()

    def enabled_in(self, environment: Mapping[str, str]) -> bool:
        value = self.enabled.resolve(environment) if isinstance(self.enabled, EnvValue) else self.enabled
        return value is not False and value is not None


@attrs.frozen
class MkDocsConfig:
    """What pyrel reads of mkdocs.yml (``INHERIT`` merged in)."""

    file: Path
    theme: str | None
    plugins: tuple[Plugin, ...]
    markdown_extensions: tuple[str, ...]
    #: Top-level modules of the ``!!python/name:`` tags anywhere in the file.
    python_modules: tuple[str, ...]


@attrs.frozen
class Table:
    """resources/mkdocs.toml: names mkdocs.yml uses -> the distribution ("" = part of mkdocs)."""

    themes: Mapping[str, str]
    plugins: Mapping[str, str]
    git_plugins: frozenset[str]
    modules: Mapping[str, str]
    builtin_extensions: frozenset[str]

    def plugin(self, name: str) -> str | None:
        if name.startswith("/"):  # mkdocs: a leading / skips the theme's namespace
            name = name[1:]
        if name.startswith("material/"):
            return self.plugins.get(name.split("/", 1)[1]) or "mkdocs-material"
        return self.plugins.get(name)


@functools.cache
def table() -> Table:
    data = tomllib.loads(
        importlib.resources.files("pywrap.resources").joinpath("mkdocs.toml").read_text(encoding="utf-8")
    )
    return Table(
        themes=data["themes"],
        plugins=data["plugins"],
        git_plugins=frozenset(data["git"]["plugins"]),
        modules=data["modules"],
        builtin_extensions=frozenset(data["markdown"]["builtin"]),
    )


def find_config(root: Path) -> str | None:
    for name in CONFIG_FILES:
        if (root / name).is_file():
            return name
    return None


def _scalar(text: str) -> object:
    """An environment variable's value typed as YAML types it (``false`` is False), as yaml_env_tag does."""
    import yaml

    loader = yaml.SafeLoader("")
    try:
        tag = loader.resolve(yaml.ScalarNode, text, (True, False))
        return loader.construct_object(yaml.ScalarNode(tag, text))
    except yaml.YAMLError:
        return text
    finally:
        loader.dispose()


@functools.cache
def _loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        """A safe loader that keeps the tags pyrel reads and reads every other tag as its plain value."""

    def env(loader: yaml.SafeLoader, node: yaml.Node) -> EnvValue:
        if isinstance(node, yaml.ScalarNode):
            return EnvValue((str(loader.construct_scalar(node)),))
        if isinstance(node, yaml.SequenceNode) and node.value:
            *names, last = node.value
            if not names:
                return EnvValue((str(loader.construct_scalar(last)),))
            return EnvValue(
                tuple(str(loader.construct_scalar(name)) for name in names), loader.construct_object(last, deep=True)
            )
        raise yaml.constructor.ConstructorError(
            None, None, "!ENV takes a variable or a list [VAR, ..., default]", node.start_mark
        )

    def python_name(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> PythonName:
        return PythonName(suffix)

    def plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_constructor("!ENV", env)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", python_name)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", plain)
    Loader.add_multi_constructor("!", plain)
    return Loader


def _load(file: Path, depth: int = 0) -> dict[str, Any]:
    """One configuration file, with the file it INHERITs merged under it (mkdocs' mergedeep.merge)."""
    import yaml

    try:
        document = yaml.load(file.read_text(encoding="utf-8"), Loader=_loader())
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read: {exc.strerror}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not a valid MkDocs configuration: {exc}") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{file}: not a valid MkDocs configuration: the top level is not a mapping")
    parent = document.pop("INHERIT", None)
    if parent is None:
        return document
    if not isinstance(parent, str) or depth >= MAX_INHERIT:
        raise ConfigError(f"{file}: 'INHERIT' must name one configuration file, without a loop")
    return _merged(_load((file.parent / parent).resolve(), depth + 1), document)


def _merged(parent: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(parent)
    for key, value in child.items():
        old = result.get(key)
        result[key] = _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return result


def _entries(value: object, file: Path, key: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``plugins`` / ``markdown_extensions``: a list of names and one-key mappings, or a mapping (mkdocs 1.4+)."""
    if value is None:
        return
    items: Iterable[object] = (
        [{name: options} for name, options in value.items()]
        if isinstance(value, dict)
        else value
        if isinstance(value, list)
        else [value]
    )
    for item in items:
        if isinstance(item, str):
            yield item, {}
        elif isinstance(item, dict) and len(item) == 1:
            [(name, options)] = item.items()
            yield str(name), options if isinstance(options, dict) else {}
        else:
            raise ConfigError(
                f"{file}: '{key}' has {item!r}, which is neither a name nor a mapping of one name to its options"
            )


def _python_names(value: object) -> Iterator[PythonName]:
    if isinstance(value, PythonName):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _python_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _python_names(item)


def read_config(root: Path, name: str) -> MkDocsConfig:
    file = root / name
    document = _load(file)
    theme = document.get("theme", "mkdocs")
    if isinstance(theme, dict):
        theme = theme.get("name")
    if theme is not None and not isinstance(theme, str):
        raise ConfigError(f"{file}: 'theme' must be a theme's name or a mapping with 'name'")
    plugins = []
    for plugin_name, options in _entries(document.get("plugins", ["search"]), file, "plugins"):
        handlers: tuple[str, ...] = ()
        if plugin_name == "mkdocstrings":
            declared = options.get("handlers")
            default = options.get("default_handler", DEFAULT_HANDLER)
            handlers = tuple(sorted({str(default), *(declared if isinstance(declared, dict) else {})}))
        plugins.append(Plugin(plugin_name, options.get("enabled", True), handlers))
    extensions = tuple(
        extension for extension, _ in _entries(document.get("markdown_extensions"), file, "markdown_extensions")
    )
    modules = tuple(dict.fromkeys(name.module for name in _python_names(document)))
    return MkDocsConfig(
        file=file, theme=theme, plugins=tuple(plugins), markdown_extensions=extensions, python_modules=modules
    )


@attrs.frozen
class Requirements:
    """The distributions a zero-config MkDocs stage installs, and what mkdocs.yml names that pyrel cannot map."""

    lines: tuple[str, ...]
    unknown: tuple[str, ...]  # "plugin 'x'", "theme 'y'"


def requirements(config: MkDocsConfig, provided: Mapping[str, frozenset[str]]) -> Requirements:
    """``mkdocs`` and the distributions behind the theme, plugins and extensions, by the table.

    ``provided``: the project's own entry points (``mkdocs.plugins``, ``mkdocs.themes``), which its
    wheel brings.  A Markdown extension or ``!!python/name:`` module the table does not know may be the
    project's own (or a module beside mkdocs.yml): it adds nothing, and a missing one fails the build
    with Python's "No module named", which the stage's hint explains.
    """
    known = table()
    lines: list[str] = ["mkdocs"]
    unknown: list[str] = []
    if config.theme is not None and config.theme not in provided.get(THEME_ENTRY_POINTS, frozenset()):
        distribution = known.themes.get(config.theme)
        if distribution is None:
            unknown.append(f"theme '{config.theme}'")
        elif distribution:
            lines.append(distribution)
    for plugin in config.plugins:
        if plugin.name in provided.get(PLUGIN_ENTRY_POINTS, frozenset()):
            continue
        distribution = known.plugin(plugin.name)
        if distribution is None:
            unknown.append(f"plugin '{plugin.name}'")
        elif plugin.handlers:
            lines.append(f"{distribution}[{','.join(plugin.handlers)}]")
        elif distribution:
            lines.append(distribution)
    modules = [
        extension.split(".", 1)[0]
        for extension in config.markdown_extensions
        if extension not in known.builtin_extensions
    ]
    for module in [*modules, *config.python_modules]:
        if known.modules.get(module):
            lines.append(known.modules[module])
    return Requirements(tuple(_merge_extras(lines)), tuple(unknown))


def _merge_extras(lines: Iterable[str]) -> list[str]:
    """One line per distribution, its extras united (``mkdocs-material`` and ``mkdocs-material[imaging]``)."""
    extras: dict[str, set[str]] = {}
    for line in lines:
        requirement = Requirement(line)
        extras.setdefault(requirement.name, set()).update(requirement.extras)
    return [f"{name}[{','.join(sorted(names))}]" if names else name for name, names in extras.items()]


def covered_by(what: str, declared: Iterable[str]) -> bool:
    """A plugin or theme (``plugin 'i18n'``) that a declared requirement names: ``mkdocs-static-i18n``."""
    wanted = canonicalize_name(what.split("'")[1].rsplit("/", 1)[-1])
    for text in declared:
        try:
            name = canonicalize_name(Requirement(text).name)
        except InvalidRequirement:
            continue
        if wanted in name:
            return True
    return False


def git_plugins(config: MkDocsConfig, environment: Mapping[str, str]) -> list[str]:
    """The plugins that read the git history and are enabled with the stage's environment."""
    return [
        plugin.name
        for plugin in config.plugins
        if plugin.name in table().git_plugins and plugin.enabled_in(environment)
    ]


def project_entry_points(pyproject: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The project's own MkDocs plugins and themes ([project.entry-points], Poetry's plugins table)."""
    found: dict[str, frozenset[str]] = {}
    project = pyproject.get("project")
    tool = pyproject.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    tables = [
        project.get("entry-points") if isinstance(project, dict) else None,
        poetry.get("plugins") if isinstance(poetry, dict) else None,
    ]
    for group in (PLUGIN_ENTRY_POINTS, THEME_ENTRY_POINTS):
        names: set[str] = set()
        for entry_points in tables:
            if isinstance(entry_points, dict) and isinstance(entry_points.get(group), dict):
                names.update(str(name) for name in entry_points[group])
        found[group] = frozenset(names)
    return found
