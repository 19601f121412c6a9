#!/bin/sh
# Install, with apt-get, what hull's build and tests need on Debian. Quick when
# everything is there already. Usage: scripts/deps.sh [demo|test]
set -eu
case "${1:-test}" in
demo) pkgs="busybox-static gcc libc6-dev file" ;;
test) pkgs="busybox-static gcc libc6-dev file procps iproute2 nftables uidmap
	runc crun podman conmon containerd docker.io docker-compose skopeo umoci docker-registry
	qemu-system-x86 xz-utils cpio debootstrap" ;;
*) echo "usage: $0 [demo|test]" >&2; exit 2 ;;
esac
# docker-py for test/dockerapi: these machines carry it (pip, docker 7.1); where the
# python3 on PATH lacks it, Debian's python3-docker serves Debian's python3.
if [ "${1:-test}" = test ] && ! python3 -c 'import docker' 2>/dev/null; then
	pkgs="$pkgs python3-docker"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No service may start from a package's postinst (there may be no init system).
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 $missing >/dev/null
rm -f /usr/sbin/policy-rc.d
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || {
	echo "deps: Go 1.26 is needed (/usr/local/go)" >&2
	exit 1
}
