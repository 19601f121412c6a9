#!/bin/bash
# bench/abcmd.sh N ROOT STATE "ARGS" HULL... — A/B of hull builds on one existing
# root and state: `hull --root ROOT --state STATE ARGS` N times with each binary,
# alternating (one unmeasured round first), stdout to /dev/null; prints each
# binary's median and minimum wall time. For read-only commands (ps, inspect,
# exec) on a root set up beforehand, e.g. with 500 running containers; hull
# against podman is bench/engine's part scale.
set -euo pipefail
n=$1 root=$2 state=$3 args=$4
shift 4
declare -A times
for ((i = 0; i <= n; i++)); do
	for b in "$@"; do
		s=$(date +%s%N)
		# shellcheck disable=SC2086 # ARGS is split into words on purpose
		"$b" --root "$root" --state "$state" $args >/dev/null
		e=$(date +%s%N)
		((i == 0)) || times[$b]+="$(((e - s) / 10000)) "
	done
done
for b in "$@"; do
	echo "$b $(tr ' ' '\n' <<<"${times[$b]}" | grep . | sort -n | awk '{a[NR]=$1} END{printf "p50 %.1f ms  min %.1f ms", a[int((NR+1)/2)]/100, a[1]/100}')"
done
