# Every pyrel builder starts here (args = [ "-eu" sandboxed.sh <builder>.sh ]):
# refuse to run outside Nix's sandbox, then run the builder.  Nix builds without
# the sandbox when it ignores the settings pyrel passes (its daemon ignores a
# user it does not trust, and Debian's nix.conf says sandbox = false); the
# host's /usr is in sight then.  Nothing runs, and no output is made that a
# later build could reuse.
if [ -e /usr ]; then
  echo "pyrel: not in Nix's sandbox: the host's /usr is visible, so this build refuses to run" >&2
  exit 1
fi
builder=$1
shift
. "$builder"
