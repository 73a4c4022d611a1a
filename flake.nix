{
  description = "pyrel: hermetic, audited release builds for Python projects, one Nix sandbox per stage";

  # Only pyrel itself (package, app, dev shell) needs nixpkgs.  The stage
  # builders are plain `builtins.derivation`s reading a plan JSON: `lib` uses no
  # input at all, so a flake can call them from its own outputs without
  # evaluating nixpkgs.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      pyproject = builtins.fromTOML (builtins.readFile ./pyproject.toml);
    in {
      lib = {
        # The stages of a plan written by `pyrel` (`.pyrel/plan.json`), tools from pinned Debian packages.
        stages = { planFile, projectRoot }: import ./nix/default.nix { inherit planFile projectRoot; };
        # The same plan with the tools from the plan's pinned nixpkgs (provider = "nixpkgs").
        nixpkgsStages = { planFile, projectRoot }: import ./nix/nixpkgs.nix { inherit planFile projectRoot; };
        builders = import ./nix/lib.nix;
      };

      packages = forAll (system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          python = pkgs.python3.pkgs;
        in rec {
          pyrel = python.buildPythonApplication {
            pname = pyproject.project.name;  # the distribution (the package directory is pywrap/)
            version = pyproject.project.version;
            pyproject = true;
            src = self;
            build-system = [ python.hatchling ];
            # Every entry of pyproject.toml's [project].dependencies, by its nixpkgs
            # attribute name, with the extras it asks for (tests/unit/test_flake_package.py).
            dependencies = with python; [
              typer attrs jinja2 rich packaging python-debian tomli-w uv packageurl-python
              cyclonedx-python-lib pyelftools pysequoia pyyaml
            ] ++ cyclonedx-python-lib.optional-dependencies.json-validation;
            # pyproject.toml's lower bounds follow PyPI; a nixpkgs release may be older.
            # The command runs Nix from the user's PATH, uv from its Python module; it needs no apt.
            pythonRelaxDeps = true;
            meta.mainProgram = "pyrel";
          };
          default = pyrel;
        });

      apps = forAll (system: rec {
        pyrel = { type = "app"; program = "${self.packages.${system}.pyrel}/bin/pyrel"; };
        default = pyrel;
      });

      devShells = forAll (system:
        let pkgs = nixpkgs.legacyPackages.${system};
        in {
          default = pkgs.mkShell {
            packages = [ pkgs.python3 pkgs.uv pkgs.busybox pkgs.actionlint pkgs.shellcheck ];
          };
        });
    };
}
