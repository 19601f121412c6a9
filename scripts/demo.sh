#!/bin/sh
# hull's main job on an embedded default, with no network: build hull, make a busybox
# image from the host's busybox-static, and run a container from it that shows what
# isolates it. Everything lives in a temporary root, removed at the end.
# Run as root: make demo
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (make demo)" >&2; exit 1; }
scripts/deps.sh demo
make -s build >/dev/null
tmp=$(mktemp -d /tmp/hull-demo.XXXXXX)
hull() { bin/hull --root "$tmp/root" --state "$tmp/state" "$@"; }
trap 'hull rm -f demo >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
hull import --busybox >/dev/null
hull images
echo
hull run --rm --name demo --hostname demo --network none -m 64m busybox sh -c '
echo "== inside a hull container (hull run --rm busybox)"
echo "my pid:       $$ (the first process of its own pid namespace)"
echo "processes:    $(ps -o pid | tail -n +2 | wc -l) visible"
echo "hostname:     $(hostname)"
echo "user:         $(id)"
echo "capabilities: $(grep CapEff /proc/self/status | cut -f2) (Docker'"'"'s 14)"
echo "seccomp:      mode $(grep Seccomp: /proc/self/status | cut -f2) (2 = filter: Docker'"'"'s default profile)"
echo "network:      $(ls /sys/class/net | tr "\n" " ")"
echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) bytes"
echo "pids limit:   $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "== mounts"
cat /proc/self/mounts'
