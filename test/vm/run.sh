#!/usr/bin/env bash
# test/vm/run.sh: run hull's Go tests inside a qemu VM whose kernel has cgroup v2 only.
# See test/vm/README.md. Inputs (environment):
#   PKGS             packages to test (default: test/vm/selftest... + ./runtime/... with
#                    tests + ./test/hullrt, the runtime's integration suite + the
#                    engine's tests that read or write cgroups, from ./cmd/hull); a
#                    package may be given as PKG:REGEX to run only those tests of it
#   VM_TESTRUN       regex passed as -test.run (to every package; it wins over :REGEX)
#   VM_TESTARGS      extra arguments for every test binary
#   VM_TIMEOUT       seconds for the whole VM run, boot to poweroff (default 900)
#   VM_TEST_TIMEOUT  -test.timeout per binary, as N, Ns, Nm or Nh (default and cap: the
#                    time left before VM_TIMEOUT, less half a minute for the dumps)
#   VM_MEM, VM_CPUS  guest memory (MiB, default 2048) and cpus (default 2)
#   VM_ACCEL         qemu accelerator (default tcg,thread=single: one host thread for
#                    every vCPU; KVM does not work on these hosts)
#   VM_KERNEL_PKG    Debian kernel package (default: what linux-image-amd64 depends on)
#   VM_MODULES       modules to load at boot (dependencies are added)
#   VM_MODULES_EXTRA more modules to load, besides VM_MODULES' default
#   VM_FILES         extra "host:guest" files for the initramfs, space separated
#   VM_APPEND        extra kernel command line; VM_DEBUG=1 drops "quiet"
#   VM_KEEP=1        keep the work directory (test binaries, initramfs)
#   VM_LOG           serial log file (default test/vm/cache/logs/cgroupv2-<time>.log)
#   VM_INIT          busybox (default: init is test/vm/init, tests run as its children)
#                    or systemd: a Debian root image (debootstrap, cached) with
#                    Debian's systemd as PID 1, whose unit runs the tests
#                    (default PKGS: the systemd cgroup driver's tests)
#   VM_MIRROR        Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   VM_CGROUP        v2 (default: cgroup_no_v1=all) or, with VM_INIT=systemd, hybrid:
#                    systemd mounts the v1 controllers and cgroup2 at
#                    /sys/fs/cgroup/unified (systemd.unified_cgroup_hierarchy=0)
#   VM_APPARMOR      1: AppArmor on (apparmor=1 security=apparmor) with Debian's
#                    apparmor_parser shipped (downloaded, not installed), so the
#                    AppArmor tests of test/hullrt run; 0: apparmor=0; unset: the
#                    kernel's default (Debian's enables AppArmor, with no parser)
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
CACHE=$VM_DIR/cache

VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-}
case $VM_TEST_TIMEOUT in
'') test_timeout_s=0 ;;
*[!0-9smh]* | [!0-9]* | *[smh]?*) echo "vm: error: VM_TEST_TIMEOUT=$VM_TEST_TIMEOUT: N, Ns, Nm or Nh" >&2; exit 2 ;;
*h) test_timeout_s=$(( ${VM_TEST_TIMEOUT%h} * 3600 )) ;;
*m) test_timeout_s=$(( ${VM_TEST_TIMEOUT%m} * 60 )) ;;
*) test_timeout_s=${VM_TEST_TIMEOUT%s} ;;
esac
VM_MEM=${VM_MEM:-2048}
VM_CPUS=${VM_CPUS:-2}
# One TCG thread for both vCPUs: with a thread per vCPU (qemu 7.2's default), a
# vCPU went on running its translation of kernel code the other had patched
# (the kernel's static keys, text_poke_bp): it took the int3 of the patch's
# first step for ever, a soft lockup of the guest (test/vm/README.md).
VM_ACCEL=${VM_ACCEL:-tcg,thread=single}
VM_TESTRUN=${VM_TESTRUN:-}
VM_TESTARGS=${VM_TESTARGS:-}
VM_FILES=${VM_FILES:-}
VM_APPEND=${VM_APPEND:-}
VM_INIT=${VM_INIT:-busybox}
VM_MIRROR=${VM_MIRROR:-http://deb.debian.org/debian}
case $VM_INIT in busybox | systemd) ;; *) echo "vm: error: VM_INIT=$VM_INIT: busybox or systemd" >&2; exit 2 ;; esac
VM_CGROUP=${VM_CGROUP:-v2}
case $VM_INIT/$VM_CGROUP in */v2 | systemd/hybrid) ;; *) echo "vm: error: VM_CGROUP=$VM_CGROUP: v2, or hybrid with VM_INIT=systemd" >&2; exit 2 ;; esac
VM_MODULES=${VM_MODULES:-crc32c_generic overlay veth bridge br_netfilter tun dummy loop nfnetlink nf_tables \
nft_chain_nat nft_nat nft_masq nft_redir nft_ct nft_fib_inet nft_reject_inet nft_limit \
nf_nat nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6 libcrc32c}
# modules loaded besides VM_MODULES (test/vm/cri: the xt matches portmap's rules use)
VM_MODULES="$VM_MODULES ${VM_MODULES_EXTRA:-}"

