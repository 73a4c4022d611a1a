# A stage's Python environment: a venv (pyvenv.cfg next to bin/) over the
# toolchain root's interpreter, whose site-packages holds one .pth listing the
# stage's unpacked wheels.  Python finds its packages without PYTHONPATH, so
# subprocesses that clean their environment (test plugins running `mypy`,
# build frontends) still see them.  Console scripts get this Python's shebang,
# and each wheel's .data/scripts join them on PATH (console_scripts.py): a
# `#!python` script gets this Python, a program is linked as it is (a manylinux
# one gets the locked ELF loader pyrel mounts where it asks for it).
interpreter_name=$(basename "$python")
version=${interpreter_name#python}
site="$out/lib/$interpreter_name/site-packages"
mkdir -p "$out/bin" "$site"
printf 'home = %s\ninclude-system-site-packages = false\nversion = %s\n' "$(dirname "$python")" "$version" \
  > "$out/pyvenv.cfg"
ln -s "$python" "$out/bin/$interpreter_name"
ln -s "$interpreter_name" "$out/bin/python"
ln -s "$interpreter_name" "$out/bin/python3"
: > "$site/pyrel-wheels.pth"
for wheel_site in $wheelSites; do
  echo "$wheel_site" >> "$site/pyrel-wheels.pth"
done
for wheel_site in $wheelSites; do
  "$out/bin/python" -B "$consoleScripts" "$wheel_site" "$out/bin"
done
# Each wheel's data and headers schemes (unpack-wheel.sh), linked file by file
# into this prefix (sys.prefix, where sysconfig's `data` and `include` paths
# point). Two wheels installing the same file is an error, not a silent choice.
link_tree() {
  [ -d "$1" ] || return 0
  (cd "$1" && find . ! -type d) | while IFS= read -r file; do
    target="$2/${file#./}"
    if [ -e "$target" ] || [ -L "$target" ]; then
      echo "pyrel: two of the stage's wheels install ${target#"$out"/} (the second: $1)" >&2
      exit 1
    fi
    mkdir -p "$(dirname "$target")"
    ln -s "$1/${file#./}" "$target"
  done
}
for wheel_site in $wheelSites; do
  link_tree "$(dirname "$wheel_site")/data" "$out"
  link_tree "$(dirname "$wheel_site")/headers" "$out/include/site/$interpreter_name"
done
