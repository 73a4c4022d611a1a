{
  description = "pyrel: hermetic, audited release builds for Python projects, one Nix sandbox per stage";

  # The stage builders are plain `builtins.derivation`s reading a plan JSON:
  # they need no nixpkgs.  `lib.stages` builds the stages of a plan written by
  # `pyrel` (`.pyrel/plan.json`), so a flake can call them from its own outputs.
  outputs = { self }: {
    lib = {
      stages = { planFile, projectRoot }: import ./nix/default.nix { inherit planFile projectRoot; };
      builders = import ./nix/lib.nix;
    };
  };
}
