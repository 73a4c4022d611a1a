# Merge the unpacked .debs of one toolchain into a single root and make its
# binaries run inside the sandbox, which has no /lib, /lib64 or /usr.
# The system's layout comes from nix/lib.nix (`platforms`, by the plan's
# system): $elfLoader (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1), the
# multiarch triplet $multiarch (x86_64-linux-gnu, aarch64-linux-gnu), and
# $libraryDirs, the root's library directories in search order.
mkdir -p "$out"
if [ -z "$debs" ]; then
  exit 0  # a stage with neither Python nor system packages: busybox alone
fi
for deb in $debs; do
  cp -dR "$deb/." "$out/"
  chmod -R u+w "$out"
done
for dir in $dropDirs; do rm -rf "${out:?}/$dir"; done

# Absolute symlinks (such as lib64/ld-linux-x86-64.so.2 -> /lib/...) would
# point at the host: point them inside the root.
find "$out" -type l | while read -r link; do
  target=$(readlink "$link")
  case "$target" in /*) ln -sfn "$out$target" "$link" ;; esac
done

# patchelf is itself a Debian binary: run it through the store's loader.
loader_in() {
  for candidate in "$1/lib/$multiarch/$elfLoader" "$1/usr/lib/$multiarch/$elfLoader"; do
    if [ -e "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
tool_libs=""
tool_bin=""
tool_loader=""
for deb in $patchelfDebs; do
  for dir in "lib/$multiarch" "usr/lib/$multiarch"; do
    [ -d "$deb/$dir" ] && tool_libs="$tool_libs${tool_libs:+:}$deb/$dir"
  done
  [ -x "$deb/usr/bin/patchelf" ] && tool_bin="$deb/usr/bin/patchelf"
  found=$(loader_in "$deb") && tool_loader="$found"
done
[ -n "$tool_bin" ] || { echo "pyrel: patchelf missing from the bootstrap packages" >&2; exit 1; }
[ -n "$tool_loader" ] || { echo "pyrel: no $elfLoader in the bootstrap packages" >&2; exit 1; }
patchelf() { "$tool_loader" --library-path "$tool_libs" "$tool_bin" "$@"; }

loader=$(loader_in "$out") || { echo "pyrel: the toolchain has no $elfLoader (add libc6)" >&2; exit 1; }
# DT_RPATH, not DT_RUNPATH: it also applies to the libraries' own dependencies.
rpath=""
for dir in $libraryDirs; do rpath="$rpath${rpath:+:}$out/$dir"; done
# Programs a stage compiles ask for the loader by its standard path
# (/lib64/ld-linux-x86-64.so.2, /lib/ld-linux-aarch64.so.1), where `pyrel build`
# mounts the locked one; `pyrel-run PROGRAM ARGS...` starts a program through
# the root's loader explicitly (with its libraries), mount or not.
mkdir -p "$out/usr/bin"
printf '#!%s\nexec %s --library-path %s "$@"\n' "$shell" "$loader" "$rpath" > "$out/usr/bin/pyrel-run"
chmod 755 "$out/usr/bin/pyrel-run"

# Scripts name their interpreter by host path (#!/usr/bin/perl, #!/bin/sh,
# #!/usr/bin/env python3), which the sandbox lacks: point them inside the root
# (sh is busybox's unless the root has its own). An interpreter the root does
# not have is left as it is; running the script then fails as `not found`.
patch_shebang() {
  read -r line < "$1" || true
  set -f
  # shellcheck disable=SC2086 # split into the interpreter and its argument, unglobbed
  set -- "$1" ${line#\#!}
  set +f
  [ $# -ge 2 ] || return 0
  program="$2"
  name="${program##*/}"
  if [ "$program" = /usr/bin/env ] && [ $# -ge 3 ]; then
    name="${3##*/}"
  fi
  target=""
  for candidate in "$out/usr/bin/$name" "$out/bin/$name" "$out/usr/sbin/$name" "$out/sbin/$name"; do
    if [ -x "$candidate" ]; then target="$candidate"; break; fi
  done
  if [ -z "$target" ] && [ "$name" = sh ]; then target="$shell"; fi
  [ -n "$target" ] || return 0
  if [ "$program" = /usr/bin/env ]; then
    sed -i "1s|^#! *$program  *$3|#!$target|" "$1"
  else
    sed -i "1s|^#! *$program|#!$target|" "$1"
  fi
}

elf_magic=$(printf '\177ELF')
find "$out" -type f \( -perm -u+x -o -name '*.so' -o -name '*.so.*' \) | while read -r file; do
  magic=$(head -c 4 "$file")
  case "$magic" in
    "#!"*) [ -x "$file" ] && patch_shebang "$file"; continue ;;
  esac
  [ "$magic" = "$elf_magic" ] || continue
  case "$file" in */"$elfLoader") continue ;; esac
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
  # default too, so a bare `cc` or `$multiarch-gcc` (Debian's sysconfig
  # CC) uses the root's headers, crt files and libc, and map the root's path
  # to / in debug info and __FILE__, so outputs never refer to the root.
  # (A sysroot from self_spec reaches cc1 but not ld: the link spec passes it.)
  # A specs file found there replaces the driver's built-in specs, of which
  # the link spec is only complete after the driver's own setup (--build-id,
  # --eh-frame-hdr: without it C++ exceptions in a shared object cannot be
  # caught, libgcc_s's linking): the file starts with those specs as the
  # driver prints them (-dumpspecs), then adds pyrel's.
  [ -x "$out/usr/bin/$compilerCc" ] || { echo "pyrel: $compilerCc has no usr/bin/$compilerCc" >&2; exit 1; }
  mkdir -p "$out/$compilerLibDir"
  "$out/usr/bin/$compilerCc" -dumpspecs > "$out/$compilerLibDir/specs"
  printf '*self_spec:\n+ %%{!-sysroot=*:--sysroot=%s} -ffile-prefix-map=%s/=/\n\n*link:\n+ %%{-sysroot=*:--sysroot=%%*}\n\n' \
    "$out" "$out" >> "$out/$compilerLibDir/specs"
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

