#!/usr/bin/env bash
# Starts a real single-node Kubernetes on this machine, bound to loopback, with all state
# under one private directory (PROCVIEW_NODE_DIR, default test/e2e/.work/node):
# etcd, kube-apiserver, containerd (private root/state/socket), the kubelet,
# kube-controller-manager and kube-scheduler, then waits until the node is Ready.
# test/node/down.sh stops and removes all of it.
# Settings and pitfalls: see the comments below (each one was needed on cgroup v1 Debian 12).
#   --webhook   also start the injector on the host and register the webhook (test/node/webhook.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=pki.sh
. "$here/pki.sh"

with_webhook=0
for a in "$@"; do
  case $a in
    --webhook) with_webhook=1 ;;
    *) node_die "unknown argument $a (want --webhook)" ;;
  esac
done

[ "$(id -u)" = 0 ] || node_die "must run as root (containerd, kubelet, mounts, cgroups)"
[ "$(uname -s)" = Linux ] || node_die "Linux only"
t0=$SECONDS

# A previous run (finished, failed or interrupted) is cleaned first, so up.sh always starts fresh.
bash "$here/down.sh" --quiet

# --- packages -----------------------------------------------------------------------------
# (PROCVIEW_NODE_NO_APT=1: the machine has them already, e.g. the cgroup v2 VM's image.)
[ "${PROCVIEW_NODE_NO_APT:-0}" = 1 ] || node_packages
KUBE_BIN=$(kube_bin)
for b in kube-apiserver kubelet kubectl kube-controller-manager kube-scheduler; do [ -x "$KUBE_BIN/$b" ] || node_die "missing $KUBE_BIN/$b"; done
CTRD_BIN=$(containerd_bin)
for b in containerd containerd-shim-runc-v2 ctr; do [ -x "$CTRD_BIN/$b" ] || node_die "missing $CTRD_BIN/$b"; done
# cgroupfs, or systemd (needs systemd as PID 1: the kubelet and runc ask it for slices and scopes).
CGROUP_DRIVER=${PROCVIEW_CGROUP_DRIVER:-cgroupfs}
case $CGROUP_DRIVER in cgroupfs) systemd_cgroup=false ;; systemd) systemd_cgroup=true ;; *) node_die "PROCVIEW_CGROUP_DRIVER=$CGROUP_DRIVER (want cgroupfs or systemd)" ;; esac
# kube-controller-manager and kube-scheduler (PROCVIEW_NODE_CONTROLLERS=0: without them, for a
# slow machine; the e2e tests bind pods to the node and make each namespace's ServiceAccount).
controllers=${PROCVIEW_NODE_CONTROLLERS:-1}

for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" "$KCM_PORT" "$SCHEDULER_PORT"; do
  if ss -Hltn "sport = :$port" | grep -q .; then
    node_die "port $port is in use (another node running? set PROCVIEW_*_PORT)"
  fi
done