SELFTEST_PKGS="./test/vm/selftest ./test/vm/selftest/cgo"
# VM_INIT=systemd: the systemd cgroup driver's tests (the selftest wants init's
# own cgroup to be the root, as the busybox init's is).
SYSTEMD_PKGS="./runtime/cgroups:Systemd|ExpandSlice|CPUMask|AnnotationProperties|UnifiedProps ./test/hullrt:^TestSystemd ./test/peers:^TestContainerdSystemdCgroup$"
# The Debian image's root filesystem (debootstrap once, cached); runc is there to
# compare with (TestSystemdCgroupRunc), containerd to drive both through its runc
# shim with SystemdCgroup (test/peers TestContainerdSystemdCgroup).
ROOTFS_PKGS=systemd,systemd-sysv,dbus,runc,containerd
# The engine's tests whose code paths differ on cgroup v2 or on Debian's own kernel:
# the OOM kill read from memory.events, the freezer, limits written and read back,
# stats, a kill of what is left in the cgroup, the resident monitor (its memory
# where transparent huge pages are "always"), and docker's cgroup flags (cpu.max,
# memory.low, io.max, io.weight, what v2 lacks dropped with a warning).
ENGINE_PKG="./cmd/hull:^(TestOOMKilled|TestPauseUnpause|TestUpdateAndRestart|TestTopStats|TestRunOptions|TestRunCgroupFlags|TestExec|TestResidentMonitor)$"

[ "$VM_INIT" = systemd ] && VM_MODULES="$VM_MODULES virtio_pci virtio_blk ext4"

log() { printf 'vm: %s\n' "$*" >&2; }
die() { printf 'vm: error: %s\n' "$*" >&2; exit 2; }
now_us() { echo "${EPOCHREALTIME/./}"; }
elapsed() { local d=$(( $2 - $1 )); printf '%d.%d' $(( d / 1000000 )) $(( d % 1000000 / 100000 )); } # us us
is_dynamic() { readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; }
t_start=$(now_us)

