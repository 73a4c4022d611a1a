# Run one release stage: a writable copy of the project source, the stage's
# commands, then checks that every declared output exists.
fail() { echo "pyrel: $*" >&2; exit 1; }

mkdir -p "$out"
# What the root's tools need to find their files inside it (root.sh wrote it).
if [ -f "$root/nix-support/pyrel-env.sh" ]; then . "$root/nix-support/pyrel-env.sh"; fi
# A private, empty, writable home in the build directory, never the host's:
# tools that keep caches or settings under ~ (Sphinx extensions, matplotlib,
# pip) work. Nothing there reaches $out unless a command copies it. (HOME is
# reserved; XDG directories a stage's env sets are kept.)
export HOME="$TMPDIR/home"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}" XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-$HOME/.config}"
export XDG_DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}" XDG_STATE_HOME="${XDG_STATE_HOME:-$HOME/.local/state}"
mkdir -p "$HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_STATE_HOME"
# The time-zone database, where C libraries (TZDIR) and Python's zoneinfo
# (PYTHONTZPATH) look, when the stage's root has it (system = ["tzdata"]); the
# local zone is TZ=UTC (the derivation sets it), read from that database.
if [ -d "$root/usr/share/zoneinfo" ]; then
  export TZDIR="${TZDIR:-$root/usr/share/zoneinfo}" PYTHONTZPATH="${PYTHONTZPATH:-$root/usr/share/zoneinfo}"
fi
# Programs that ask for the standard ELF loader (a wheel's manylinux programs,
# what the stage compiles) get the locked one, which pyrel mounts there, and
# find their libraries in the root; the root's own programs carry its rpath.
# A stage's own LD_LIBRARY_PATH comes first.
if [ -n "${sandboxLoader:-}" ]; then
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$pyrelLibraryPath"
  if [ ! -e "$pyrelLoaderPath" ]; then
    echo "pyrel: this sandbox has no ELF loader at $pyrelLoaderPath (pyrel mounts $sandboxLoader there with Nix's sandbox-paths, which Nix ignored): programs that ask for it cannot start" >&2
  fi
fi
work="$TMPDIR/src"
# A stage that reads only its inputs (the wheel stage: the sdist) has no copy of the project's tree.
if [ -n "${src:-}" ]; then
  cp -dR "$src" "$work"
  chmod -R u+w "$work"
else
  mkdir "$work"
fi
cd "$work"
# The project's git metadata (git = true: HEAD, the history back to the nearest
# tag, the tags), for the VCS plugins that read the version or the file list
# from git. The index is made from HEAD here, so a tracked file changed in the
# work tree makes the tree dirty, as it is on the host.
if [ -n "${pyrelGit:-}" ]; then
  cp -dR "$pyrelGit" .git
  chmod -R u+w .git
  if [ -d "$root/usr/lib/git-core" ]; then export GIT_EXEC_PATH="$root/usr/lib/git-core"; fi
  export GIT_CONFIG_NOSYSTEM=1
  git reset --quiet
fi

# shellcheck disable=SC3040 # busybox sh has pipefail
set -o pipefail
sh -eu "$runScript"

cd "$out"
# Archives are rewritten deterministically by the stage's Python; a stage
# without Python (python = false) keeps its archives as its commands wrote them,
# and one whose commands write them normalized (no $normalizer: the wheel
# stage's runner) is not rewritten twice.
if [ -n "$python" ] && [ -x "$python" ] && [ -n "$normalizer" ]; then
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
