#!/usr/bin/env bash
# make demo: the per-container view on this machine, no cluster. Creates a cgroup limited to
# 256 MiB and 0.5 CPU, serves the view, and runs the same commands in a "container" (new mount
# and PID namespaces in that cgroup, the view bound over /proc/*) and on the host, side by side.
# Removes everything it created on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make demo needs root (FUSE mount, cgroups, namespaces)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "make demo needs /dev/fuse" >&2; exit 1; }
PROCVIEW_SKIP_KUBE=1 bash test/setup.sh >/dev/null
[ -x bin/procview-sidecar ] || make -s build

source test/lib/cgroup.sh
CG=procview-demo-$$
VIEW=$(mktemp -d /tmp/procview-demo.XXXXXX)
SERVER=""
cleanup() {
  set +e
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  umount -l "$VIEW" 2>/dev/null
  rmdir "$VIEW" 2>/dev/null
  cg_remove "$CG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cg_create "$CG" $((256 << 20)) 50000 100000
bin/procview-sidecar serve --mountpoint "$VIEW" 2>"$VIEW.log" &
SERVER=$!
for _ in $(seq 100); do bin/procview-sidecar probe --mountpoint "$VIEW" 2>/dev/null && break; sleep 0.05; done
bin/procview-sidecar probe --mountpoint "$VIEW" || { cat "$VIEW.log" >&2; exit 1; }
rm -f "$VIEW.log"

COMMANDS='echo "\$ free -m"; free -m; echo; echo "\$ getconf _NPROCESSORS_ONLN"; getconf _NPROCESSORS_ONLN; echo;
  echo "\$ uptime"; uptime; echo; echo "\$ head -3 /proc/meminfo"; head -3 /proc/meminfo'
BINDS=""
for f in proc/meminfo proc/cpuinfo proc/stat proc/uptime proc/loadavg proc/diskstats proc/swaps sys/devices/system/cpu/online; do
  BINDS="$BINDS mount --bind $VIEW/$f /$f &&"
done
PROCS=$(cg_procs_files "$CG")

echo "== in a container limited to 256 MiB and 0.5 CPU, with procview =="
sh -c 'for f in $0; do echo $$ > "$f"; done; exec unshare -m -p -f --mount-proc --propagation private sh -c "$1"' \
  "$PROCS" "$BINDS sleep 2 && $COMMANDS" | sed 's/^/  /'
echo
echo "== the same container without procview (what free, nproc, the JVM see today) =="
sh -c 'for f in $0; do echo $$ > "$f"; done; exec unshare -m -p -f --mount-proc --propagation private sh -c "$1"' \
  "$PROCS" "$COMMANDS" | sed 's/^/  /'
