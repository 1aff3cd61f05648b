#!/usr/bin/env bash
# Runs the injector (bin/procview-injector serve) on the host at 127.0.0.1:$WEBHOOK_PORT with a
# serving cert from the node's CA, and registers a MutatingWebhookConfiguration that calls it by
# clientConfig.url (the API server always reaches the host's loopback; no Service, no kube-proxy).
# The two entries of deploy/base/webhook.yaml (matchConditions: only candidates are sent), without its namespace
# exclusions (the e2e tests check the injector's own skip of kube-system), failurePolicy Fail:
# a broken injector shows up as failing creation of opted-in pods in the tests.
# The injector reads namespaces, ResourceQuotas and LimitRanges with its own identity (client cert, RBAC).
# Needs a running node (up.sh). Re-running replaces the running injector.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=pki.sh
. "$here/pki.sh"

[ "$(id -u)" = 0 ] || node_die "must run as root"
bin=${PROCVIEW_INJECTOR_BIN:-$NODE_REPO/bin/procview-injector}
[ -x "$bin" ] || node_die "$bin missing (run make build)"
[ -s "$KUBECONFIG_FILE" ] || node_die "no node in $NODE_DIR (run test/node/up.sh)"
KUBE_BIN=$(cat "$NODE_DIR/kube-bin")
t0=$SECONDS

wh=$NODE_DIR/webhook
mkdir -p "$wh/certs"
pki_cert webhook procview-injector "" "DNS:localhost,IP:127.0.0.1" serverAuth
pki_cert injector-client procview-injector "" "" clientAuth
# controller-runtime's cert dir layout: tls.crt / tls.key.
cp "$PKI/webhook.crt" "$wh/certs/tls.crt"
cp "$PKI/webhook.key" "$wh/certs/tls.key"
write_kubeconfig "$wh/kubeconfig" injector-client

kc apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: procview-node-injector}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [resourcequotas, limitranges]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: procview-node-injector}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: procview-node-injector}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: procview-injector}
EOF

stop_pid injector 5
# The injector's flags; PROCVIEW_INJECTOR_ARGS replaces them if its CLI differs.
if [ -n "${PROCVIEW_INJECTOR_ARGS:-}" ]; then
  read -r -a args <<<"$PROCVIEW_INJECTOR_ARGS"
else
  args=(serve --cert-dir "$wh/certs" --listen-addr "127.0.0.1:$WEBHOOK_PORT"
    --kubeconfig "$wh/kubeconfig" --metrics-addr 0 --health-addr 0)
fi
start_bg injector "$bin" "${args[@]}"

healthy() {
  pid_alive injector &&
    curl -sS --cacert "$PKI/ca.crt" -o /dev/null "https://127.0.0.1:$WEBHOOK_PORT/inject" \
      -H 'Content-Type: application/json' -d '{}'
}
wait_until 30 "injector at 127.0.0.1:$WEBHOOK_PORT" healthy ||
  { tail -30 "$LOGS/injector.log" >&2; node_die "injector did not start"; }

cabundle=$(base64 -w0 <"$PKI/ca.crt")
kc apply -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: procview-node-injector}
webhooks:
- name: annotated.inject.procview.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  timeoutSeconds: 10
  clientConfig:
    url: https://127.0.0.1:$WEBHOOK_PORT/inject
    caBundle: $cabundle
  matchConditions:
  - name: opt-in
    expression: "has(object.metadata.annotations) && 'procview.dev/inject' in object.metadata.annotations && object.metadata.annotations['procview.dev/inject'] != 'false'"
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: Namespaced}
- name: namespace.inject.procview.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  timeoutSeconds: 10
  clientConfig:
    url: https://127.0.0.1:$WEBHOOK_PORT/inject
    caBundle: $cabundle
  namespaceSelector:
    matchExpressions:
    - {key: procview.dev/inject, operator: In, values: [enabled]}
  matchConditions:
  - name: opt-in
    expression: "!has(object.metadata.annotations) || !('procview.dev/inject' in object.metadata.annotations)"
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: Namespaced}
EOF
node_log "injector serving at https://127.0.0.1:$WEBHOOK_PORT/inject, webhook registered, in $((SECONDS - t0))s"
