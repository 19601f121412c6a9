#!/usr/bin/env bash
# test/vm/cri/run.sh: critest inside the cgroup v2 test VM (make test-cri-cgroupv2;
# docs/kubernetes.md). On the host, as root: installs what is missing from Debian
# (runc, containernetworking-plugins, iptables, busybox-static), has test/cri's
# harness build its parts once (-prepare: critest and crictl from cri-tools' module,
# containerd 2.x static from its module, the test images as an OCI layout), builds
# the harness itself statically, and hands all of it to test/vm/run.sh with the
# package ./test/vm/cri, whose one test runs the harness in the VM with -prebuilt:
# a private containerd 2.x with the runc and hull handlers (hull from
# contrib/kubernetes/containerd-2.x.toml as written), its registry on the VM's
# 127.0.0.1, and critest against each handler. The VM has no network device
# besides lo: nothing is fetched from inside it.
#
# Environment (besides test/vm/run.sh's VM_* knobs):
#   CRI_CONTAINERD2  containerd release built from its module (default v2.4.2)
#   CRI_FOCUS        critest specs to run, a ginkgo regexp (default: all of them)
#   CRI_SKIP         critest specs to leave out (default: none)
#   CRI_ARGS         more arguments for the harness (go run ./test/cri -h), space separated
#   CRI_APPARMOR=1   AppArmor on in the VM, with apparmor_parser (default: apparmor=0)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
export PATH=/usr/local/go/bin:/usr/sbin:/sbin:$PATH
export GOFLAGS=-mod=mod

CRI_CONTAINERD2=${CRI_CONTAINERD2:-v2.4.2}
CRI_FOCUS=${CRI_FOCUS:-}
CRI_SKIP=${CRI_SKIP:-}
CRI_ARGS=${CRI_ARGS:-}

log() { printf 'vm-cri: %s\n' "$*" >&2; }
die() { printf 'vm-cri: error: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get installs, and the VM harness's cache)"
command -v go >/dev/null || die "go not found in PATH"

# What goes into the VM from Debian: runc (the reference handler), the CNI
# plugins and iptables (portmap) the harness's pod network uses, and ipcmk;
# busybox-static is what the test images are made of.
need=()
for p in runc:/usr/sbin/runc iptables:/usr/sbin/xtables-nft-multi busybox-static:/bin/busybox \
	containernetworking-plugins:/usr/lib/cni/bridge util-linux:/usr/bin/ipcmk; do
	[ -e "${p#*:}" ] || need+=("${p%%:*}")
