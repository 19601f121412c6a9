#!/bin/bash
# bench/ab-bridge.sh N HULL... — bench/ab.sh on the default bridge: `run --rm
# busybox true` N times with each binary, alternating, on one temporary root with
# a default network of its own (bridge hullab0, 10.215.90.0/24) and one
# container running on it the whole time (so no run makes or deletes the bridge);
# prints each binary's median and minimum wall time.
set -euo pipefail
n=$1; shift
tmp=$(mktemp -d)
export HULL_DEFAULT_SUBNET=10.215.90.0/24 HULL_DEFAULT_BRIDGE=hullab0
g=(--root "$tmp/root" --state "$tmp/state")
cleanup() {
	"$1" "${g[@]}" rm -f resident >/dev/null 2>&1 || true
	"$1" "${g[@]}" network prune -f >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap "cleanup $1" EXIT
"$1" "${g[@]}" import --busybox >/dev/null
"$1" "${g[@]}" run -d --name resident busybox sleep 100000 >/dev/null
declare -A times
for ((i = 0; i < n; i++)); do
	for b in "$@"; do
		s=$(date +%s%N)
		"$b" "${g[@]}" run --rm busybox true
		e=$(date +%s%N)
		times[$b]+="$(((e - s) / 10000)) "
	done
done
for b in "$@"; do
	echo "$b $(tr ' ' '\n' <<<"${times[$b]}" | grep . | sort -n | awk '{a[NR]=$1} END{printf "p50 %.1f ms  min %.1f ms", a[int((NR+1)/2)]/100, a[1]/100}')"
done
