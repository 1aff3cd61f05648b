#!/usr/bin/env bash
# `make demo-cluster`: the whole product on a local single-node Kubernetes in one command.
# Brings the node up with the injector as its webhook, runs the seeds' web example (an HTTP
# server, limits memory 256Mi / cpu 500m) once with procview's opt-in annotation and once
# without, prints free -m, getconf _NPROCESSORS_ONLN and uptime inside both, then tears down.
#   PROCVIEW_NODE_KEEP=1  leave the node up afterwards (test/node/down.sh stops it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || node_die "must run as root"
cleanup() {
  local rc=$?
  if [ "${PROCVIEW_NODE_KEEP:-0}" = 1 ]; then
    node_log "node left up: export KUBECONFIG=$KUBECONFIG_FILE; stop it with test/node/down.sh"
  else
    bash "$here/down.sh"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$here/up.sh"
bash "$here/images.sh"
bash "$here/webhook.sh"
KUBE_BIN=$(cat "$NODE_DIR/kube-bin")

# web_pod NAME ANNOTATIONS: the seeds' example, an HTTP server limited to 256Mi / 0.5 CPU.
web_pod() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: web}
  annotations: {$2}
spec:
  nodeName: $NODE_NAME
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: localhost/procview-testapp:dev
    command: [python3, -m, http.server, "8080"]
    ports: [{containerPort: 8080}]
    resources:
      limits: {memory: 256Mi, cpu: 500m}
EOF
}
web_pod web 'procview.dev/inject: "true"' | kc apply -f -
web_pod web-plain '' | kc apply -f -
kc wait pod web web-plain --for=condition=Ready --timeout=120s >/dev/null

show() {
  echo
  echo "=== pod $1 ($2); limits memory 256Mi, cpu 500m; the host has $(free -m | awk '/^Mem:/{print $2}') MiB, $(getconf _NPROCESSORS_ONLN) CPUs"
  kc get pod "$1" -o 'jsonpath=containers: {range .spec.initContainers[*]}{.name} (sidecar) {end}{range .spec.containers[*]}{.name} {end}{"\n"}'
  # shellcheck disable=SC2016
  kc exec "$1" -c web -- sh -c 'echo "$ free -m"; free -m; echo "$ getconf _NPROCESSORS_ONLN"; getconf _NPROCESSORS_ONLN; echo "$ uptime"; uptime'
}
show web 'procview.dev/inject: "true"'
show web-plain "no annotation: the host's view"
echo
kc delete pod web web-plain --wait=true --timeout=60s
