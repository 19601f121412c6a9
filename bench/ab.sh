#!/bin/bash
# bench/ab.sh N HULL... — A/B of hull builds: `run --rm --network none busybox true`
# N times with each binary, alternating, on one temporary root (busybox imported
# by the first binary); prints each binary's median and minimum wall time. For
# comparing a change against the build before it; hull against podman is
# bench/engine.
set -euo pipefail
n=$1; shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g=(--root "$tmp/root" --state "$tmp/state")
"$1" "${g[@]}" import --busybox >/dev/null
declare -A times
for ((i = 0; i < n; i++)); do
	for b in "$@"; do
		s=$(date +%s%N)
		"$b" "${g[@]}" run --rm --network none busybox true
		e=$(date +%s%N)
		times[$b]+="$(((e - s) / 10000)) "
	done
done
for b in "$@"; do
	echo "$b $(tr ' ' '\n' <<<"${times[$b]}" | grep . | sort -n | awk '{a[NR]=$1} END{printf "p50 %.1f ms  min %.1f ms", a[int((NR+1)/2)]/100, a[1]/100}')"
done
