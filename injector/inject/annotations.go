package inject

import (
	"strings"

	"github.com/procview/procview/internal/podview"
)

// Pod annotations. Only AnnotationInject is read on pods that have not opted in.
const (
	// AnnotationInject opts a pod in ("true") or out ("false"). Absent: the namespace's
	// LabelInject decides.
	AnnotationInject = "procview.dev/inject"
	// AnnotationFiles picks the view files: "all" (default), a comma-separated list of names
	// (meminfo,cpuinfo,stat,uptime,loadavg,diskstats,swaps,online,slabinfo,cpu, or paths such as proc/meminfo),
	// or a list of exclusions each starting with "-" (e.g. "-diskstats,-swaps").
	AnnotationFiles = "procview.dev/files"
	// AnnotationCPUView sets how the CPU count is computed: "quota" (ceil(quota/period) capped
	// by the cpuset) or "cpuset". Default: the injector's PROCVIEW_INJECTOR_CPU_VIEW.
	AnnotationCPUView = "procview.dev/cpu-view"
	// AnnotationSidecarCPU is the sidecar's CPU request (a quantity above zero, e.g. "20m").
	AnnotationSidecarCPU = "procview.dev/sidecar-cpu"
	// AnnotationSidecarMemory is the sidecar's memory limit (a quantity of at least 16Mi); its
	// request follows it unless AnnotationSidecarMemoryRequest is set. Without it: the
	// configured default limit and request.
	AnnotationSidecarMemory = "procview.dev/sidecar-memory"
	// AnnotationSidecarMemoryRequest is the sidecar's memory request (a quantity above zero,
	// capped by its limit).
	AnnotationSidecarMemoryRequest = "procview.dev/sidecar-memory-request"
	// AnnotationStatus is written by the injector (JSON, see Status); never set it by hand.
	AnnotationStatus = "procview.dev/status"

	annotationPrefix = "procview.dev/"
)

// LabelInject on a namespace: "enabled" injects every pod there that does not opt out,
// "disabled" injects none, not even pods annotated procview.dev/inject: "true".
// Any other value is ignored with a warning.
const (
	LabelInject         = "procview.dev/inject"
	LabelInjectEnabled  = "enabled"
	LabelInjectDisabled = "disabled"
)

// AnnotationDoc documents one pod annotation, for --help and the README's reference table.
type AnnotationDoc struct {
	Key, Values, Default, Help string
}

// Annotations is the reference of every procview.dev/ pod annotation.
var Annotations = []AnnotationDoc{
	{AnnotationInject, `"true" | "false"`, "(absent: the namespace label procview.dev/inject decides)",
		`opt the pod in ("true") or out ("false"); any other value rejects the pod; a namespace labelled procview.dev/inject=disabled injects no pod`},
	{AnnotationFiles, `all | name,name,... | -name,-name,...`, "all",
		"view files to mount: " + filesHelp() + " (or paths such as proc/meminfo); -name excludes"},
	{AnnotationCPUView, "quota | cpuset", "PROCVIEW_INJECTOR_CPU_VIEW (quota)",
		"CPU count: ceil(CFS quota/period) capped by the cpuset, or the cpuset alone"},
	{AnnotationSidecarCPU, "quantity > 0, e.g. 20m", "PROCVIEW_INJECTOR_SIDECAR_CPU_REQUEST (10m)",
		"the sidecar's CPU request (no CPU limit, except in Guaranteed pods where limit = request, or where a namespace's ResourceQuota or LimitRange requires one)"},
	{AnnotationSidecarMemory, "quantity >= 16Mi, e.g. 64Mi", "PROCVIEW_INJECTOR_SIDECAR_MEMORY_LIMIT (32Mi)",
		"the sidecar's memory limit, and its request unless procview.dev/sidecar-memory-request is set (without either: PROCVIEW_INJECTOR_SIDECAR_MEMORY_REQUEST, 16Mi)"},
	{AnnotationSidecarMemoryRequest, "quantity > 0, e.g. 24Mi", "procview.dev/sidecar-memory if set, else PROCVIEW_INJECTOR_SIDECAR_MEMORY_REQUEST (16Mi)",
		"the sidecar's memory request, capped by its limit (= limit in Guaranteed pods)"},
	{AnnotationStatus, "JSON (written by the injector)", "-",
		`what was injected: {"version","container","image","cpuView","files":[...],"containers":{"name":[files]}}`},
}

// fileNames are the view entries' short names, in order.
func fileNames() []string {
	var names []string
	for _, f := range podview.Files() {
		names = append(names, f.Name())
	}
	return names
}

// filesHelp lists the view entries' short names for the reference; a directory says what it is.
func filesHelp() string {
	all := podview.Files()
	var names []string
	for _, f := range all {
		n := f.Name()
		if f.Dir {
			n += " (the directory " + f.Target()
			for _, g := range all {
				if f.Contains(g.Path) {
					n += ", " + g.Name() + " included"
				}
			}
			n += ")"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}
