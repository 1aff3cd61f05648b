#!/usr/bin/env bash
# make demo: the per-container view on this machine, no cluster. Creates a cgroup limited to
# 256 MiB and 0.5 CPU, serves the view, and runs the same commands in a "container" (new mount
# and PID namespaces in that cgroup, the view bound over /proc/*) and on the host, side by side.
# Removes everything it created on exit, also on Ctrl-C.
# Optional: DEMO_CPUS=0 make demo (or test/demo.sh 0) also pins the container to that cpuset.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make demo needs root (FUSE mount, cgroups, namespaces)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "make demo needs /dev/fuse" >&2; exit 1; }
PROCVIEW_SKIP_KUBE=1 bash test/setup.sh >/dev/null
[ -x bin/procview-sidecar ] || make -s build

source test/lib/cgroup.sh
CPUS=${1:-${DEMO_CPUS:-}}
LIMITS="256 MiB and 0.5 CPU${CPUS:+, cpuset $CPUS}"
CG=procview-demo-$$
VIEW=$(mktemp -d /tmp/procview-demo.XXXXXX)
SERVER=""
cleanup() {
  set +e
  # Everything in the demo cgroup was started by this script: end the container first.
  exec 2>/dev/null # no "Killed" job notices
  local f p i
  for i in $(seq 40); do # until they are gone: rmdir of a cgroup with tasks fails
    p=$(for f in $(cg_procs_files "$CG"); do cat "$f"; done)
    [ -z "$p" ] && break
    kill -KILL $p
    sleep 0.05
  done
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  umount -l "$VIEW" 2>/dev/null
  rmdir "$VIEW" 2>/dev/null
  cg_remove "$CG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cg_create "$CG" $((256 << 20)) 50000 100000 "$CPUS"
# Its own session: Ctrl-C goes to this script, whose cleanup stops the server after the container.
setsid bin/procview-sidecar serve --mountpoint "$VIEW" 2>"$VIEW.log" &
SERVER=$!
for _ in $(seq 100); do bin/procview-sidecar probe --mountpoint "$VIEW" 2>/dev/null && break; sleep 0.05; done
bin/procview-sidecar probe --mountpoint "$VIEW" || { cat "$VIEW.log" >&2; exit 1; }
rm -f "$VIEW.log"

COMMANDS='echo "\$ free -m"; free -m; echo; echo "\$ getconf _NPROCESSORS_ONLN"; getconf _NPROCESSORS_ONLN; echo;
  echo "\$ nproc --all"; nproc --all; echo;
  echo "\$ uptime"; uptime; echo; echo "\$ head -3 /proc/meminfo"; head -3 /proc/meminfo'
BINDS=""
for f in proc/meminfo proc/cpuinfo proc/stat proc/uptime proc/loadavg proc/diskstats proc/swaps proc/slabinfo sys/devices/system/cpu; do
  BINDS="$BINDS mount --bind $VIEW/$f /$f &&"
done
PROCS=$(cg_procs_files "$CG")

# in_container SCRIPT: run SCRIPT in the cgroup, in new mount+PID namespaces. In the background
# (which ignores SIGINT) and waited for, so Ctrl-C reaches the trap at once.
in_container() {
  sh -c 'for f in $0; do echo $$ > "$f"; done; exec unshare -m -p -f --mount-proc --propagation private sh -c "$1"' \
    "$PROCS" "$1" | sed 's/^/  /' &
  wait $!
}

echo "== in a container limited to $LIMITS, with procview =="
in_container "$BINDS sleep 2 && $COMMANDS"
echo
echo "== the same container without procview (what free, nproc, the JVM see today) =="
in_container "$COMMANDS"
