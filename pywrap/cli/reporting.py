"""The one place a :class:`~pywrap.errors.PyrelError` becomes a message and an exit code.

Every command runs inside :meth:`PyrelGroup.invoke` of the ``pyrel`` group, so a
command only raises: the error's text goes to stderr, its kind's ``exit_code``
is the exit status, and the traceback is printed only under ``--debug``.
"""

from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from pywrap import logger
from pywrap.config.loader import load_project
from pywrap.config.model import Project, in_config_terms
from pywrap.errors import PyrelError, exit_codes

if TYPE_CHECKING:
    from typer._click import Context  # typer's own click: what TyperGroup.invoke is given

#: The configuration file of the project the running command loaded (open_project): an error's advice
#: names the tables as that file spells them (a pyrel.toml writes [stages.X], not [tool.pyrel.stages.X]).
_config_name: ContextVar[str] = ContextVar("config_name", default="pyproject.toml")


def open_project(project_dir: Path) -> Project:
    """The command's project (load_project), whose configuration file the errors it raises then speak of."""
    project = load_project(project_dir)
    _config_name.set(project.config_file.name)
    return project


class PyrelGroup(TyperGroup):
    """The ``pyrel`` group: runs a command and reports the PyrelError it raises."""

    def invoke(self, ctx: "Context") -> Any:
        token = _config_name.set("pyproject.toml")
        try:
            return super().invoke(ctx)
        except PyrelError as error:
            error.message = in_config_terms(error.message, _config_name.get())
            error.hint = error.hint and in_config_terms(error.hint, _config_name.get())
            report(error, debug=bool(ctx.params.get("debug")))
            raise typer.Exit(error.exit_code) from None
        finally:
            _config_name.reset(token)


def report(error: PyrelError, *, debug: bool = False) -> None:
    """Say what went wrong (and, with ``--debug``, where in pyrel)."""
    if debug:
        import traceback

        traceback.print_exception(error)
    logger.error(str(error))


def exit_code_help() -> str:
    """The exit codes for ``pyrel --help``'s epilog, one a line, from the error classes themselves."""
    lines = [f"  {code:>2}  {description}" for code, description in exit_codes()]
    return "Exit codes:\n" + "\n".join(lines).replace("[", "\\[")  # plain text, not rich markup
