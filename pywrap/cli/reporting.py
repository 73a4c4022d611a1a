"""The one place a :class:`~pywrap.errors.PyrelError` becomes a message and an exit code.

Every command runs inside :meth:`PyrelGroup.invoke` of the ``pyrel`` group, so a
command only raises: the error's text goes to stderr, its kind's ``exit_code``
is the exit status, and the traceback is printed only under ``--debug``.
"""

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from pywrap import logger
from pywrap.errors import PyrelError, exit_codes

if TYPE_CHECKING:
    from typer._click import Context  # typer's own click: what TyperGroup.invoke is given


class PyrelGroup(TyperGroup):
    """The ``pyrel`` group: runs a command and reports the PyrelError it raises."""

    def invoke(self, ctx: "Context") -> Any:
        try:
            return super().invoke(ctx)
        except PyrelError as error:
            report(error, debug=bool(ctx.params.get("debug")))
            raise typer.Exit(error.exit_code) from None


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
