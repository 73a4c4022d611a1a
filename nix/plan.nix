# The plan pyrel writes (pywrap/execution/plan.py, PLAN_SCHEMA_VERSION), read
# and checked.  This library reads exactly one schema version and refuses any
# other before a single field is used: a plan from another pyrel would
# otherwise build something else, or fail on a missing attribute far from the
# cause.
let
  schemaVersion = 1;

  check = planFile: plan:
    let found = plan.schemaVersion or null;
    in if found == schemaVersion then plan
    else throw ("pyrel plan schema version ${if found == null then "(none)" else builtins.toJSON found}"
      + " is not supported by this Nix library (expects ${toString schemaVersion}): ${toString planFile}"
      + " was written by another version of pyrel; build it with the nix/ library of the pyrel that wrote it"
      + " (`pyrel build` rewrites the plan)");
in {
  inherit schemaVersion;
  # planFile -> the plan's data, or an evaluation error naming both versions.
  read = planFile: check planFile (builtins.fromJSON (builtins.readFile planFile));
}
