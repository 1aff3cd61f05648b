#!/bin/bash
# The cgroup v2 subset of `make e2e`, on a single-node Kubernetes inside the VM (guest.sh's
# "kube" stage): test/node/up.sh --webhook with the host's builds of Kubernetes and containerd
# (9p shares /mnt/kube, /mnt/containerd), the images the host built (/mnt/share/images), then
# the e2e test binary (/mnt/share/bin/e2e.test). Prints KEY=VALUE lines (kube.*) that the host
# asserts (test/vm/check.sh kube); the e2e binary's output goes to the file given.
# Usage: kube.sh E2E_OUTPUT_FILE
set -euo pipefail
e2e_out=$1
res=$(dirname "$e2e_out")
share=/mnt/share
src=/mnt/src
export PROCVIEW_NODE_DIR=/var/lib/procview-node PROCVIEW_KUBE_BIN=/mnt/kube PROCVIEW_CONTAINERD_BIN=/mnt/containerd \
  PROCVIEW_NODE_NO_APT=1 PROCVIEW_NODE_CONTROLLERS=0 PROCVIEW_INJECTOR_BIN=$share/bin/procview-injector \
  PROCVIEW_IMAGES_PREBUILT=1 PROCVIEW_E2E_SLOWDOWN=${PROCVIEW_E2E_SLOWDOWN:-10} PROCVIEW_NODE_SLOWDOWN=${PROCVIEW_NODE_SLOWDOWN:-8}
# The systemd cgroup driver where systemd is PID 1 (run.sh's systemd boot), else cgroupfs.
driver=cgroupfs
[ "$(cat /proc/1/comm)" != systemd ] || driver=systemd
driver=${PROCVIEW_CGROUP_DRIVER:-$driver}
export PROCVIEW_CGROUP_DRIVER=$driver
kc() { /mnt/kube/kubectl --kubeconfig "$PROCVIEW_NODE_DIR/kubeconfig" "$@"; }
now() { cut -d' ' -f1 /proc/uptime; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
echo "kube.driver=$driver"
echo "kube.kubelet_version=$(/mnt/kube/kubelet --version | awk '{print $2}')"
echo "kube.containerd_version=$(/mnt/containerd/containerd --version | awk '{print $3}')"
echo "kube.runc_version=$(runc --version | awk 'NR == 1 {print $3}')"

# An address that is not loopback, and a default route: without them the kubelet finds no node
# address and `kubectl exec`/`logs` fail ("no preferred addresses found"). No NIC: nothing leaves.
ip link add pv-dummy type dummy
ip addr add 192.0.2.10/24 dev pv-dummy
ip link set pv-dummy up
ip route add default dev pv-dummy

mkdir -p "$PROCVIEW_NODE_DIR/images"
cp "$share"/images/*.tar "$PROCVIEW_NODE_DIR/images/"
trap 'bash "$src/test/node/down.sh" >&2 || echo "kube.down_failed=1"' EXIT

t=$(now)
bash "$src/test/node/up.sh" --webhook 2>"$res/kube-up.log" || { tail -40 "$res/kube-up.log" >&2; exit 1; }
echo "kube.up_s=$(secs "$t")"
sed -n 's/.*etcd + kube-apiserver ready in \([0-9]*\)s.*/kube.apiserver_ready_s=\1/p; s/.*node Ready in \([0-9]*\)s.*/kube.node_ready_s=\1/p' "$res/kube-up.log"
bash "$src/test/node/images.sh" 2>>"$res/kube-up.log"

# One injected pod (the seeds' web pod), timed from create to Ready; where its app container's
# cgroup is (cgroupfs: kubepods/burstable/pod<uid>/<id>; systemd: kubepods.slice/.../cri-containerd-<id>.scope).
kc create namespace probe >/dev/null
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: probe}
automountServiceAccountToken: false
EOF
t=$(now)
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: probe, annotations: {procview.dev/inject: "true"}}
spec:
  nodeName: localhost
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: localhost/procview-testapp:dev
    imagePullPolicy: Never
    command: [sleep, infinity]
    resources: {limits: {memory: 256Mi, cpu: 500m}, requests: {memory: 16Mi, cpu: 10m}}
EOF
kc wait pod web -n probe --for=condition=Ready --timeout=300s >/dev/null
echo "kube.pod_ready_s=$(secs "$t")"
echo "kube.web_free_mib=$(kc exec web -n probe -c web -- free -m | awk '/^Mem:/ {print $2}')"
uid=$(kc get pod web -n probe -o jsonpath='{.metadata.uid}')
id=$(kc get pod web -n probe -o jsonpath='{.status.containerStatuses[?(@.name=="web")].containerID}')
id=${id#containerd://}
echo "kube.pod_uid=$uid"
echo "kube.container_id=$id"
dir=$(find /sys/fs/cgroup -type d -name "*$id*" | head -1)
echo "kube.app_cgroup=${dir#/sys/fs/cgroup}"
echo "kube.app_memory_max=$(cat "$dir/memory.max" 2>/dev/null)"
echo "kube.app_cpu_max=$(cat "$dir/cpu.max" 2>/dev/null)"
t=$(now)
kc delete pod web -n probe --wait=true --timeout=180s >/dev/null
echo "kube.pod_delete_s=$(secs "$t")"

# The e2e tests that matter on v2 (the rest need the host, or say nothing new about cgroups),
# each in its own process, all at once: under emulation most of their time is waiting (kubelet
# syncs, grace periods), and one after another they take about 20 minutes.
t=$(now)
rc=0
pids=()
for t_ in TestSeedsWebExample TestContainersAndPodsSeeTheirOwn TestSidecarKilledHeals TestDeleteLeavesNoMount; do
  (cd "$src/test/e2e" && exec "$share/bin/e2e.test" -test.v -test.count=1 -test.timeout=30m -test.run "^$t_\$") \
    >"$e2e_out.$t_" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
cat "$e2e_out".Test* >"$e2e_out"
rm -f "$e2e_out".Test*
echo "kube.e2e_rc=$rc"
echo "kube.e2e_s=$(secs "$t")"
echo "kube.fuse_mounts_left=$(grep -cE ' - fuse(\.[^ ]*)? ' /proc/self/mountinfo || true)"
echo "kube.done=1"
