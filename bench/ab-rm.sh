#!/bin/bash
# bench/ab-rm.sh N HULL... — `rm` of 50 stopped containers, N rounds of each
# binary, alternating, on one temporary root: each round starts 50 `run -d
# --network none --name rI busybox sleep 1000` at once with the binary under test,
# kills them, waits until `ps -q` lists none, and times one `rm r1 ... r50`;
# prints each binary's median and minimum.
set -euo pipefail
. "$(dirname "$0")/ab-lib.sh"
n=$1; shift
ab_root
"$1" "${g[@]}" import --busybox >/dev/null
names=$(seq -f r%g 50)
for ((i = 0; i < n; i++)); do
	for b in "$@"; do
		for name in $names; do
			"$b" "${g[@]}" run -d --network none --name "$name" busybox sleep 1000 >/dev/null &
		done
		wait
		"$b" "${g[@]}" kill $names >/dev/null
		while [ -n "$("$b" "${g[@]}" ps -q)" ]; do sleep 0.1; done
		ab_time "$b" "${g[@]}" rm $names >/dev/null
	done
done
ab_report "$@"
