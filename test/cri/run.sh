#!/usr/bin/env bash
# The CRI harness (test/cri/main.go) on a fresh Debian machine, as root: installs
# containerd, the CNI plugins, runc, iptables and busybox-static from Debian when
# they are missing, then runs critest with the runc and hull handlers side by side
# (-containerd v2.x.y: through containerd 2.x, built from its Go module instead).
# Arguments go to the harness (go run . -h lists them); HULLRT names the hullrt
# binary (default bin/hullrt, built by `make build`).
set -euo pipefail
cd "$(dirname "$0")"
export PATH=/usr/local/go/bin:/usr/sbin:/sbin:$PATH
export GOFLAGS=-mod=mod
need=()
for p in containerd:containerd runc:runc iptables:iptables busybox-static:busybox \
	containernetworking-plugins:/usr/lib/cni/bridge; do
	pkg=${p%%:*} bin=${p#*:}
	if [[ $bin == /* ]]; then [[ -e $bin ]] || need+=("$pkg"); else command -v "$bin" >/dev/null || need+=("$pkg"); fi
done
if ((${#need[@]})); then
	echo "== installing ${need[*]} from Debian"
	for i in 1 2 3 4 5 6; do
		if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
			break
		fi
		((i == 6)) && exit 1
		sleep 10 # apt is locked by another install
	done
fi
# Debian starts the containerd it installs; the harness runs its own, and the
# system's is left as it was found.
exec go run . -hullrt "${HULLRT:-../../bin/hullrt}" "$@"
