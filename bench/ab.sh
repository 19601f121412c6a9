#!/bin/bash
# bench/ab.sh N HULL... — A/B of hull builds: `run --rm --network none busybox true`
# N times with each binary, alternating, on one temporary root (busybox imported
# by the first binary); prints each binary's median and minimum wall time. For
# comparing a change against the build before it; hull against podman is
# bench/engine.
set -euo pipefail
. "$(dirname "$0")/ab-lib.sh"
n=$1; shift
ab_root
"$1" "${g[@]}" import --busybox >/dev/null
for ((i = 0; i < n; i++)); do
	for b in "$@"; do
		ab_time "$b" "${g[@]}" run --rm --network none busybox true
	done
done
ab_report "$@"