# ---------------------------------------------------------------- host dependencies
ensure_deps() {
	local missing=() cmd pkg
	for pair in qemu-system-x86_64:qemu-system-x86 cpio:cpio xz:xz-utils gzip:gzip gcc:gcc; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || missing+=(busybox-static)
	[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		[ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
			--no-install-recommends "${missing[@]}" >&2
	fi
	if is_dynamic /bin/busybox; then
		die "/bin/busybox is dynamically linked; install busybox-static"
	fi
	command -v go >/dev/null 2>&1 || die "go not found in PATH"
}

# ---------------------------------------------------------------- kernel
# Sets KVER, KDIR (unpacked package with lib/modules/$KVER/modules.dep), VMLINUZ.
fetch_kernel() {
	local pkg=${VM_KERNEL_PKG:-}
	if [ -z "$pkg" ]; then
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/{print $2; exit}')
		[ -n "$pkg" ] || pkg=$(ls "$CACHE"/kernels 2>/dev/null | tail -n1)
		[ -n "$pkg" ] || die "cannot find the kernel package linux-image-amd64 depends on"
	fi
	KDIR=$CACHE/kernels/$pkg
	if [ ! -f "$KDIR/.ok" ]; then
		mkdir -p "$CACHE/debs" "$KDIR"
		local deb
		deb=$(ls "$CACHE"/debs/"${pkg}"_*.deb 2>/dev/null | tail -n1 || true)
		if [ -z "$deb" ]; then
			log "downloading $pkg"
			# apt's _apt user cannot write into the cache; -o makes apt download as root.
			(cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
			deb=$(ls "$CACHE"/debs/"${pkg}"_*.deb | tail -n1)
		fi
		log "unpacking $(basename "$deb")"
		rm -rf "$KDIR" && mkdir -p "$KDIR"
		dpkg-deb -x "$deb" "$KDIR"
		KVER=$(ls "$KDIR/lib/modules" | head -n1)
		log "depmod $KVER"
		/bin/busybox depmod -b "$KDIR" "$KVER"
		touch "$KDIR/.ok"
	fi
	KVER=$(ls "$KDIR/lib/modules" | head -n1)
	VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -n1)
	[ -f "$VMLINUZ" ] || die "no vmlinuz in $KDIR"
	# Under tcg the kernel's own decompressor costs seconds at every boot, so boot the
	# uncompressed vmlinux through its PVH entry point when it has one.
	KERNEL=$VMLINUZ
	if [ "${VM_PVH:-1}" = 1 ]; then
		[ -f "$KDIR/vmlinux" ] || extract_vmlinux "$VMLINUZ" "$KDIR/vmlinux" || true
		if [ -s "$KDIR/vmlinux" ] && readelf -n "$KDIR/vmlinux" 2>/dev/null | grep -q 'Xen.*0x00000012'; then
			KERNEL=$KDIR/vmlinux
		fi
	fi
}

# extract_vmlinux bzimage out: the uncompressed ELF kernel inside a bzImage.
extract_vmlinux() {
	local in=$1 out=$2 magic tool off
	for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -dcq' '\x1f\x8b\x08:gzip -dc'; do
		tool=${magic#*:}
		for off in $(LC_ALL=C grep -obUaP "${magic%%:*}" "$in" 2>/dev/null | cut -d: -f1 | head -n5); do
			tail -c +$((off + 1)) "$in" | $tool >"$out.tmp" 2>/dev/null || true
			if [ "$(head -c4 "$out.tmp" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

# Prints the module files (relative to lib/modules/$KVER) for the given module names
# and everything they depend on; names that are built into the kernel are skipped.
module_closure() {
	local mdir=$KDIR/lib/modules/$KVER
	awk -v want="$*" -v builtin="$mdir/modules.builtin" '
		function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); gsub(/-/, "_", p); return p }
		BEGIN {
			n = split(want, w, " ")
			while ((getline l < builtin) > 0) isbuiltin[base(l)] = 1
		}
		{
			mod = $1; sub(/:$/, "", mod)
			deps[base(mod)] = ""
			path[base(mod)] = mod
			for (i = 2; i <= NF; i++) deps[base(mod)] = deps[base(mod)] " " $i
		}
		END {
			for (i = 1; i <= n; i++) {
				m = w[i]; gsub(/-/, "_", m)
				if (m in path) { queue[++q] = m; continue }
				if (m in isbuiltin) { print "builtin " m > "/dev/stderr"; continue }
				print "missing " m > "/dev/stderr"
			}
			for (j = 1; j <= q; j++) {
				m = queue[j]
				if (m in seen) continue
				seen[m] = 1; print path[m]
				k = split(deps[m], d, " ")
				for (x = 1; x <= k; x++) queue[++q] = base(d[x])
			}
		}' "$mdir/modules.dep"
}

# ---------------------------------------------------------------- AppArmor
# VM_APPARMOR=1: Debian's apparmor_parser (its libraries follow through add_file),
# the parser.conf that pins the feature set it compiles for, and that feature set;
# the guest's init mounts securityfs, where it loads profiles. 0: AppArmor off.
setup_apparmor() {
	case ${VM_APPARMOR:-} in
	"") return ;;
	0) VM_APPEND="$VM_APPEND apparmor=0"; return ;;
	1) ;;
	*) die "VM_APPARMOR=$VM_APPARMOR: 0 or 1" ;;
	esac
	local debs=$CACHE/debs deb f
	mkdir -p "$debs"
	deb=$(ls "$debs"/apparmor_*.deb 2>/dev/null | tail -n1 || true)
	if [ -z "$deb" ]; then
		log "downloading apparmor"
		(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root apparmor >&2)
		deb=$(ls "$debs"/apparmor_*.deb | tail -n1)
	fi
	dpkg-deb -x "$deb" "$WORK/apparmor"
	VM_FILES="$VM_FILES $WORK/apparmor/sbin/apparmor_parser:/sbin/apparmor_parser"
	VM_FILES="$VM_FILES $WORK/apparmor/etc/apparmor/parser.conf:/etc/apparmor/parser.conf"
	for f in $(cd "$WORK/apparmor" && find usr/share/apparmor-features -type f); do
		VM_FILES="$VM_FILES $WORK/apparmor/$f:/$f"
	done
	VM_APPEND="$VM_APPEND apparmor=1 security=apparmor"
}

