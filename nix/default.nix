# Entry point: builds the stages of a plan written by `pyrel` (see plan.py).
#   nix-build nix/default.nix --argstr planFile /abs/plan.json --argstr projectRoot /abs/project
{ planFile, projectRoot }:
let
  plan = builtins.fromJSON (builtins.readFile planFile);
  lib = import ./lib.nix { system = plan.system; };
  inherit (builtins) map listToAttrs;

  bootstrap = lib.bootstrapFor plan.bootstrap;
  busybox = lib.mkBusybox bootstrap;

  roots = listToAttrs (map (toolchain: {
    name = toolchain.id;
    value = lib.mkRoot { inherit busybox toolchain; patchelfDebs = plan.patchelf; };
  }) plan.toolchains);

  source = lib.projectSource { root = /. + projectRoot; files = plan.sourceFiles; };

  # Stages are listed in dependency order by the planner, so every input stage
  # is already defined when a later stage refers to it.
  stages = builtins.foldl' (built: stage:
    let
      root = roots.${stage.toolchain};
      wheels = map (lib.unpackWheel { inherit busybox root; python = stage.python; }) stage.wheels;
      inputs = listToAttrs (map (n: { name = n; value = built.${n}; }) stage.inputs);
      pythonEnv = if stage.python == "" then null else lib.mkPythonEnv {
        inherit busybox root wheels;
        python = stage.python;
        name = stage.derivationName;
      };
    in built // {
      ${stage.name} = lib.mkStage { inherit busybox root pythonEnv source inputs stage; };
      # What the stage's sandbox can see, for the audit: its inputs' runtime closure.
      "${stage.name}-inputs" = [ root busybox source ] ++ (if pythonEnv == null then [ ] else [ pythonEnv ])
        ++ builtins.attrValues inputs;
    }) { } plan.stages;
in stages
