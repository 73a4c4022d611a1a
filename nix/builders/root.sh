# Merge the unpacked .debs of one toolchain into a single root and make its
# binaries run inside the sandbox, which has no /lib64 or /usr.
mkdir -p "$out"
if [ -z "$debs" ]; then
  exit 0  # a stage with neither Python nor system packages: busybox alone
fi
for deb in $debs; do
  cp -dR "$deb/." "$out/"
  chmod -R u+w "$out"
done
for dir in $dropDirs; do rm -rf "$out/$dir"; done

# Absolute symlinks (lib64/ld-linux-x86-64.so.2 -> /lib/...) would point at
# the host: point them inside the root.
find "$out" -type l | while read -r link; do
  target=$(readlink "$link")
  case "$target" in /*) ln -sfn "$out$target" "$link" ;; esac
done

# patchelf is itself a Debian binary: run it through the store's loader.
loader_in() {
  for candidate in "$1/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$1/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"; do
    if [ -e "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
tool_libs=""
tool_bin=""
tool_loader=""
for deb in $patchelfDebs; do
  for dir in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
    [ -d "$deb/$dir" ] && tool_libs="$tool_libs${tool_libs:+:}$deb/$dir"
  done
  [ -x "$deb/usr/bin/patchelf" ] && tool_bin="$deb/usr/bin/patchelf"
  found=$(loader_in "$deb") && tool_loader="$found"
done
[ -n "$tool_bin" ] || { echo "pyrel: patchelf missing from the bootstrap packages" >&2; exit 1; }
[ -n "$tool_loader" ] || { echo "pyrel: no ld-linux-x86-64.so.2 in the bootstrap packages" >&2; exit 1; }
patchelf() { "$tool_loader" --library-path "$tool_libs" "$tool_bin" "$@"; }

loader=$(loader_in "$out") || { echo "pyrel: the toolchain has no ld-linux-x86-64.so.2 (add libc6)" >&2; exit 1; }
# DT_RPATH, not DT_RUNPATH: it also applies to the libraries' own dependencies.
rpath="$out/lib/x86_64-linux-gnu:$out/usr/lib/x86_64-linux-gnu:$out/lib:$out/usr/lib"
# Programs a stage compiles ask for /lib64/ld-linux-x86-64.so.2, which the
# sandbox lacks: `pyrel-run PROGRAM ARGS...` starts them through the root's loader.
mkdir -p "$out/usr/bin"
printf '#!%s\nexec %s --library-path %s "$@"\n' "$shell" "$loader" "$rpath" > "$out/usr/bin/pyrel-run"
chmod 755 "$out/usr/bin/pyrel-run"

elf_magic=$(printf '\177ELF')
find "$out" -type f \( -perm -u+x -o -name '*.so' -o -name '*.so.*' \) | while read -r file; do
  [ "$(head -c 4 "$file")" = "$elf_magic" ] || continue
  case "$file" in */ld-linux-x86-64.so.2) continue ;; esac
  # The rpath first: patchelf 0.18 (trixie) writes a crashing binary when it
  # grows the rpath of an executable whose interpreter it already moved.
  if patchelf --print-rpath "$file" >/dev/null 2>&1; then
    patchelf --force-rpath --set-rpath "$rpath" "$file"
  fi
  if patchelf --print-interpreter "$file" >/dev/null 2>&1; then
    patchelf --set-interpreter "$loader" "$file"
  fi
done

if [ -n "$compilerCc" ]; then
  # The driver reads <libdir>/specs by default: make --sysroot=<root> its
  # default too, so a bare `cc` or `x86_64-linux-gnu-gcc` (Debian's sysconfig
  # CC) uses the root's headers, crt files and libc, and map the root's path
  # to / in debug info and __FILE__, so outputs never refer to the root.
  # (A sysroot from self_spec reaches cc1 but not ld: the link spec passes it.)
  [ -x "$out/usr/bin/$compilerCc" ] || { echo "pyrel: $compilerCc has no usr/bin/$compilerCc" >&2; exit 1; }
  mkdir -p "$out/$compilerLibDir"
  printf '*self_spec:\n+ %%{!-sysroot=*:--sysroot=%s} -ffile-prefix-map=%s/=/\n\n*link:\n+ %%{-sysroot=*:--sysroot=%%*}\n\n' \
    "$out" "$out" > "$out/$compilerLibDir/specs"
  # Debian sets `cc` and `c++` with update-alternatives, a maintainer script.
  for alias in cc gcc; do
    [ -e "$out/usr/bin/$alias" ] || ln -s "$compilerCc" "$out/usr/bin/$alias"
  done
  if [ -n "$compilerCxx" ]; then
    for alias in c++ g++; do
      [ -e "$out/usr/bin/$alias" ] || ln -s "$compilerCxx" "$out/usr/bin/$alias"
    done
  fi
fi

# (compileall runs with -B: bytecode its own imports would write uses timestamps,
# which the store resets, and compileall would then skip those files.)
if [ -n "$python" ]; then
  interpreter="$out/$python"
  bindir=$(dirname "$interpreter")
  # The sandbox has no /bin/sh, which subprocess hard-codes for shell=True
  # (and os.popen): give it the stage's own shell, busybox, by store path.
  subprocess_py="$out/usr/lib/$(basename "$interpreter")/subprocess.py"
  if [ -f "$subprocess_py" ] && grep -q "else '/bin/sh')" "$subprocess_py"; then
    sed -i "s|else '/bin/sh')|else '$shell')|" "$subprocess_py"
  fi
  for alias in python python3; do
    [ -e "$bindir/$alias" ] || ln -s "$(basename "$interpreter")" "$bindir/$alias"
  done
  for dir in $compileDirs; do
    "$interpreter" -B -m compileall -f -q -j 0 --invalidation-mode unchecked-hash "$out/$dir" >/dev/null
  done
fi
