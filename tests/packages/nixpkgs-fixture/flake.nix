{
  # A stand-in for the nixpkgs flake input (`--override-input nixpkgs path:...`):
  # the attributes pyrel's flake.nix uses, as trivial derivations.
  outputs = { self }:
    let
      packagesFor = system:
        let
          pkgs = import ./default.nix { inherit system; };
        in pkgs;
    in {
      legacyPackages = {
        x86_64-linux = packagesFor "x86_64-linux";
        aarch64-linux = packagesFor "aarch64-linux";
      };
    };
}