# ---------------------------------------------------------------- test binaries
GO_TAGS=osusergo,netgo
# Static binaries: cgo (runtime/nsenter) links glibc statically from libc6-dev.
go_build_static() { # out pkg [test]
	local out=$1 pkg=$2 mode=${3:-}
	local ldflags="-s -w -linkmode external -extldflags -static"
	if [ "$mode" = test ]; then
		(cd "$REPO" && CGO_ENABLED=1 go test -c -o "$out" -tags "$GO_TAGS" -ldflags "$ldflags" "$pkg")
	else
		(cd "$REPO" && CGO_ENABLED=1 go build -o "$out" -tags "$GO_TAGS" -ldflags "$ldflags" "$pkg")
	fi
}

default_pkgs() {
	local d
	if [ "$VM_INIT" = systemd ]; then
		echo "$SYSTEMD_PKGS" | tr ' ' '\n'
		return
	fi
	echo "$SELFTEST_PKGS"
	# Packages under ./runtime that have tests; ones that fail to list are left out.
	(cd "$REPO" && go list -e -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./runtime/... ./test/hullrt 2>/dev/null) |
		while read -r d; do [ -n "$d" ] && echo "./${d#"$REPO"/}"; done
	echo "$ENGINE_PKG"
}

# ---------------------------------------------------------------- Debian root (VM_INIT=systemd)
# Sets ROOTFS: a minimal Debian bookworm with systemd as /sbin/init, made once with
# debootstrap (about half a minute) and kept in the cache.
fetch_rootfs() {
	ROOTFS=$CACHE/debian-systemd-bookworm
	# The .ok file names the packages it was made with: another list makes it anew.
	[ "$(cat "$ROOTFS.ok" 2>/dev/null)" = "$ROOTFS_PKGS" ] && return
	command -v debootstrap >/dev/null 2>&1 || {
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends debootstrap >&2
	}
	log "debootstrap bookworm ($ROOTFS_PKGS) from $VM_MIRROR"
	rm -rf "$ROOTFS"
	debootstrap --variant=minbase --include="$ROOTFS_PKGS" bookworm "$ROOTFS" "$VM_MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
	echo "$ROOTFS_PKGS" >"$ROOTFS.ok"
}

