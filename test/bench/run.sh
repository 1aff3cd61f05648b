#!/usr/bin/env bash
# make bench: procview beside lxcfs and native procfs, same machine, same run, same reader cgroup;
# then the injector under webhook load (test/bench/webhookload against bin/procview-injector).
# Prints a table, then key=value lines; writes both to $BENCH_OUT (default test/bench/results/latest.txt).
# Needs root, /dev/fuse and cgroup v1 or v2 (lxcfs 5/6 run here only inside their own PID namespace).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export N=${BENCH_N:-20000} LOADED=${BENCH_LOADED:-100000}
OUT=${BENCH_OUT:-$ROOT/test/bench/results/latest.txt}

command -v lxcfs >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade --no-install-recommends lxcfs >/dev/null; }
[ -x bin/procview-sidecar ] || make -s build
export WORK
WORK=$(mktemp -d /tmp/procview-bench.XXXXXX)
CGO_ENABLED=0 go build -o "$WORK/reader" ./test/bench/reader

# The reader's cgroup: 256 MiB, 0.5 CPU, cpuset {0} (the baseline in the notes used the same).
source test/lib/cgroup.sh
export CG_NAME=procview-bench-$$
cleanup() {
  set +e
  cg_remove "$CG_NAME"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cg_create "$CG_NAME" $((256 << 20)) 50000 100000 0
export CG_PROCS
CG_PROCS=$(cg_procs_files "$CG_NAME")

unshare -m -p -f --mount-proc --propagation private bash test/bench/inner.sh "$ROOT" | tee "$WORK/raw.txt"

# The webhook: bin/procview-injector serving TLS on the host, reading namespaces from a real
# kube-apiserver + etcd (injector/internal/kubetest), driven by test/bench/webhookload at
# $WEBHOOK_RATE requests/s for $WEBHOOK_DURATION. BENCH_WEBHOOK=0 skips it. Needs etcd (Debian's
# etcd-server) and kube-apiserver: $PROCVIEW_KUBE_BIN, else test/kube/build-bins.sh builds it once.
: >"$WORK/webhook.txt"
if [ "${BENCH_WEBHOOK:-1}" = 1 ]; then
  [ -x bin/procview-injector ] || make -s injector
  CGO_ENABLED=0 go build -o "$WORK/webhookload" ./test/bench/webhookload
  echo "webhook: ${WEBHOOK_RATE:=200} requests/s for ${WEBHOOK_DURATION:=10s} (starting etcd + kube-apiserver)..."
  if ! PROCVIEW_INJECTOR_BIN=$ROOT/bin/procview-injector PROCVIEW_WEBHOOKLOAD_BIN=$WORK/webhookload \
    WEBHOOK_RATE=$WEBHOOK_RATE WEBHOOK_DURATION=$WEBHOOK_DURATION \
    go test -count=1 -run '^$' -bench '^BenchmarkWebhookLoad$' -benchtime 1x ./injector/cmd/procview-injector >"$WORK/webhook.log" 2>&1; then
    grep -v '^        [IWE0-9]' "$WORK/webhook.log" | tail -40 >&2
    echo "webhook benchmark failed" >&2
    exit 1
  fi
  grep '^webhook' "$WORK/webhook.log" | tee "$WORK/webhook.txt"
fi

mkdir -p "$(dirname "$OUT")"
{
  echo "# procview bench $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r), reads/reader=$N"
  grep '^Benchmark' "$WORK/raw.txt"
  awk -f test/bench/report.awk "$WORK/raw.txt"
  echo "sidecar_binary_bytes=$(stat -c %s bin/procview-sidecar)"
  cat "$WORK/webhook.txt"
} > "$OUT"
echo
grep -v '^Benchmark' "$OUT"
