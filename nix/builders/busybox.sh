# Lay out busybox with one relative symlink per applet, so plain `sh`, `cp`,
# `tar` ... resolve to it (busybox picks the applet from argv[0]'s basename).
"$busybox" mkdir -p "$out/bin"
"$busybox" cp "$busybox" "$out/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || "$busybox" ln -s busybox "$out/bin/$applet"
done
