#!/bin/bash
# bench/ab-bridge.sh N HULL... — bench/ab.sh on the default bridge: `run --rm
# busybox true` N times with each binary, alternating, on one temporary root with
# a default network of its own (bridge hullab0, 10.215.90.0/24) and one
# container running on it the whole time (so no run makes or deletes the bridge);
# prints each binary's median and minimum wall time.
set -euo pipefail
. "$(dirname "$0")/ab-lib.sh"
n=$1; shift
export HULL_DEFAULT_SUBNET=10.215.90.0/24 HULL_DEFAULT_BRIDGE=hullab0
ab_root
cleanup() {
	"$1" "${g[@]}" rm -f resident >/dev/null 2>&1 || true
	"$1" "${g[@]}" network prune -f >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap "cleanup $1" EXIT
"$1" "${g[@]}" import --busybox >/dev/null
"$1" "${g[@]}" run -d --name resident busybox sleep 100000 >/dev/null
for ((i = 0; i < n; i++)); do
	for b in "$@"; do
		ab_time "$b" "${g[@]}" run --rm busybox true
	done
done
ab_report "$@"
