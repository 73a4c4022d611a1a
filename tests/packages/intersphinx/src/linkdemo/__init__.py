"""Cross-references to another project's documentation."""

__version__ = "1.0.0"


def make() -> object:
    """Make an :py:class:`upstream.Widget` (documented elsewhere)."""
    return object()
