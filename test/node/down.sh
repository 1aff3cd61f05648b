#!/usr/bin/env bash
# Stops everything test/node/up.sh started (by recorded PID), kills the pods' processes,
# unmounts everything under the state dir (lazily when a dead FUSE mount refuses), removes the
# CNI bridge, the kubepods cgroups and the host paths up.sh's run created. Idempotent; works
# after a failed or interrupted run. Keeps logs/ and images/ (build cache) in the state dir.
#   --quiet   no summary line          --purge   also remove the whole state dir
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

quiet=0 purge=0
for a in "$@"; do
  case $a in
    --quiet) quiet=1 ;;
    --purge) purge=1 ;;
    *) node_die "unknown argument $a (want --quiet or --purge)" ;;
  esac
done
[ "$(id -u)" = 0 ] || node_die "must run as root"
t0=$SECONDS
# PROCVIEW_NODE_TRACE=1: log each step with its time.
step() { [ "${PROCVIEW_NODE_TRACE:-0}" = 0 ] || node_log "down: $*"; }

# Nothing ever started here: nothing to do.
if [ ! -d "$PIDS" ] && [ ! -d "$CTRD" ] && [ ! -d "$NODE_DIR/kubelet" ] && [ ! -f "$NODE_DIR/baseline" ]; then
  [ "$purge" = 0 ] || rm -rf "$NODE_DIR"
  exit 0
fi

step "stop injector, kubelet"
# 1. The injector and the kubelet first, so nothing restarts containers while we stop them.
stop_pid injector 5
stop_pid kube-controller-manager 5
stop_pid kube-scheduler 5
stop_pid kubelet 10

step "kill containers"
# 2. Every container process: tasks through containerd while it runs, then whatever is left in
#    the kubepods cgroups (only this node's kubelet puts processes there).
if pid_alive containerd && [ -S "$CTRD_SOCK" ]; then
  for id in $(ctr_ tasks ls -q 2>/dev/null); do
    ctr_ tasks kill -a -s KILL "$id" >/dev/null 2>&1 || true
  done
fi
kill_cgroup_procs() {
  local d pid n=0
  for d in $(cgroup_dirs kubepods); do
    while read -r pid; do
      [ -n "$pid" ] || continue
      kill -KILL "$pid" 2>/dev/null && n=$((n + 1))
    done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  echo "$n"
}
for _ in 1 2 3 4 5 6 7 8 9 10; do
  [ "$(kill_cgroup_procs)" = 0 ] && break
  sleep 0.3
done
if pid_alive containerd && [ -S "$CTRD_SOCK" ]; then
  for id in $(ctr_ tasks ls -q 2>/dev/null); do
    ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
  done
fi

step "stop containerd + shims"
# 3. containerd, then its shims: a shim outlives containerd; ours are the shims naming our socket.
stop_pid containerd 10
for f in $(grep -l -a -F -- "$CTRD_SOCK" /proc/[0-9]*/cmdline 2>/dev/null); do
  pid=${f#/proc/}; pid=${pid%/cmdline}
  grep -q -a -F containerd-shim "$f" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
done

step "stop apiserver, etcd"
# 4. Control plane.
# (Their data is thrown away below: no need to wait long for a graceful shutdown.)
stop_pid kube-apiserver 3
stop_pid etcd 5

step "unmount"
# 5. Mounts under the state dir, deepest first: pod volumes (incl. FUSE views whose server is
#    gone), container rootfs overlays, sandbox shm, netns binds, the kubelet's rshared self-bind.
for pass in 1 2 3 4 5; do
  mapfile -t ms < <(mounts_under "$NODE_DIR")
  [ ${#ms[@]} -gt 0 ] || break
  for m in "${ms[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
done
left=$(mounts_under "$NODE_DIR" | wc -l)
[ "$left" = 0 ] || node_log "WARNING: $left mounts under $NODE_DIR remain: $(mounts_under "$NODE_DIR" | head -3 | tr '\n' ' ')"

step "network"
# 6. Network: our bridge and any veth still enslaved to it.
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  for v in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$v" 2>/dev/null || true
  done
  ip link del "$CNI_BRIDGE" 2>/dev/null || true
fi

step "cgroups"
# 7. cgroups the kubelet made (children first), unless they were there before up.sh.
touch "$NODE_DIR/baseline"
for d in $(cgroup_dirs kubepods); do
  grep -qxF "$d" "$NODE_DIR/baseline" && continue
  find "$d" -depth -type d -delete 2>/dev/null || true
  [ ! -d "$d" ] || node_log "WARNING: cgroup $d not removed"
done

step "host paths"
# 8. Host paths this run created (the runtime insists on them); links into our dir elsewhere.
for p in "${outside_paths[@]}"; do
  grep -qxF "$p" "$NODE_DIR/baseline" && continue
  [ -e "$p" ] || continue
  if [ -n "$(mounts_under "$p")" ]; then node_log "WARNING: $p has mounts; left"; continue; fi
  rm -rf "$p"
done
if [ -d /var/log/containers ]; then
  find /var/log/containers -maxdepth 1 -type l -lname "$NODE_DIR/*" -delete 2>/dev/null || true
fi

step "state"
# 9. Runtime state (logs and built images stay for inspection and as a cache).
if [ -z "$(mounts_under "$NODE_DIR")" ]; then
  rm -rf "$CTRD" "$NODE_DIR/kubelet" "$NODE_DIR/etcd" "$NODE_DIR/runc" "$NODE_DIR/cni" \
    "$NODE_DIR/pod-logs" "$NODE_DIR/webhook" "$PIDS" "$NODE_DIR/baseline" \
    "$NODE_DIR/controller-manager.kubeconfig" "$NODE_DIR/scheduler.kubeconfig"
  [ "$purge" = 0 ] || rm -rf "$NODE_DIR"
fi
[ "$quiet" = 1 ] || node_log "down in $((SECONDS - t0))s"
