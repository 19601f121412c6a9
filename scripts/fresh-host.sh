#!/bin/sh
# Make this host look like a fresh machine to the test suite: remove the host state
# that earlier runs of hull, its tests and its peers can leave and that a new
# machine does not have. .ci/run calls it before `make check`, so that a test which
# passes only thanks to a leftover (an empty /run/netns mount made by an earlier
# `ip netns add`, an image or network some earlier run left) fails in CI rather
# than for a new user.
#
# It destroys hull's default state (/var/lib/hull, /run/hull, /run/hullrt) and every
# container, bridge and nftables table of any hull root: run it only on a machine
# whose hull state is disposable (CI). Usage: scripts/fresh-host.sh --yes
set -u
[ "${1:-}" = --yes ] || { echo "usage: $0 --yes   (removes all hull state on this host)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "fresh-host: run as root" >&2; exit 1; }

say() { echo "fresh-host: $*"; }

# Processes first: monitors (which would restart containers), then every process of
# a hull cgroup (containers of any root are in /hull-<id> or a pod's parent).
pkill -KILL -x hull-monitor 2>/dev/null && say "killed hull-monitor processes"
pkill -KILL -f '^[^ ]*/hull .*monitor' 2>/dev/null && say "killed hull monitors"
for top in /sys/fs/cgroup /sys/fs/cgroup/*; do
	[ -d "$top" ] || continue
	for cg in "$top"/hull-* "$top"/hull.slice "$top"/hullrt*; do
		[ -d "$cg" ] || continue
		# deepest first: a cgroup is removable only once its children are gone
		find "$cg" -depth -type d | while read -r d; do
			[ -w "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null
			[ -w "$d/freezer.state" ] && echo THAWED >"$d/freezer.state" 2>/dev/null
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		done
		for i in 1 2 3 4 5 6 7 8 9 10; do
			find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$cg" ] || break
			sleep 0.2
		done
		[ -d "$cg" ] && say "could not remove cgroup $cg" || say "removed cgroup $cg"
	done
done

# Mounts under hull's default roots (overlay snapshots, bind mounts), deepest first,
# then the roots themselves.
for root in /var/lib/hull /run/hull /run/hullrt; do
	[ -e "$root" ] || continue
	awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$root" && say "removed $root"
done

# The peers' default state roots, left (empty) by runs that passed no --root.
for d in /run/runc /run/crun; do
	[ -d "$d" ] && rmdir "$d" 2>/dev/null && say "removed $d"
done

# Named network namespaces: a fresh machine has no /run/netns at all. `ip netns add`
# makes it a bind mount of itself the first time it runs.
if [ -d /run/netns ]; then
	for ns in /run/netns/*; do
		[ -e "$ns" ] || continue
		umount "$ns" 2>/dev/null
		rm -f "$ns"
	done
	while mountpoint -q /run/netns; do umount /run/netns || break; done
	rmdir /run/netns 2>/dev/null && say "removed /run/netns"
fi

# Links: every hull bridge (of any root), the veths still plugged into one, and the
# default bridges podman and docker make when their tests ran with a network.
for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
	case "$br" in
	hull*|cni-podman*|podman[0-9]*|docker0) ;;
	*) continue ;;
	esac
	for port in $(ip -o link show master "$br" 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
		ip link del "$port" 2>/dev/null
	done
	ip link del "$br" && say "removed bridge $br"
done

# nftables: hull's tables are named hull*; podman's CNI and docker keep theirs by
# other names and are left to them.
if command -v nft >/dev/null; then
	nft list tables 2>/dev/null | while read -r _ family name; do
		case "$name" in hull*) nft delete table "$family" "$name" && say "removed nftables table $family $name" ;; esac
	done
fi

# CNI's leases and podman's default network config, written by podman runs with a
# network; a fresh machine has neither.
rm -rf /var/lib/cni /run/cni
exit 0