done
if ((${#need[@]})); then
	log "installing ${need[*]} from Debian"
	for i in 1 2 3 4 5 6; do
		if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			-o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null; then
			break
		fi
		((i == 6)) && exit 1
		sleep 10 # apt is locked by another install
	done
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hull-vm-cri.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PARTS=$WORK/cri

log "building the harness's parts (critest, crictl, containerd $CRI_CONTAINERD2, images)"
(cd "$REPO/test/cri" && go run . -prepare "$PARTS" -containerd "$CRI_CONTAINERD2")
(cd "$REPO/test/cri" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$PARTS/hull-cri" .)
cp "$REPO/contrib/kubernetes/containerd-2.x.toml" "$PARTS/containerd-2.x.toml"

# The harness's arguments in the VM, one a line (the test reads them): the work
# directory is known, so that the test can print critest's failures from it.
{
	printf '%s\n' -prebuilt /cri -hullrt /bin/hullrt -contrib /cri/containerd-2.x.toml \
		-work /tmp/cri-work -handlers runc,hull -list-skipped
	# Under software emulation a spec takes ~10 times as long as on the host.
	printf '%s\n' -critest-timeout 3h
	[ -z "$CRI_FOCUS" ] || printf '%s\n' -focus "$CRI_FOCUS"
	[ -z "$CRI_SKIP" ] || printf '%s\n' -skip "$CRI_SKIP"
	for a in $CRI_ARGS; do printf '%s\n' "$a"; done
} >"$PARTS/args"

files=""
for f in $(cd "$PARTS" && find . -type f | sed 's|^\./||'); do
	files="$files $PARTS/$f:/cri/$f"
done
# runc and iptables are dynamic: test/vm/run.sh adds their libraries. iptables
# is Debian's xtables-nft-multi under the names portmap runs, and loads its match
# and target extensions with dlopen from the xtables directory.
files="$files /usr/sbin/runc:/usr/sbin/runc"
for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
	files="$files /usr/sbin/xtables-nft-multi:/usr/sbin/$n"
done
for f in /usr/lib/x86_64-linux-gnu/xtables/*.so; do
	files="$files $(readlink -f "$f"):$f"
done
for p in bridge host-local loopback portmap; do
	files="$files /usr/lib/cni/$p:/usr/lib/cni/$p"
done
# The HostIpc specs make a shared memory segment from the host's side with
# util-linux's ipcmk, which busybox lacks.
files="$files /usr/bin/ipcmk:/usr/bin/ipcmk"

# portmap's rules through iptables-nft: the xt matches and targets it names.
export VM_MODULES_EXTRA="${VM_MODULES_EXTRA:-} nft_compat xt_addrtype xt_comment xt_multiport xt_tcpudp \
xt_nat xt_MASQUERADE xt_mark xt_conntrack"
# Debian's kernel enables AppArmor, so critest runs its AppArmor specs, which
# load profiles with `sudo apparmor_parser`; the VM has neither, and containerd
# (no apparmor_parser either) gives no container a profile. Off, as on the host
# whose numbers these sit beside: the specs skip (docs/kubernetes.md).
# CRI_APPARMOR=1 leaves it on and ships Debian's apparmor_parser (downloaded,
# not installed) and a sudo that runs its arguments: then containerd gives
# every container its default profile, as on a Debian or Ubuntu node.
if [ "${CRI_APPARMOR:-0}" = 1 ]; then
	debs=$REPO/test/vm/cache/debs
	mkdir -p "$debs"
	deb=$(ls "$debs"/apparmor_*.deb 2>/dev/null | tail -n1 || true)
	if [ -z "$deb" ]; then
		(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root apparmor >&2)
		deb=$(ls "$debs"/apparmor_*.deb | tail -n1)
	fi
	dpkg-deb -x "$deb" "$WORK/apparmor"
	printf '#!/bin/sh\nexec "$@"\n' >"$WORK/sudo" && chmod 0755 "$WORK/sudo"
	: >"$WORK/keep"
	files="$files $WORK/apparmor/sbin/apparmor_parser:/sbin/apparmor_parser"
	files="$files $WORK/apparmor/etc/apparmor/parser.conf:/etc/apparmor/parser.conf"
	# parser.conf compiles for the feature set Debian pins there
	for f in $(cd "$WORK/apparmor" && find usr/share/apparmor-features -type f); do
		files="$files $WORK/apparmor/$f:/$f"
	done
	files="$files $WORK/sudo:/usr/bin/sudo $WORK/keep:/var/cache/apparmor/.keep"
	# critest's test profiles include <tunables/global> and <abstractions/base>
	# (which names abi/3.0), and containerd's default profile does once they
	# exist. An empty directory there (tunables/xdg-user-dirs.d) is included
	# all the same, so it must exist: it gets an empty dotfile the parser skips.
	for f in $(cd "$WORK/apparmor" && find etc/apparmor.d/abi etc/apparmor.d/tunables etc/apparmor.d/abstractions \( -type f -o -type l \)); do
		files="$files $WORK/apparmor/$f:/$f"
	done
	for f in $(cd "$WORK/apparmor" && find etc/apparmor.d/abi etc/apparmor.d/tunables etc/apparmor.d/abstractions -type d -empty); do
		files="$files $WORK/keep:/$f/.keep"
	done
else
	export VM_APPEND="${VM_APPEND:-} apparmor=0"
fi
export VM_FILES="${VM_FILES:-}$files"
export VM_MEM=${VM_MEM:-4096}
export VM_TIMEOUT=${VM_TIMEOUT:-7200}
export VM_LOG=${VM_LOG:-$REPO/test/vm/cache/logs/cri-$(date +%Y%m%d-%H%M%S).log}
export PKGS=./test/vm/cri
unset VM_TESTRUN
log "critest in the VM (VM_MEM=$VM_MEM MiB, VM_TIMEOUT=${VM_TIMEOUT}s)"
rc=0
"$REPO/test/vm/run.sh" || rc=$?
# The harness's report, from the serial log.
if [ -f "$VM_LOG" ]; then
	echo
	sed -n '/^critest .*same run:$/,/^critest-.*-vs-/p' "$VM_LOG"
fi
exit $rc
