#!/bin/sh
# Make an OCI bundle in DIR from the host's static busybox (Debian's busybox-static):
# DIR/rootfs with /bin/busybox and one symlink per applet, and DIR/config.json from
# `hullrt spec`. With SCRIPT, the container runs it (as /script.sh, with sh, without
# a terminal) instead of the default interactive sh. Nothing is downloaded.
set -eu
dir=${1:?usage: busybox-bundle.sh DIR [SCRIPT]}
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
if [ $# -gt 1 ]; then
	printf '%s\n' "$2" >"$dir/rootfs/script.sh"
	sed -i 's|"terminal": true|"terminal": false|; s|"sh"$|"sh", "/script.sh"|' "$dir/config.json"
fi
