# The `nixpkgs` provider: the same stage plan as default.nix, with each stage's
# system tools (Python, busybox, the stage's `system` attributes) taken from a
# pinned nixpkgs instead of Debian packages.  Only data comes from the plan:
#   plan.nixpkgs = { url, sha256 } (a pinned tarball) or { path } (a local tree)
#   stage.nixpkgs = [ "python311" "busybox" ... ] (attribute names)
#   nix-build nix/nixpkgs.nix --argstr planFile /abs/plan.json --argstr projectRoot /abs/project
{ planFile, projectRoot }:
let
  # Refuses a plan of another schema version (nix/plan.nix).
  plan = (import ./plan.nix).read planFile;
  lib = import ./lib.nix { system = plan.system; };
  inherit (builtins) map getAttr;

  nixpkgsSource = if plan.nixpkgs ? path then /. + plan.nixpkgs.path
    else builtins.fetchTarball { inherit (plan.nixpkgs) url sha256; };
  pkgs = import nixpkgsSource { system = plan.system; };

  busybox = pkgs.busybox;
  source = lib.projectSource { root = /. + projectRoot; files = plan.sourceFiles; };

  # The stage's tools under one root: <root>/usr/bin/<program> for every
  # package's bin/, the layout the stage builder expects of a Debian root.
  mkRoot = stage: derivation {
    name = "pyrel-nixpkgs-root-${stage.name}";
    system = plan.system;
    builder = "${busybox}/bin/sh";
    args = [ "-eu" ./builders/sandboxed.sh ./builders/nixpkgs-root.sh ];
    PATH = "${busybox}/bin";
    packages = map (name: getAttr name pkgs) stage.nixpkgs;
  };

  # /bin/sh is pyrel's pinned busybox with either provider (what `pyrel build` mounts there).
  stages = lib.mkStages {
    inherit plan busybox source;
    rootFor = stage: mkRoot stage;
    bootstrap = lib.bootstrapFor plan.bootstrap;
  };
in stages
