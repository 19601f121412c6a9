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
# this makes that ~3 ms (7%) faster; see docs/benchmarks.md.
export GOEXPERIMENT := jsonv2

.PHONY: build hull-monitor check lint test test-unit test-cgroupv2 test-systemd bench clean demo deps

# What the build and the tests need from Debian (apt-get; fast when present).
deps:
	@scripts/deps.sh test

# The README's first command: a container from the host's busybox, no network.
demo:
	@scripts/demo.sh

# bin/hull-init (`hull run --init`), found beside bin/hull, is pure Go: static
# without cgo. bin/hull-monitor, the resident form of a container's monitor, is a
# static C program (monitor/resident/c/hull-monitor.c): any Go program waiting in
# Go's poller keeps more memory than conmon's whole (docs/benchmarks.md, "The
# resident monitor in C"). Static: it is copied into the test VMs too.
# `make hull-monitor MONITOR_OUT=dir/hull-monitor` builds it elsewhere (the tests).
MONITOR_OUT    ?= bin/hull-monitor
MONITOR_CFLAGS := -static -Os -s -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong

hull-monitor:
	@mkdir -p $(dir $(MONITOR_OUT))
	$(CC) $(MONITOR_CFLAGS) -o $(MONITOR_OUT) monitor/resident/c/hull-monitor.c

build: hull-monitor
	$(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/hullrt ./cmd/hullrt
	@if [ -d cmd/hull ]; then $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/hull ./cmd/hull; fi
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/hull-init ./cmd/hull-init

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