# Interpreters whose module paths are compiled in as /usr/...: the variables
# that point them inside the root, which every stage using this root sources.
mkdir -p "$out/nix-support"
: > "$out/nix-support/pyrel-env.sh"
if [ -x "$out/usr/bin/perl" ]; then
  perl_lib=""
  for dir in $("$out/usr/bin/perl" -e 'print join(" ", @INC)' 2>/dev/null); do
    [ -d "$out$dir" ] && perl_lib="$perl_lib${perl_lib:+:}$out$dir"
  done
  echo "export PERL5LIB='$perl_lib'" >> "$out/nix-support/pyrel-env.sh"
fi

# TeX: Debian makes its file databases (ls-R), formats and font maps in
# maintainer scripts, which never run here. Point kpathsea inside the root
# and make them from the packages' own lists, as fmtutil and updmap would.
if [ -x "$out/usr/bin/kpsewhich" ] && [ -f "$out/usr/share/texmf/web2c/texmf.cnf" ]; then
  texvar="$out/var/lib/texmf"
  cat >> "$out/nix-support/pyrel-env.sh" <<TEXENV
export TEXMFCNF='$out/usr/share/texmf/web2c' TEXMFROOT='$out/usr/share/texlive' TEXMFDEBIAN='$out/usr/share/texmf'
export TEXMFSYSVAR='$texvar' TEXMFSYSCONFIG='$out/etc/texmf' TEXMFLOCAL='$out/usr/local/share/texmf'
export TEXMFVAR="\$TMPDIR/texmf-var" TEXMFCONFIG="\$TMPDIR/texmf-config" TEXMFHOME="\$TMPDIR/texmf-home"
export FORCE_SOURCE_DATE=1
TEXENV
  . "$out/nix-support/pyrel-env.sh"
  ls_r() {
    [ -d "$1" ] || return 0
    # (Dangling links, such as the config files maintainer scripts would have made, are left out.)
    (cd "$1" && { echo '% ls-R -- filename database for kpathsea; do not change this line.'; ls -LAR ./ 2>/dev/null || true; } > ls-R)
  }
  ls_r "$TEXMFROOT/texmf-dist"
  ls_r "$TEXMFDEBIAN"
  mkdir -p "$texvar/fonts/map/pdftex/updmap" "$texvar/web2c"
  # pdftex.map: every Map and MixedMap the installed packages declare.
  cat "$out"/var/lib/tex-common/fontmap-cfg/*/*.cfg 2>/dev/null \
    | sed -n 's/^ *\(Mixed\)\{0,1\}Map  *\([^ ]*\).*/\2/p' | sort -u | while read -r map; do
      if found=$("$out/usr/bin/kpsewhich" "$map"); then cat "$found"; else echo "pyrel: TeX font map $map not found" >&2; fi
    done > "$texvar/fonts/map/pdftex/updmap/pdftex.map"
  # The LaTeX formats of the engines the root has.
  cat "$out"/var/lib/tex-common/fmtutil-cnf/*/*.cnf 2>/dev/null | grep -v '^ *#' \
    | while read -r fmt engine _hyphenation args; do
      case "$fmt" in pdflatex|latex|xelatex|lualatex) ;; *) continue ;; esac
      [ -x "$out/usr/bin/$engine" ] || continue
      mkdir -p "$texvar/web2c/$engine"
      # $args is split into words but never globbed: fmtutil's `*pdflatex.ini` is
      # an ini file name (with TeX's `*` for extended mode), not a pattern.
      # shellcheck disable=SC2086
      if ! (set -f; cd "$texvar/web2c/$engine" && "$out/usr/bin/$engine" -ini -jobname="$fmt" -progname="$fmt" $args < /dev/null > "$fmt.log" 2>&1); then
        echo "pyrel: could not make the TeX format $fmt; the end of its log:" >&2
        tail -n 15 "$texvar/web2c/$engine/$fmt.log" >&2
        rm -f "$texvar/web2c/$engine/$fmt.fmt"
      fi
    done
  ls_r "$texvar"
fi

# (compileall runs with -B: bytecode its own imports would write uses timestamps,
# which the store resets, and compileall would then skip those files.)
if [ -n "$python" ]; then
  interpreter="$out/$python"
  bindir=$(dirname "$interpreter")
  # subprocess hard-codes /bin/sh for shell=True (and os.popen): give it the
  # stage's own shell, busybox, by store path, so that it works in a sandbox
  # without pyrel's /bin/sh too (a Nix that ignores pyrel's sandbox-paths).
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
