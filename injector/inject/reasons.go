package inject

// SkipReason says why a pod was left alone. The empty reason means the pod was injected (or,
// for an already injected pod, completed with containers added since).
type SkipReason string

// Every reason a pod can be left alone; they label the webhook's metrics and logs.
const (
	NotSkipped            SkipReason = ""
	SkipNotOptedIn        SkipReason = "not-opted-in"             // no procview.dev/inject annotation, namespace not labelled enabled
	SkipOptedOut          SkipReason = "opted-out"                // procview.dev/inject: "false"
	SkipNamespaceDisabled SkipReason = "namespace-disabled"       // namespace labelled procview.dev/inject=disabled
	SkipExcludedNamespace SkipReason = "excluded-namespace"       // namespace listed in EXCLUDED_NAMESPACES
	SkipOwnPod            SkipReason = "own-pod"                  // matches OWN_POD_SELECTOR (the injector itself)
	SkipAlreadyInjected   SkipReason = "already-injected"         // status annotation and sidecar present, nothing to add
	SkipInvalidAnnotation SkipReason = "invalid-annotation"       // a procview.dev/ value is invalid: the pod is rejected
	SkipHostPID           SkipReason = "host-pid"                 // hostPID pods cannot share a pod PID namespace
	SkipWindows           SkipReason = "windows"                  // spec.os.name or the kubernetes.io/os node selector is windows
	SkipPSAForbidden      SkipReason = "psa-privileged-forbidden" // namespace enforces baseline/restricted Pod Security
	SkipNameConflict      SkipReason = "name-conflict"            // a container or volume named procview exists already
	SkipAllFilesConflict  SkipReason = "all-files-conflict"       // every container already mounts something at every view path
	SkipResourceRules     SkipReason = "resource-rules"           // no sidecar requests/limits satisfy the namespace's ResourceQuotas and LimitRanges
	SkipNamespaceUnknown  SkipReason = "namespace-lookup-failed"  // webhook only: the namespace could not be read
	SkipRulesUnknown      SkipReason = "rules-lookup-failed"      // webhook only: the namespace's ResourceQuotas or LimitRanges could not be read
	SkipNotCreate         SkipReason = "not-create"               // webhook only: an UPDATE or CONNECT; pods are injected at creation
)

// SkipReasons lists every reason, for documentation and metrics.
var SkipReasons = []SkipReason{
	SkipNotOptedIn, SkipOptedOut, SkipNamespaceDisabled, SkipExcludedNamespace, SkipOwnPod, SkipAlreadyInjected,
	SkipInvalidAnnotation, SkipHostPID, SkipWindows, SkipPSAForbidden, SkipNameConflict,
	SkipAllFilesConflict, SkipResourceRules, SkipNamespaceUnknown, SkipRulesUnknown, SkipNotCreate,
}
