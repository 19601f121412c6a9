# mk/cri.mk: Kubernetes' CRI conformance suite (critest) through containerd with
# the runc and hull handlers, side by side (test/cri, docs/kubernetes.md). Included
# from the Makefile. Knobs: CRI_ARGS (e.g. CRI_ARGS='-focus "Container"' or
# CRI_ARGS='-no-critest -bench 30' for the pod start benchmark alone).

HULL_CRI_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../test/cri)

# containerd 2.x for test-cri-containerd2, built once from its Go module.
CRI_CONTAINERD2 ?= v2.4.2

.PHONY: test-cri test-cri-containerd2 bench-cri
test-cri: build
	HULLRT=$(CURDIR)/bin/hullrt $(HULL_CRI_DIR)/run.sh $(CRI_ARGS)

# The same suite through containerd 2.x (a version 3 config, the hull handler from
# contrib/kubernetes/containerd-2.x.toml as written).
test-cri-containerd2: build
	HULLRT=$(CURDIR)/bin/hullrt $(HULL_CRI_DIR)/run.sh -containerd $(CRI_CONTAINERD2) $(CRI_ARGS)

# The pod start benchmark and the shims' memory (docs/benchmarks.md).
bench-cri: build
	HULLRT=$(CURDIR)/bin/hullrt $(HULL_CRI_DIR)/run.sh -no-critest -bench 30 $(CRI_ARGS)
