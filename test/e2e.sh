#!/usr/bin/env bash
# `make e2e`: procview in real pods. Starts the local single-node Kubernetes (test/node/up.sh),
# builds and imports the images, runs the injector as the cluster's webhook, runs the Go e2e
# tests (test/e2e, build tag e2e) and always tears the node down (test/node/down.sh), also on
# failure or Ctrl-C. Needs root on Linux; `make build` first (the Makefile's e2e target does it).
#   E2E_RUN=REGEX         only the matching tests (go test -run)
#   E2E_BENCH=REGEX       run the matching benchmarks instead of the tests (make bench-node)
#   PROCVIEW_NODE_KEEP=1  leave the node up afterwards (test/node/down.sh stops it)
set -euo pipefail
cd "$(dirname "$0")/.."

# One node per machine: runs wait for each other on a lock that the node's daemons do not
# inherit (flock -o), so a daemon left behind cannot hold it.
if [ -z "${PROCVIEW_NODE_LOCKED:-}" ]; then
  exec env PROCVIEW_NODE_LOCKED=1 flock -o /run/lock/procview-node.lock bash "$0" "$@"
fi

[ "$(id -u)" = 0 ] || { echo "e2e: must run as root" >&2; exit 1; }
for b in bin/procview-sidecar bin/procview-injector; do
  [ -x "$b" ] || { echo "e2e: $b missing (run make build)" >&2; exit 1; }
done

# The tests find the node through its state dir; make it absolute for go test's working dir.
PROCVIEW_NODE_DIR=$(. test/node/lib.sh && echo "$NODE_DIR")
export PROCVIEW_NODE_DIR
# The node has no kube-proxy: deploy/'s injector pods reach the API server at the CNI bridge.
PROCVIEW_E2E_APISERVER=${PROCVIEW_E2E_APISERVER:-$(. test/node/lib.sh && echo "$CNI_GATEWAY:$APISERVER_PORT")}
export PROCVIEW_E2E_APISERVER

t0=$SECONDS
teardown() {
  local rc=$?
  if [ "${PROCVIEW_NODE_KEEP:-0}" = 1 ]; then
    echo "e2e: node left up (PROCVIEW_NODE_KEEP=1); stop it with test/node/down.sh" >&2
  else
    bash test/node/down.sh || rc=1
  fi
  echo "e2e: total $((SECONDS - t0))s, exit $rc" >&2
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

bash test/node/up.sh
bash test/node/images.sh
bash test/node/webhook.sh
# TestUpgrade's version N+1: both images built again (make images) with another version, tagged
# with it, imported beside test/node/images.sh's :dev ones.
if [ -z "${E2E_BENCH:-}" ]; then
  PROCVIEW_E2E_NEXT_VERSION=$(bin/procview-injector version | awk '{print $2}')-next
  export PROCVIEW_E2E_NEXT_VERSION
  next=$(. test/node/lib.sh && echo "$IMAGES")/next arch=$(go env GOARCH)
  make -s images VERSION="$PROCVIEW_E2E_NEXT_VERSION" ARCHES="$arch" BIN="$next" >/dev/null
  for n in sidecar injector; do
    (. test/node/lib.sh && ctr_ images import "$next/images/procview-$n-$arch.tar" >/dev/null)
  done
  echo "e2e: images localhost/procview-{sidecar,injector}:$PROCVIEW_E2E_NEXT_VERSION imported" >&2
fi
if [ -n "${E2E_BENCH:-}" ]; then
  go test -tags e2e -count=1 -timeout 30m -run '^$' -bench "$E2E_BENCH" -benchtime 1x ./test/e2e/...
else
  go test -tags e2e -count=1 -v -timeout 30m ${E2E_RUN:+-run "$E2E_RUN"} ./test/e2e/...
fi
