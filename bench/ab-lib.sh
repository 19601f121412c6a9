# bench/ab-lib.sh — what bench/ab*.sh share; sourced, not run.
#
# ab_root: a temporary root and state for the builds under test ($tmp, and $g:
# the --root/--state flags), removed on exit unless the script sets its own trap.
# ab_time CMD...: runs CMD and appends its wall time (in 1/100 ms) to times[$b]
# for the binary $b under test. ab_report HULL...: each binary's median and
# minimum wall time.

declare -A times

ab_root() {
	tmp=$(mktemp -d)
	g=(--root "$tmp/root" --state "$tmp/state")
	trap 'rm -rf "$tmp"' EXIT
}

ab_time() {
	local s e
	s=$(date +%s%N)
	"$@"
	e=$(date +%s%N)
	times[$b]+="$(((e - s) / 10000)) "
}

ab_report() {
	for b in "$@"; do
		echo "$b $(tr ' ' '\n' <<<"${times[$b]}" | grep . | sort -n | awk '{a[NR]=$1} END{printf "p50 %.1f ms  min %.1f ms", a[int((NR+1)/2)]/100, a[1]/100}')"
	done
}
