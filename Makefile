# hull: build and test. Run `make test` as root: the integration tests use the kernel.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# hullrt is linked statically: it is copied into test VMs and must not depend on the
# host's libc. cgo is needed by one package (runtime/nsenter).
TAGS     := osusergo,netgo
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -linkmode external -extldflags -static
export CGO_ENABLED := 1
# encoding/json on the v2 implementation (the v1 API, unchanged): container
# records and OCI specs are read and written several times per `hull run`, and
# this makes that ~3 ms (7%) faster; see docs/benchmarks.md. Not for hull-monitor,
# which decodes one small state, and would keep 50 KB more for good.
export GOEXPERIMENT := jsonv2

.PHONY: build check lint test test-unit test-cgroupv2 test-systemd bench clean demo deps

# What the build and the tests need from Debian (apt-get; fast when present).
deps:
	@scripts/deps.sh test

# The README's first command: a container from the host's busybox, no network.
demo:
	@scripts/demo.sh

# bin/hull-init (`hull run --init`) and bin/hull-monitor (the resident form of a
# container's monitor), found beside bin/hull, are pure Go: static without cgo.
# hull-monitor is built without Go 1.26's Green Tea GC, which keeps mark bits at
# the end of each span of small objects: every size class the program ever used
# then holds two 4 KiB pages of the span's 8 KiB, not one. 45 KiB less per idle
# container (docs/benchmarks.md, "Idle monitor memory").
build:
	$(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/hullrt ./cmd/hullrt
	@if [ -d cmd/hull ]; then $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/hull ./cmd/hull; fi
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/hull-init ./cmd/hull-init
	GOEXPERIMENT=nogreenteagc CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/hull-monitor ./cmd/hull-monitor

# Every test, as root, one package at a time (-p 1): each package's leak check looks
# at the whole host, so two packages must not run side by side.
test: deps build
	HULL_LEAKCHECK=1 HULLRT=$(CURDIR)/bin/hullrt $(GO) test -tags $(TAGS) -p 1 -count=1 -timeout 20m ./...

test-unit:
	$(GO) test -tags $(TAGS) -count=1 ./...

# hull beside its peers (runc, crun, podman, dockerd), alternating; see docs/benchmarks.md.
bench: build
	$(GO) run ./bench/runtime -hullrt bin/hullrt
	$(GO) run ./bench/pull -hull bin/hull
	$(GO) run ./bench/network -hull bin/hull
	$(GO) run ./bench/engine -hull bin/hull
	$(GO) run ./bench/build -hull bin/hull
	$(GO) run ./bench/api -hull bin/hull

# gofmt and go vet: a file gofmt would change, or a vet finding, fails the check.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt wants to change:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...

# The whole suite: formatting and vet, the host's tests, then the cgroup v2 VM's,
# with busybox as init and then with systemd (the systemd cgroup driver).
check: lint test test-cgroupv2 test-systemd

-include mk/vm.mk
-include mk/cri.mk

clean:
	rm -rf bin out
