"""A tiny package with one C extension."""

from cext_demo._speedups import add, greet

__all__ = ["add", "greet"]
