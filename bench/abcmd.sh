#!/bin/bash
# bench/abcmd.sh N ROOT STATE "ARGS" HULL... — A/B of hull builds on one existing
# root and state: `hull --root ROOT --state STATE ARGS` N times with each binary,
# alternating (one unmeasured round first), stdout to /dev/null; prints each
# binary's median and minimum wall time. For read-only commands (ps, inspect,
# exec) on a root set up beforehand, e.g. with 500 running containers; hull
# against podman is bench/engine's part scale.
set -euo pipefail
. "$(dirname "$0")/ab-lib.sh"
n=$1 root=$2 state=$3 args=$4
shift 4
for ((i = 0; i <= n; i++)); do
	for b in "$@"; do
		# shellcheck disable=SC2086 # ARGS is split into words on purpose
		ab_time "$b" --root "$root" --state "$state" $args >/dev/null
	done
	((i > 0)) || times=() # the unmeasured round
done
ab_report "$@"
