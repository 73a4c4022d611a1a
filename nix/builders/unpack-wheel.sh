# Unpack one pinned wheel onto a PYTHONPATH entry and precompile its bytecode
# (the store is read-only, so without it Python recompiles on every run).
mkdir -p "$out/site"
cd "$out/site"
unzip -q "$wheel"
for data in *.data; do
  [ -d "$data" ] || continue
  for scheme in purelib platlib; do
    if [ -d "$data/$scheme" ]; then cp -dR "$data/$scheme/." .; fi
  done
  # Scripts (maturin's program, old-style setup.py scripts): installers make them
  # executable; python-env.sh puts them on the stage's PATH.
  if [ -d "$data/scripts" ]; then
    mkdir -p "$out/bin"
    cp -dR "$data/scripts/." "$out/bin/"
    find "$out/bin" -type f -exec chmod 755 {} +
  fi
  # The data scheme (files for the environment's prefix: share/jupyter/...,
  # man pages) and the headers scheme (include/site/pythonX.Y/<name>/), kept
  # beside site/: python-env.sh links them into the stage environment's prefix,
  # where an installer would have put them.
  if [ -d "$data/data" ]; then
    mkdir -p "$out/data"
    cp -dR "$data/data/." "$out/data/"
  fi
  if [ -d "$data/headers" ]; then
    mkdir -p "$out/headers/${data%%-*}"
    cp -dR "$data/headers/." "$out/headers/${data%%-*}/"
  fi
  rm -rf "$data"
done
chmod -R u+w,go-w "$out"
"$python" -B -m compileall -f -q -j 0 --invalidation-mode unchecked-hash "$out/site" >/dev/null
