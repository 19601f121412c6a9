#!/bin/sh
# hull's main job on an embedded default, with no network: build hullrt, make a
# busybox bundle from the host's busybox-static, and run a container that shows what
# isolates it. Run as root: sudo make demo
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo make demo)" >&2; exit 1; }
scripts/deps.sh demo
make -s build >/dev/null
tmp=$(mktemp -d /tmp/hull-demo.XXXXXX)
trap 'bin/hullrt --root "$tmp/state" delete --force demo >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
scripts/busybox-bundle.sh "$tmp/bundle" '
echo "== inside a hull container"
echo "my pid:      $$ (the first process of its own pid namespace)"
echo "processes:   $(ps -o pid,args | tail -n +2 | wc -l) visible"
echo "hostname:    $(hostname)"
echo "user:        $(id)"
echo "caps:        $(grep CapEff /proc/self/status)"
echo "no_new_privs: $(grep NoNewPrivs /proc/self/status | cut -f2)"
echo "network:     $(ls /sys/class/net | tr "\n" " ")"
echo "cgroup:      $(cat /proc/self/cgroup | head -1)"
echo "== mounts"
cat /proc/self/mounts'
sed -i 's/"hostname": "hullrt"/"hostname": "demo"/' "$tmp/bundle/config.json"
cd "$tmp/bundle"
"$OLDPWD/bin/hullrt" --root "$tmp/state" run demo
