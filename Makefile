# procview — per-pod /proc views. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
# The version stamped into both binaries (-X main.version, printed by `version`, recorded by the
# injector in every pod's procview.dev/status) and used as the images' tag and version label.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Image creation time and file times: the commit's, so an image is reproducible from its commit.
CREATED ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo 1970-01-01T00:00:00Z)
SOURCE := https://github.com/procview/procview
IMAGE_REPO ?= localhost
ARCHES ?= amd64 arm64
LDFLAGS := -s -w -X main.version=$(VERSION)
.DEFAULT_GOAL := help

.PHONY: images e2e-load bench-node help build sidecar injector test test-v2 unit fuzz demo e2e bench clean demo-cluster

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: sidecar injector ## build static binaries into bin/

sidecar: ## build bin/procview-sidecar only
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/procview-sidecar ./sidecar/cmd/procview-sidecar

injector: ## build bin/procview-injector only
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/procview-injector ./injector/cmd/procview-injector

images: ## image archives bin/images/procview-{sidecar,injector}-{amd64,arm64}.tar (offline, no root; VERSION=...)
	GO='$(GO)' BIN='$(BIN)' VERSION='$(VERSION)' REVISION='$(REVISION)' CREATED='$(CREATED)' SOURCE='$(SOURCE)' \
	  IMAGE_REPO='$(IMAGE_REPO)' ARCHES='$(ARCHES)' LDFLAGS='$(LDFLAGS)' bash hack/images.sh

test: ## install what the tests need, then run every test (unit, fuzz, integration, and e2e as root)
	bash test/run-tests.sh

test-v2: build ## the cgroup/FUSE Go tests and real-tool checks on a real cgroup v2 kernel in a qemu VM (root)
	bash test/vm/run.sh

unit: ## go tests only (no installs)
	$(GO) test -race ./...

fuzz: ## a short run of every fuzz target
	bash test/fuzz.sh

demo: sidecar ## show a 256 MiB / 0.5 CPU view on this machine, side by side with the host's
	bash test/demo.sh

demo-cluster: build ## the seeds' web pod on a local single-node Kubernetes, with and without procview (root)
	bash test/node/demo-cluster.sh

e2e: build ## end-to-end tests in real pods on a local single-node Kubernetes
	bash test/e2e.sh

e2e-load: build ## make e2e three times in a row with every core kept busy (stress-ng), nothing left on the host (root)
	bash test/e2e-load.sh

bench: sidecar injector ## procview vs lxcfs vs native /proc (latency, server CPU, RSS) and webhook latency at 200 req/s; key=value
	bash test/bench/run.sh

bench-node: build ## pod create→Ready with and without procview on the local node (median of 20 each)
	mkdir -p test/bench/results
	E2E_BENCH=PodStart bash test/e2e.sh | tee test/bench/results/podstart.txt

clean: ## remove built binaries
	rm -rf $(BIN)