# --- state directory and host baseline -----------------------------------------------------
mkdir -p "$LOGS" "$PIDS" "$CTRD" "$KUBELET_ROOT" "$NODE_DIR/etcd" "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam" "$NODE_DIR/pod-logs"
rm -f "$LOGS"/*.log
# Remember which host paths existed, so down.sh removes only what this run created.
: >"$NODE_DIR/baseline"
for p in "${outside_paths[@]}"; do [ -e "$p" ] && echo "$p" >>"$NODE_DIR/baseline"; done
for d in $(cgroup_dirs kubepods); do echo "$d" >>"$NODE_DIR/baseline"; done
echo "$KUBE_BIN" >"$NODE_DIR/kube-bin"
echo "$CTRD_BIN" >"$NODE_DIR/containerd-bin"

pki_ca
# (A state dir from before pods reached the API server at the gateway: make that cert again.)
if [ -s "$PKI/apiserver.crt" ] && ! openssl x509 -in "$PKI/apiserver.crt" -noout -ext subjectAltName | grep -qF "$CNI_GATEWAY"; then
  rm -f "$PKI/apiserver.crt"
fi
pki_cert apiserver kube-apiserver "" \
  "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.0.0.1,IP:$CNI_GATEWAY" serverAuth
pki_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" clientAuth
pki_cert admin admin system:masters "" clientAuth
pki_cert kubelet-client "system:node:$NODE_NAME" system:nodes "" clientAuth
pki_cert kubelet-serving "$NODE_NAME" "" "DNS:localhost,IP:127.0.0.1" serverAuth
pki_cert controller-manager system:kube-controller-manager "" "" clientAuth
pki_cert scheduler system:kube-scheduler "" "" clientAuth
if [ ! -s "$PKI/sa.key" ]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
write_kubeconfig "$KUBECONFIG_FILE" admin
write_kubeconfig "$NODE_DIR/kubelet/kubeconfig" kubelet-client
write_kubeconfig "$NODE_DIR/controller-manager.kubeconfig" controller-manager
write_kubeconfig "$NODE_DIR/scheduler.kubeconfig" scheduler

# --- etcd ----------------------------------------------------------------------------------
t=$SECONDS
start_bg etcd etcd --name procview-node --data-dir "$NODE_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "procview-node=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn
wait_until 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health" || { tail -20 "$LOGS/etcd.log" >&2; exit 1; }

# --- kube-apiserver -------------------------------------------------------------------------
# endpoint-reconciler none: the advertised 127.0.0.1 cannot be a Service endpoint.
# kubelet-preferred-address-types Hostname: exec/logs dial localhost:<kubelet port>.
# enable-aggregator-routing: a webhook Service is called at its endpoint (there is no kube-proxy).
# bind-address 0.0.0.0: pods (the injector as deploy/ installs it) reach it at the bridge's
# address, which exists only once the first pod is up; clients still need a certificate or token.
start_bg kube-apiserver "$KUBE_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 0.0.0.0 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc \
  --service-cluster-ip-range 10.0.0.0/24 \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true \
  --endpoint-reconciler-type none \
  --kubelet-preferred-address-types Hostname \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" \
  --enable-aggregator-routing=true \
  --profiling=false --v 1
wait_until 60 kube-apiserver kc get --raw /readyz || { tail -30 "$LOGS/kube-apiserver.log" >&2; exit 1; }
node_log "etcd + kube-apiserver ready in $((SECONDS - t))s"

# --- CNI: one bridge of our own; host-local keeps its leases in the state dir ---------------
cat >"$NODE_DIR/cni/net.d/10-procview.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "procview-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$CNI_SUBNET"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF

# --- containerd ----------------------------------------------------------------------------
# containerd 2.x (config version 3). restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE,
# so runc cannot set a negative oom_score_adj ("can't get final child's PID from pipe: EOF"
# otherwise). netns_mounts_under_state_dir: pod network namespaces stay in the state dir, not
# /run/netns. Its shim comes from its own directory (first on PATH), runc from Debian.
cat >"$CTRD/config.toml" <<EOF
version = 3
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri"]

[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "localhost/procview-pause:dev"
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = $systemd_cgroup
        BinaryName = "$(command -v runc || echo /usr/sbin/runc)"
        Root = "$NODE_DIR/runc"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1
EOF
t=$SECONDS
start_bg containerd env PATH="$CTRD_BIN:$PATH" "$CTRD_BIN/containerd" --config "$CTRD/config.toml"
wait_until 30 containerd ctr_ version || { tail -30 "$LOGS/containerd.log" >&2; exit 1; }

# The sandbox (pause) image must be there before the first pod.
bash "$here/images.sh" pause

# --- kubelet -------------------------------------------------------------------------------
# failCgroupV1 false: 1.37 still runs on cgroup v1 when told to (this host; a no-op on v2). hostname-override localhost:
# the kubelet refuses a loopback node IP, and the API server dials the node by hostname.
cat >"$NODE_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
containerRuntimeEndpoint: unix://$CTRD_SOCK
cgroupDriver: $CGROUP_DRIVER
failSwapOn: false
failCgroupV1: false
podLogsDir: $NODE_DIR/pod-logs
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: AlwaysAllow
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
resolvConf: ""
shutdownGracePeriod: 0s
EOF
start_bg kubelet "$KUBE_BIN/kubelet" --config "$NODE_DIR/kubelet/config.yaml" \
  --kubeconfig "$NODE_DIR/kubelet/kubeconfig" --root-dir "$KUBELET_ROOT" \
  --cert-dir "$NODE_DIR/kubelet/pki" --hostname-override "$NODE_NAME" --v 1

node_ready() {
  [ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_until 90 "node Ready" node_ready || { tail -40 "$LOGS/kubelet.log" >&2; exit 1; }
node_log "containerd + kubelet: node Ready in $((SECONDS - t))s"

# --- the default ServiceAccounts without token automount, before the controller-manager makes
# them with it: the tests' pods need no API access.
for ns in default kube-system; do
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: $ns}
automountServiceAccountToken: false
EOF
done

# --- kube-controller-manager and kube-scheduler: Deployments, EndpointSlices, ServiceAccounts
# and their tokens' kube-root-ca.crt, namespace deletion; placing pods without a nodeName.
if [ "$controllers" = 1 ]; then
  t=$SECONDS
  start_bg kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig "$NODE_DIR/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
    --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --leader-elect=true --profiling=false --v 1
  start_bg kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig "$NODE_DIR/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
    --leader-elect=false --profiling=false --v 1
  wait_until 60 kube-controller-manager curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz" ||
    { tail -30 "$LOGS/kube-controller-manager.log" >&2; exit 1; }
  wait_until 60 kube-scheduler curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz" ||
    { tail -30 "$LOGS/kube-scheduler.log" >&2; exit 1; }
  node_log "kube-controller-manager + kube-scheduler healthy in $((SECONDS - t))s"
fi

if [ "$with_webhook" = 1 ]; then
  bash "$here/webhook.sh"
fi
node_log "up in $((SECONDS - t0))s; export KUBECONFIG=$KUBECONFIG_FILE; kubectl: $KUBE_BIN/kubectl"
