# mk/cri.mk: Kubernetes' CRI conformance suite (critest) through containerd with
# the runc and hull handlers, side by side (test/cri, docs/kubernetes.md). Included
# from the Makefile. Knobs: CRI_ARGS (e.g. CRI_ARGS='-focus "Container"' or
# CRI_ARGS='-no-critest -bench 30' for the pod start benchmark alone).

HULL_CRI_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../test/cri)

# containerd 2.x for test-cri-containerd2, built once from its Go module.
CRI_CONTAINERD2 ?= v2.4.2

# The kubelet of test-kubelet: k8s.io/kubernetes at this tag, built once.
KUBELET_VERSION ?= v1.34.2

.PHONY: test-cri test-cri-containerd2 test-cri-cgroupv2 test-kubelet bench-cri
test-cri: build
	HULLRT=$(CURDIR)/bin/hullrt $(HULL_CRI_DIR)/run.sh $(CRI_ARGS)

# The same suite through containerd 2.x (a version 3 config, the hull handler from
# contrib/kubernetes/containerd-2.x.toml as written).
test-cri-containerd2: build
	HULLRT=$(CURDIR)/bin/hullrt $(HULL_CRI_DIR)/run.sh -containerd $(CRI_CONTAINERD2) $(CRI_ARGS)

# The same suite inside the cgroup v2 test VM (test/vm, qemu under software
# emulation): containerd 2.x, runc and hull handlers, critest, all in the VM.
# Knobs: CRI_FOCUS, CRI_SKIP (ginkgo regexps), VM_MEM, VM_TIMEOUT; see
# test/vm/cri/run.sh. Slow (docs/kubernetes.md says how slow); not in make check.
test-cri-cgroupv2:
	CRI_CONTAINERD2=$(CRI_CONTAINERD2) $(HULL_CRI_DIR)/../vm/cri/run.sh

# A real kubelet, standalone (no API server), on the same private containerd with
# hull as its default handler: a static pod of two containers comes up, restarts
# a container that fails its liveness probe, and goes when its manifest goes.
# Builds the kubelet the first time (several minutes). Not part of make check.
test-kubelet: build
	HULLRT=$(CURDIR)/bin/hullrt $(HULL_CRI_DIR)/run.sh -kubelet $(KUBELET_VERSION) $(CRI_ARGS)

# The pod start benchmark and the shims' memory (docs/benchmarks.md).
bench-cri: build
	HULLRT=$(CURDIR)/bin/hullrt $(HULL_CRI_DIR)/run.sh -no-critest -bench 30 $(CRI_ARGS)
