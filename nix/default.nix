# Entry point: builds the stages of a plan written by `pyrel` (see plan.py).
#   nix-build nix/default.nix --argstr planFile /abs/plan.json --argstr projectRoot /abs/project
{ planFile, projectRoot }:
let
  # Refuses a plan of another schema version (nix/plan.nix).
  plan = (import ./plan.nix).read planFile;
  lib = import ./lib.nix { system = plan.system; };
  inherit (builtins) map listToAttrs;

  bootstrap = lib.bootstrapFor plan.bootstrap;
  busybox = lib.mkBusybox bootstrap;
  # The locked ELF loader `pyrel build` mounts at its standard path (a plan without one: no loader).
  loader = if plan.loader or null == null then null else lib.loaderFor plan.loader;

  roots = listToAttrs (map (toolchain: {
    name = toolchain.id;
    value = lib.mkRoot { inherit busybox toolchain; patchelfDebs = plan.patchelf; };
  }) plan.toolchains);

  source = lib.projectSource { root = /. + projectRoot; files = plan.sourceFiles; };

  stages = lib.mkStages {
    inherit plan busybox source bootstrap loader;
    rootFor = stage: roots.${stage.toolchain};
  };
in stages
