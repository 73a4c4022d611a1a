# A stage root from nixpkgs packages: links to every program of each package
# under $out/usr/bin (Python follows the link to find its prefix).
mkdir -p "$out/usr/bin"
for package in $packages; do
  [ -d "$package/bin" ] || continue
  for program in "$package"/bin/*; do
    name=$(basename "$program")
    [ -e "$out/usr/bin/$name" ] || ln -s "$program" "$out/usr/bin/$name"
  done
done
