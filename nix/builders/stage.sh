# Run one release stage: a writable copy of the project source, the stage's
# commands, then checks that every declared output exists.
fail() { echo "pyrel: $*" >&2; exit 1; }

mkdir -p "$out"
# What the root's tools need to find their files inside it (root.sh wrote it).
if [ -f "$root/nix-support/pyrel-env.sh" ]; then . "$root/nix-support/pyrel-env.sh"; fi
work="$TMPDIR/src"
cp -dR "$src" "$work"
chmod -R u+w "$work"
cd "$work"

# shellcheck disable=SC3040 # busybox sh has pipefail
set -o pipefail
sh -eu "$runScript"

cd "$out"
# Archives are rewritten deterministically by the stage's Python; a stage
# without Python (python = false) keeps its archives as its commands wrote them.
if [ -n "$python" ] && [ -x "$python" ]; then
  "$python" -I -S "$normalizer" "$out" "$SOURCE_DATE_EPOCH"
fi
set -f
for glob in $outputGlobs; do
  set +f
  # shellcheck disable=SC2086 # the declared glob, expanded in $out
  set -- $glob
  set -f
  [ -e "$1" ] || fail "no output matches '$glob' (the stage's commands must write it into \$out)"
done
