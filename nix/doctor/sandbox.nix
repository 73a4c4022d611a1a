# `pyrel doctor`: one trivial derivation that must build in the sandbox.
#   nix-build nix/doctor/sandbox.nix --argstr busybox /nix/store/...-pyrel-doctor-busybox --argstr nonce N
# The builder checks that the host is out of sight (no /usr, no host home, no
# network interface but loopback); the nonce makes every run a real build.
{ busybox, nonce }:
derivation {
  name = "pyrel-doctor-sandbox";
  system = builtins.currentSystem;
  builder = "${builtins.storePath busybox}/bin/busybox";
  args = [ "sh" "-c" ''
    set -eu
    bb=${builtins.storePath busybox}/bin/busybox
    if $bb test -e /usr/bin; then echo "pyrel-doctor: /usr/bin is visible: the build is not sandboxed" >&2; exit 1; fi
    if $bb test -e /root || $bb test -e /home; then echo "pyrel-doctor: the host's home directories are visible" >&2; exit 1; fi
    $bb echo "sandboxed ${nonce}" > $out
  '' ];
  inherit nonce;
}
