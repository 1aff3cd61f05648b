{{/* Namespaces never injected: excludedNamespaces plus the release namespace, as a JSON list. */}}
{{- define "procview.excluded" -}}
{{- append .Values.excludedNamespaces .Release.Namespace | uniq | toJson -}}
{{- end -}}

{{/* The webhook entry's fields common to both entries. */}}
{{- define "procview.webhookCommon" -}}
admissionReviewVersions: [v1]
sideEffects: None
failurePolicy: {{ .Values.failurePolicy }}
timeoutSeconds: 5
matchPolicy: Equivalent
reinvocationPolicy: IfNeeded
clientConfig:
  service:
    namespace: {{ .Release.Namespace }}
    name: procview-injector
    path: /inject
    port: 443
objectSelector:
  matchExpressions:
  - key: app.kubernetes.io/name
    operator: NotIn
    values: [procview-injector]
rules:
- operations: [CREATE]
  apiGroups: [""]
  apiVersions: [v1]
  resources: [pods]
  scope: Namespaced
{{- end -}}
