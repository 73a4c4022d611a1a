# A nixpkgs-shaped fixture for the `nixpkgs` provider's tests: the same calling
# convention (`import <nixpkgs> { system; }`) and attribute names, trivial
# derivations instead of real packages (this machine cannot reach nixpkgs).
{ system ? "x86_64-linux", ... }:
let
  fake = name: derivation {
    inherit name system;
    builder = "/fixture-only-not-buildable";
  };
  python3 = fake "python3-3.11.9" // {
    pkgs = {
      hatchling = fake "hatchling";
      typer = fake "typer"; attrs = fake "attrs"; jinja2 = fake "jinja2"; rich = fake "rich";
      packaging = fake "packaging"; python-debian = fake "python-debian"; tomli-w = fake "tomli-w";
      cyclonedx-python-lib = fake "cyclonedx-python-lib";
      buildPythonApplication = args: fake "${args.pname}-${args.version}" // { meta = args.meta or { }; };
    };
  };
in {
  inherit python3;
  mkShell = args: fake "nix-shell";
  uv = fake "uv-0.5.0";
  actionlint = fake "actionlint-1.7.4";
  busybox = fake "busybox-1.36.1";
  python311 = fake "python3-3.11.9";
  python312 = fake "python3-3.12.4";
  gnumake = fake "gnumake-4.4.1";
}
