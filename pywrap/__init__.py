"""pyrel: hermetic, audited release builds for Python projects, one Nix sandbox per stage."""

#: pyproject.toml's [project] version (flake.nix reads that one; a unit test keeps the two equal): attestations
#: and CI workflows take it from here, without a package metadata lookup at run time.
__version__ = "0.1.0"
#: pyproject.toml's [project] name (a unit test keeps the two equal): the distribution, free on the index
#: (the package directory stays ``pywrap/``; "pywrap" and "pyrel" there are other projects).
DISTRIBUTION = "pyrel-nix"
