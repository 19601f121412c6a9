# mk/vm.mk: the cgroup v2 test VM (test/vm/README.md). Included from the Makefile;
# also works alone: make -f mk/vm.mk test-cgroupv2 [PKGS="./runtime/cgroups ./runtime"]
# Knobs, on the make command line or in the environment (make passes both on to
# the script): PKGS, VM_TESTRUN, VM_TIMEOUT, VM_MEM, VM_CPUS, VM_KEEP, VM_DEBUG and the
# others listed at the top of test/vm/run.sh.

HULL_VM_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../test/vm)

# PKGS reaches the script only when the user set it (command line or environment),
# so a default PKGS of the including Makefile does not replace the VM's own default
# (test/vm/selftest plus the ./runtime/... packages that have tests).
ifneq ($(filter command line environment,$(origin PKGS)),)
HULL_VM_PKGS = $(PKGS)
else
HULL_VM_PKGS =
endif

.PHONY: test-cgroupv2 test-systemd vm-clean
test-cgroupv2:
	PKGS='$(HULL_VM_PKGS)' $(HULL_VM_DIR)/run.sh

# The same VM with Debian's systemd as PID 1 (a debootstrapped root image, cached):
# the systemd cgroup driver's tests (hullrt --systemd-cgroup), beside runc's.
test-systemd:
	VM_INIT=systemd PKGS='$(HULL_VM_PKGS)' $(HULL_VM_DIR)/run.sh

# Drop the downloaded kernel and the serial logs.
vm-clean:
	rm -rf $(HULL_VM_DIR)/cache