# build_image: the Debian root image, /dev/vda in the guest: the cached rootfs plus
# what the initramfs tree holds for the tests (binaries, /src, modules, busybox
# with its applets in /hull-vm/bb), and hull-vm-tests.service, which runs
# "/hull-vm/init tests" once systemd is up and powers off. Then the initramfs is
# cut down to what mounts it: busybox, init, the modules.
build_image() {
	local img=$WORK/image f
	mkdir "$img" && cp -a "$ROOTFS/." "$img/"
	cp -a "$ROOT/hull-vm" "$ROOT/src" "$img/"
	cp "$VM_DIR/init" "$img/hull-vm/init"
	for f in "$ROOT"/bin/hull*; do cp "$f" "$img/usr/bin/"; done
	cp /bin/busybox "$img/usr/bin/busybox"
	mkdir -p "$img/hull-vm/bb" "$img/usr/lib/modules"
	for f in $(/bin/busybox --list); do ln -s /usr/bin/busybox "$img/hull-vm/bb/$f"; done
	cp -a "$ROOT/lib/modules/$KVER" "$img/usr/lib/modules/"
	for spec in $VM_FILES; do mkdir -p "$img$(dirname "${spec#*:}")"; cp -L "${spec%%:*}" "$img${spec#*:}"; done
	echo hull-vm >"$img/etc/hostname"
	printf '127.0.0.1 localhost hull-vm\n::1 localhost\n' >"$img/etc/hosts"
	: >"$img/etc/machine-id"
	cat >"$img/etc/systemd/system/hull-vm-tests.service" <<-'EOF'
	[Unit]
	Description=hull VM tests
	After=basic.target dbus.service
	Wants=dbus.service

	[Service]
	Type=oneshot
	ExecStart=/hull-vm/init tests
	StandardInput=null
	StandardOutput=tty
	StandardError=tty
	TTYPath=/dev/ttyS0

	[Install]
	WantedBy=multi-user.target
	EOF
	ln -s /etc/systemd/system/hull-vm-tests.service "$img/etc/systemd/system/multi-user.target.wants/hull-vm-tests.service"
	# No login prompts on the console the tests write to; nothing that waits for
	# a network the guest does not have; no containerd but the tests' own.
	for f in serial-getty@ttyS0.service getty@tty1.service getty.target systemd-timesyncd.service containerd.service \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
		ln -sf /dev/null "$img/etc/systemd/system/$f"
	done
	local mb
	mb=$(( $(du -sm "$img" | cut -f1) + 1024 ))
	mkfs.ext4 -q -F -L hull-vm -E root_owner=0:0 -d "$img" "$WORK/root.img" "${mb}M"
	rm -rf "$img" "$ROOT/hull-vm/bin" "$ROOT/src"
	rm -f "$ROOT"/bin/hull*
}

# ---------------------------------------------------------------- initramfs
add_file() { # host guest: copy a file, plus the shared libraries of a dynamic ELF
	local src=$1 dst=$ROOT/${2#/}
	mkdir -p "$(dirname "$dst")"
	cp -L "$src" "$dst"
	if is_dynamic "$src"; then
		log "$src is dynamically linked; adding its libraries"
		local lib
		for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
			mkdir -p "$ROOT$(dirname "$lib")"
			cp -L "$lib" "$ROOT$lib"
		done
	fi
}

build_initramfs() {
	ROOT=$WORK/root
	mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,newroot,hull-vm/bin,src,var/tmp}
	cp /bin/busybox "$ROOT/bin/busybox"
	local a
	for a in $(/bin/busybox --list-full); do
		[ -e "$ROOT/$a" ] || ln -s /bin/busybox "$ROOT/$a"
	done
	cp "$VM_DIR/init" "$ROOT/init" && chmod 0755 "$ROOT/init"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOT/etc/passwd"
	printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
	printf '127.0.0.1 localhost hull-vm\n::1 localhost\n' >"$ROOT/etc/hosts"
	printf 'hosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
	: >"$ROOT/etc/resolv.conf"
	ln -s /proc/mounts "$ROOT/etc/mtab"
	{
		printf 'VM_TESTRUN=%q\n' "$VM_TESTRUN"
		printf 'VM_TESTARGS=%q\n' "$VM_TESTARGS"
		# seconds; the guest's uptime starts a little after qemu, and the
		# margin leaves time for a hung binary's dumps (test/vm/init)
		printf 'VM_TEST_TIMEOUT_S=%q\n' "$test_timeout_s"
		printf 'VM_DEADLINE_S=%q\n' "$(( VM_TIMEOUT - 30 ))"
	} >"$ROOT/hull-vm/config"

	# modules
	local mdir=$KDIR/lib/modules/$KVER gdir=$ROOT/lib/modules/$KVER m names=""
	mkdir -p "$gdir"
	cp "$mdir"/modules.builtin "$mdir"/modules.order "$gdir/" 2>/dev/null || true
	for m in $(module_closure $VM_MODULES 2>"$WORK/modules.log"); do
		mkdir -p "$gdir/$(dirname "$m")"
		case $m in
		*.ko.xz) xz -dc "$mdir/$m" >"$gdir/${m%.xz}" ;;
		*.ko.zst) zstd -dcq "$mdir/$m" >"$gdir/${m%.zst}" ;;
		*.ko.gz) gzip -dc "$mdir/$m" >"$gdir/${m%.gz}" ;;
		*) cp "$mdir/$m" "$gdir/$m" ;;
		esac
		m=${m##*/}; names="$names ${m%%.ko*}"
	done
	grep -q '^missing' "$WORK/modules.log" && die "modules not in $KVER: $(grep '^missing' "$WORK/modules.log" | tr '\n' ' ')"
	/bin/busybox depmod -b "$ROOT" "$KVER"
	echo "$VM_MODULES" | tr ' ' '\n' | sed '/^$/d' >"$ROOT/hull-vm/modules"
	MODULES_SHIPPED=$names

	# helpers: hullrt and hull, static builds when their sources exist, else bin/;
	# hull-monitor and hull-init beside hull, built as make build does them (both
	# static: hull-monitor is C, built by the Makefile's hull-monitor target)
	if make -s -C "$REPO" hull-monitor MONITOR_OUT="$WORK/hull-monitor" >"$WORK/build-monitor.log" 2>&1; then
		add_file "$WORK/hull-monitor" /bin/hull-monitor
	else
		log "warning: hull-monitor does not build"
	fi
	if (cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$WORK/hull-init" ./cmd/hull-init) >"$WORK/build-init.log" 2>&1; then
		add_file "$WORK/hull-init" /bin/hull-init
	else
		log "warning: cmd/hull-init does not build"
	fi
	local tool
	for tool in hullrt hull; do
		if [ -d "$REPO/cmd/$tool" ] && (cd "$REPO" && go list "./cmd/$tool" >/dev/null 2>&1); then
			log "building cmd/$tool (static)"
			if go_build_static "$WORK/$tool" "./cmd/$tool" >"$WORK/build-$tool.log" 2>&1; then
				add_file "$WORK/$tool" "/bin/$tool"
				continue
			fi
			log "warning: cmd/$tool does not build:"
			head -n 20 "$WORK/build-$tool.log" | sed 's/^/vm:   /' >&2
		fi
		if [ -x "$REPO/bin/$tool" ]; then
			log "using bin/$tool"
			add_file "$REPO/bin/$tool" "/bin/$tool"
		fi
	done
	# test/hullrt's seccomp tests run the escape suite's syscall helper in their
	# containers; the VM has no Go to build it ($HULL_ATTACK, see test/vm/init)
	if (cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$WORK/hull-attack" ./test/escape/attack) >"$WORK/build-attack.log" 2>&1; then
		add_file "$WORK/hull-attack" /bin/hull-attack
	else
		log "warning: test/escape/attack does not build"
	fi
	local spec
	for spec in $VM_FILES; do
		add_file "${spec%%:*}" "${spec#*:}"
	done

	cp "$WORK"/bin/*.test "$ROOT/hull-vm/bin/"
	cp "$WORK/tests" "$ROOT/hull-vm/tests"
	local name dir
	while read -r name dir _; do
		mkdir -p "$ROOT$dir"
		if [ -d "$REPO/${dir#/src/}/testdata" ]; then
			cp -a "$REPO/${dir#/src/}/testdata" "$ROOT$dir/"
		fi
	done <"$WORK/tests"
}

pack_initramfs() {
	(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$WORK/initramfs.cpio.gz"
}

# ---------------------------------------------------------------- main
ensure_deps
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one download/unpack at a time when runs share the cache
fetch_kernel
[ "$VM_INIT" = systemd ] && fetch_rootfs
exec 9>&-
log "kernel $KVER ($KERNEL)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hull-vm.XXXXXX")
cleanup() { if [ "${VM_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
mkdir -p "$WORK/bin"

explicit=1
if [ -z "${PKGS:-}" ]; then
	explicit=0
	PKGS=$(default_pkgs | tr '\n' ' ')
fi
log "packages: $PKGS"
: >"$WORK/tests"
t_build=$(now_us)
for spec in $PKGS; do
	pkg=${spec%%:*} run=
	[ "$pkg" != "$spec" ] && run=${spec#*:}
	if ! dirs=$(cd "$REPO" && go list -e -f '{{.Dir}}' "$pkg" 2>"$WORK/list.log") || [ -z "$dirs" ]; then
		cat "$WORK/list.log" >&2
		[ $explicit = 1 ] && die "cannot list package $pkg"
		log "warning: skipping $pkg: go list fails"; continue
	fi
	for dir in $dirs; do
		rel=${dir#"$REPO"/}
		name=$(echo "$rel" | tr '/' '_')
		if ! (cd "$REPO" && go list -f '{{if or .TestGoFiles .XTestGoFiles}}y{{end}}' "./$rel" | grep -q y); then
			log "skipping $rel: no tests"; continue
		fi
		log "building ./$rel tests"
		if ! go_build_static "$WORK/bin/$name.test" "./$rel" test >"$WORK/build-$name.log" 2>&1; then
			cat "$WORK/build-$name.log" >&2
			[ $explicit = 1 ] && die "tests of ./$rel do not build"
			log "warning: skipping ./$rel: tests do not build"; continue
		fi
		[ -s "$WORK/build-$name.log" ] && grep -v 'statically linked applications requires at runtime' "$WORK/build-$name.log" | grep -v '^#' >&2 || true
		echo "$name /src/$rel $run" >>"$WORK/tests"
	done
done
[ -s "$WORK/tests" ] || die "no test binaries to run"

setup_apparmor
build_initramfs
[ "$VM_INIT" = systemd ] && build_image
pack_initramfs
log "built in $(elapsed "$t_build" "$(now_us)")s: initramfs $(du -h "$WORK/initramfs.cpio.gz" | cut -f1), modules:$MODULES_SHIPPED"

mkdir -p "$CACHE/logs"
VM_LOG=${VM_LOG:-$CACHE/logs/$([ "$VM_INIT" = systemd ] && echo systemd || echo cgroupv2)-$(date +%Y%m%d-%H%M%S).log}
mkdir -p "$(dirname "$VM_LOG")" && : >"$VM_LOG"
# sysrq_always_enabled: a VM that gives no result is asked for its kernel's stacks
append="console=ttyS0 panic=-1 rdinit=/init sysrq_always_enabled"
[ "$VM_CGROUP" = v2 ] && append="$append cgroup_no_v1=all"
[ "${VM_DEBUG:-0}" = 1 ] || append="$append quiet"
if [ "$VM_INIT" = systemd ]; then
	append="$append hull.init=systemd systemd.show_status=0"
	if [ "$VM_CGROUP" = hybrid ]; then
		append="$append systemd.unified_cgroup_hierarchy=0"
	else
		append="$append systemd.unified_cgroup_hierarchy=1"
	fi
fi
[ -n "$VM_APPEND" ] && append="$append $VM_APPEND"
qemu=(qemu-system-x86_64 -accel "$VM_ACCEL" -cpu max -m "$VM_MEM" -smp "$VM_CPUS"
	-nographic -no-reboot -nodefaults -serial stdio
	-kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" -append "$append"
	-chardev "pipe,id=mon,path=$WORK/monitor" -mon chardev=mon,mode=readline)
if [ "$VM_INIT" = systemd ]; then
	qemu+=(-drive "file=$WORK/root.img,format=raw,if=virtio,cache=unsafe")
fi
# qboot is SeaBIOS's much faster stand-in for direct kernel boot (PVH entry only here).
if [ "$KERNEL" != "$VMLINUZ" ] && [ -f /usr/share/qemu/qboot.rom ]; then
	qemu+=(-bios /usr/share/qemu/qboot.rom)
fi
log "booting: ${qemu[*]}"
log "serial log: $VM_LOG"

mkfifo "$WORK/serial" "$WORK/monitor.in" "$WORK/monitor.out"
t_qemu=$(now_us)
"${qemu[@]}" </dev/null >"$WORK/serial" 2>&1 &
qpid=$!
exec 3<"$WORK/serial"
# qemu's monitor, for a VM that gives no result (below). Opened read-write, so
# neither side waits for the other; its replies are drained into a file.
exec 4<>"$WORK/monitor.in"
cat 0<>"$WORK/monitor.out" >"$WORK/monitor.log" &
monpid=$!

# serial_line LINE: a console line, to stdout and the log.
serial_line() {
	printf '%s\n' "$1"
	printf '%s\n' "$1" >>"$VM_LOG"
}

deadline=$(( t_qemu + VM_TIMEOUT * 1000000 ))
result="" boot="" ready="" timed_out=0
while :; do
	left=$(( deadline - $(now_us) ))
	if [ $left -le 0 ]; then timed_out=1; break; fi
	if IFS= read -r -t "$(elapsed 0 $(( left + 100000 )))" line <&3; then
		line=${line%$'\r'}
		serial_line "$line"
		case $line in
		*"HULL-VM-INIT: start"*)
			[ -n "$boot" ] || boot=$(elapsed "$t_qemu" "$(now_us)") ;;
		*"HULL-VM-INIT: ready"*)
			[ -n "$ready" ] || ready=$(elapsed "$t_qemu" "$(now_us)") ;;
		*"HULL-VM-RESULT: PASS") result=PASS ;;
		*"HULL-VM-RESULT: FAIL") result=FAIL ;;
		esac
		if [ -n "$result" ]; then
			# give qemu a little while to power off, then stop reading
			deadline=$(( $(now_us) + 30000000 ))
		fi
	else
		rc=$?
		[ $rc -gt 128 ] && continue # read timed out: loop re-checks the deadline
		break                       # EOF: qemu exited
	fi
done
# No result in time: the guest kernel prints every CPU's backtrace and the
# blocked tasks (sysrq l and w, through the emulated keyboard), qemu the vCPUs'
# registers, so a VM that hung below init's own watchdog (test/vm/init) still
# says where.
if [ $timed_out = 1 ] && kill -0 "$qpid" 2>/dev/null; then
	log "no result within ${VM_TIMEOUT}s: asking the guest for its stacks before qemu is killed"
	# sysrq 9 first: the console prints every level (quiet would hide the stacks)
	printf 'sendkey alt-sysrq-9\nsendkey alt-sysrq-l\nsendkey alt-sysrq-w\ninfo registers -a\n' >&4
	end=$(( $(now_us) + 15000000 ))
	while left=$(( end - $(now_us) )); [ $left -gt 100000 ] &&
		IFS= read -r -t "$(elapsed 0 "$left")" line <&3; do
		serial_line "${line%$'\r'}"
	done
	# where each vCPU is (HLT=1: idle)
	grep -a -E '^CPU#|^RIP=' "$WORK/monitor.log" | sed 's/^/vm: qemu: /' | tee -a "$VM_LOG" >&2
fi
exec 3<&- 4>&-
kill "$monpid" 2>/dev/null || true
if kill -0 "$qpid" 2>/dev/null; then
	[ -n "$result" ] || log "timeout after ${VM_TIMEOUT}s: killing qemu"
	kill "$qpid" 2>/dev/null || true
	sleep 1
	kill -9 "$qpid" 2>/dev/null || true
fi
qrc=0
wait "$qpid" || qrc=$?
t_end=$(now_us)

echo
log "kernel $KVER, init $VM_INIT, boot to init ${boot:-?}s, to tests ${ready:-?}s, VM run $(elapsed "$t_qemu" "$t_end")s, total $(elapsed "$t_start" "$t_end")s"
grep '^HULL-VM-SUMMARY:' "$VM_LOG" | sed 's/^HULL-VM-SUMMARY: /vm:   /' >&2 || true
case $result in
PASS) log "cgroup v2 tests: PASS"; exit 0 ;;
FAIL) log "cgroup v2 tests: FAIL (log: $VM_LOG)"; exit 1 ;;
*)
	if [ $timed_out = 1 ]; then
		log "cgroup v2 tests: FAIL: no result within ${VM_TIMEOUT}s (log: $VM_LOG)"
	else
		log "cgroup v2 tests: FAIL: VM stopped without a result, qemu exit $qrc (log: $VM_LOG)"
	fi
	exit 1 ;;
esac
