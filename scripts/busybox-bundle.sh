#!/bin/sh
# Make an OCI bundle in DIR from the host's static busybox (Debian's busybox-static):
# DIR/rootfs with /bin/busybox and one symlink per applet, and DIR/config.json from
# `hullrt spec` with the given command (default: sh). Nothing is downloaded.
set -eu
dir=${1:?usage: busybox-bundle.sh DIR [COMMAND...]}
shift
hullrt=${HULLRT:-$(dirname "$0")/../bin/hullrt}
busybox=${BUSYBOX:-/bin/busybox}
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || {
	echo "busybox-bundle: $busybox is not a static busybox (apt-get install busybox-static)" >&2
	exit 1
}
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/root"
cp "$busybox" "$dir/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
chmod 1777 "$dir/rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$hullrt" spec --bundle "$dir"
if [ $# -gt 0 ]; then
	# Replace the default interactive sh with the command, without a terminal.
	args=$(printf '%s\n' "$@" | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' | paste -sd, -)
	sed -i "s|\"terminal\": true|\"terminal\": false|; /\"args\": \[/,/\]/c\\
		\"args\": [$args]," "$dir/config.json"
fi
