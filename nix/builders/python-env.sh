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
