#!/usr/bin/env bash
# The README's test command (`make test`): installs what is missing, then runs the Go tests
# (with -race), a short run of every fuzz target, and, as root on Linux, the cgroup v2 VM tests
# (make test-v2) and the end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup.sh
export PROCVIEW_KUBE_BIN
PROCVIEW_KUBE_BIN=$(bash test/kube/build-bins.sh)

go vet ./...
go test -race -count=1 ./...
FUZZTIME=${FUZZTIME:-5s} bash test/fuzz.sh
if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ]; then
  # cgroup v2 for real: the cgroup/FUSE tests and real-tool checks in a qemu VM (test/vm/run.sh).
  make test-v2
fi
if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ] && [ -f test/e2e.sh ]; then
  make e2e
fi
