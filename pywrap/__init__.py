"""pyrel: hermetic, audited release builds for Python projects, one Nix sandbox per stage."""

#: The one place the version is written (pyproject.toml reads it from here): no package metadata lookup at run time.
__version__ = "0.1.0"
