"""Greetings, documented with MkDocs and mkdocstrings."""

__version__ = "0.3.0"


def greet(name: str) -> str:
    """Return the greeting pyrel's docs stage renders from the installed wheel.

    Args:
        name: Who to greet.

    Returns:
        A sentence greeting ``name``.
    """
    return f"Hello, {name}!"
