# Shared settings and helpers of the local single-node Kubernetes (source this file).
# Everything the node writes lives under $NODE_DIR (PROCVIEW_NODE_DIR, default test/e2e/.work/node);
# the few host paths the runtime insists on are listed in outside_paths and removed by down.sh
# when they did not exist before up.sh.

NODE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE_DIR=${PROCVIEW_NODE_DIR:-$NODE_REPO/test/e2e/.work/node}
mkdir -p "$NODE_DIR"
NODE_DIR=$(cd "$NODE_DIR" && pwd)

# Ports (loopback only). Non-default so a node started here does not collide with a real one.
ETCD_PORT=${PROCVIEW_ETCD_PORT:-23790}
ETCD_PEER_PORT=${PROCVIEW_ETCD_PEER_PORT:-23800}
APISERVER_PORT=${PROCVIEW_APISERVER_PORT:-16443}
KUBELET_PORT=${PROCVIEW_KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=${PROCVIEW_KUBELET_HEALTHZ_PORT:-10248}
WEBHOOK_PORT=${PROCVIEW_WEBHOOK_PORT:-18443}
KCM_PORT=${PROCVIEW_KCM_PORT:-10357}
SCHEDULER_PORT=${PROCVIEW_SCHEDULER_PORT:-10359}

CNI_BRIDGE=${PROCVIEW_CNI_BRIDGE:-pvnode0}
CNI_SUBNET=${PROCVIEW_CNI_SUBNET:-10.244.77.0/24}
# The bridge's own address (host-local gives the subnet's first address to the gateway): pods
# reach the API server there, as there is no kube-proxy for the kubernetes Service.
CNI_GATEWAY=${CNI_SUBNET%.*/*}.1
NODE_NAME=localhost

PKI=$NODE_DIR/pki
LOGS=$NODE_DIR/logs
PIDS=$NODE_DIR/pids
CTRD=$NODE_DIR/containerd
CTRD_SOCK=$CTRD/containerd.sock
KUBELET_ROOT=$NODE_DIR/kubelet/root
KUBECONFIG_FILE=$NODE_DIR/kubeconfig
IMAGES=$NODE_DIR/images
# kubectl's discovery cache goes to the state dir, not ~/.kube.
export KUBECACHEDIR=$NODE_DIR/kubectl-cache

# Host paths containerd, the CNI library or the kubelet write to whatever they are told.
# (/var/lib/kubelet: the kubelet's device-plugin socket dir is fixed, whatever its --root-dir.)
outside_paths=(/var/lib/cni /var/log/containers /var/log/pods /run/containerd /run/netns /etc/cni /var/lib/kubelet)

node_log() { printf '%s node: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
node_die() { node_log "ERROR: $*"; exit 1; }

kube_bin() {
  if [ -n "${PROCVIEW_KUBE_BIN:-}" ]; then echo "$PROCVIEW_KUBE_BIN"; return; fi
  bash "$NODE_REPO/test/kube/build-bins.sh"
}

# containerd 2.x, built from the Go module proxy (Debian 12's 1.6 is too old for Kubernetes 1.37).
containerd_bin() {
  if [ -n "${PROCVIEW_CONTAINERD_BIN:-}" ]; then echo "$PROCVIEW_CONTAINERD_BIN"; return; fi
  bash "$NODE_REPO/test/kube/build-containerd.sh"
}

kc() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# ctr of the containerd that up.sh started (recorded in the state dir).
ctr_() { "$(cat "$NODE_DIR/containerd-bin" 2>/dev/null || echo /usr/bin)/ctr" --address "$CTRD_SOCK" --namespace k8s.io "$@"; }

# node_packages: installs what test/node/apt-packages.txt lists and is missing (never upgrading).
node_packages() {
  local want missing=() p
  mapfile -t want < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$NODE_REPO/test/node/apt-packages.txt")
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  node_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-upgrade "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-upgrade "${missing[@]}" >/dev/null; }
}

# pid_alive NAME: the process recorded as NAME is running (and is still the one we started).
pid_alive() {
  local f=$PIDS/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# start_bg NAME CMD...: starts CMD in the background with its log under $LOGS, records its PID.
start_bg() {
  local name=$1; shift
  mkdir -p "$LOGS" "$PIDS"
  # setsid: its own session, so an interrupted up.sh does not take it down half-way; down.sh stops it.
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

# stop_pid NAME [GRACE_SECONDS]: SIGTERM, wait, then SIGKILL the recorded process.
stop_pid() {
  local name=$1 grace=${2:-10} f=$PIDS/$1.pid pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      node_log "$name ($pid) ignored SIGTERM for ${grace}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$f"
}

# wait_until SECONDS DESCRIPTION CMD...: retries CMD every 0.2 s. PROCVIEW_NODE_SLOWDOWN=N
# waits N times as long (the cgroup v2 VM under software emulation).
wait_until() {
  local secs=$(($1 * ${PROCVIEW_NODE_SLOWDOWN:-1})) what=$2 end; shift 2
  end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then node_log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

# mounts_under DIR: mount points at or below DIR, deepest first (mountinfo escapes decoded).
mounts_under() {
  local dir=$1
  awk -v d="$dir" '{
    p = $5
    gsub(/\\040/, " ", p); gsub(/\\011/, "\t", p); gsub(/\\012/, "\n", p); gsub(/\\134/, "\\", p)
    if (p == d || index(p, d "/") == 1) print length(p) "\t" p
  }' /proc/self/mountinfo | sort -rn | cut -f2- | uniq
}

# cgroup_dirs NAME: the directories of cgroup NAME in every hierarchy (v1 controllers and the v2 root).
cgroup_dirs() {
  local h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    h=${h%/}
    [ -d "$h/$1" ] && echo "$h/$1"
  done
  return 0
}
