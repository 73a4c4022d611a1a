"""The one interface of the toolchain providers, and the choice between them.

A provider says where a stage's system tools come from.  Both share the same
stage plan (wheels, commands, inputs, outputs): ``debian`` builds the stage's
root from pinned ``.deb`` files (``nix/default.nix``), ``nixpkgs`` links it
from a pinned nixpkgs (``nix/nixpkgs.nix``).  Pure: no program runs here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pywrap.config.model import Project
from pywrap.errors import ConfigError

if TYPE_CHECKING:
    from pywrap.execution.plan import Plan


class Provider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def entry(self) -> str:
        """The static Nix entry file (under pyrel's ``nix/``) that builds a plan with this provider."""
        ...

    def apply(self, stage_plan: Plan, project: Project) -> Plan:
        """The stage plan with this provider's toolchain data added (a new dict)."""
        ...


class DebianProvider:
    """Pinned Debian packages, resolved by ``pyrel lock`` (see providers/debian.py)."""

    name = "debian"
    entry = "default.nix"

    def apply(self, stage_plan: Plan, project: Project) -> Plan:
        return stage_plan  # the plan already names the locked .debs


def provider_for(project: Project) -> Provider:
    if project.provider == "nixpkgs":
        from pywrap.providers import nixpkgs

        if project.nixpkgs is None:  # the loader refuses this; a Project built by hand may lack it
            raise ConfigError(f"{project.config_file}: provider \"nixpkgs\" needs a pinned 'nixpkgs'")
        return nixpkgs.NixpkgsProvider(project.nixpkgs)
    return DebianProvider()
