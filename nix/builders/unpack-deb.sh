# Unpack one pinned .deb into a store path of its files.
mkdir -p "$out"
dpkg-deb -x "$deb" "$out"
