package inject

// AnnotationDoc documents one pod annotation, for --help and the README's reference table.
type AnnotationDoc struct {
	Key, Values, Default, Help string
}

// Annotations is the reference of every procview.dev/ pod annotation.
var Annotations = []AnnotationDoc{
	{AnnotationInject, `"true" | "false"`, "(absent: the namespace label procview.dev/inject decides)",
		`opt the pod in ("true") or out ("false"); any other value rejects the pod; a namespace labelled procview.dev/inject=disabled injects no pod`},
	{AnnotationFiles, `all | name,name,... | -name,-name,...`, "all",
		"view files to mount: meminfo, cpuinfo, stat, uptime, loadavg, diskstats, swaps, online, slabinfo, cpu (the directory /sys/devices/system/cpu, online included) (or paths such as proc/meminfo); -name excludes"},
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
