#!/usr/bin/env bash
# `make e2e-load`: the end-to-end suite (test/e2e.sh) several times in a row on a busy machine —
# stress-ng keeps every core busy the whole time — and, after each run, nothing of procview left
# on the host: no FUSE mount, no sidecar process, no pod directory under the kubelet's root.
#   E2E_LOAD_RUNS=N   how many runs (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "e2e-load: must run as root" >&2; exit 1; }
command -v stress-ng >/dev/null || { echo "e2e-load: stress-ng missing (test/apt-packages.txt; make test installs it)" >&2; exit 1; }
runs=${E2E_LOAD_RUNS:-3}
cpus=$(nproc)
t0=$SECONDS

stress-ng --cpu "$cpus" --timeout 0 --quiet &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null || true' EXIT

leftovers() {
  local bad=0
  if grep -q ' fuse\.procview ' /proc/self/mountinfo; then
    echo "e2e-load: procview FUSE mounts left on the host:" >&2
    grep ' fuse\.procview ' /proc/self/mountinfo >&2
    bad=1
  fi
  if pgrep -x procview-sidecar >/dev/null || pgrep -f '^/procview-sidecar ' >/dev/null; then
    echo "e2e-load: sidecar processes left:" >&2
    ps -eo pid,stat,args | grep '[p]rocview-sidecar' >&2
    bad=1
  fi
  local node_dir
  node_dir=$(. test/node/lib.sh && echo "$NODE_DIR")
  if [ -d "$node_dir" ] && find "$node_dir" -maxdepth 4 -path '*/pods/*' -type d 2>/dev/null | grep -q .; then
    echo "e2e-load: pod directories left under $node_dir:" >&2
    find "$node_dir" -maxdepth 4 -path '*/pods/*' -type d >&2
    bad=1
  fi
  return "$bad"
}

for i in $(seq 1 "$runs"); do
  echo "e2e-load: run $i of $runs beside stress-ng --cpu $cpus (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  s=$SECONDS
  if ! bash test/e2e.sh; then
    echo "e2e-load: run $i FAILED after $((SECONDS - s))s" >&2
    exit 1
  fi
  leftovers || { echo "e2e-load: run $i left procview behind" >&2; exit 1; }
  echo "e2e-load: run $i passed in $((SECONDS - s))s, nothing left on the host" >&2
done
echo "e2e-load: $runs runs passed under load in $((SECONDS - t0))s" >&2
