// Package inject is the pure mutation behind the procview webhook and the `inject` CLI: it
// takes a pod (and what is known of its namespace) and returns the pod with the procview
// sidecar, its volume and the view's mounts added, or the unchanged pod and why it was skipped.
// Nothing here does I/O, so the webhook, the CLI and the tests share exactly one behaviour.
package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/procview/procview/sidecar/config"
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

// Pod Security Admission's enforce label: any level other than privileged rejects our privileged sidecar.
const psaEnforceLabel = "pod-security.kubernetes.io/enforce"

// The pod layout shared with the sidecar (see the project brief).
const (
	SidecarName   = "procview"           // the sidecar's container name
	VolumeName    = "procview"           // the emptyDir holding the view
	VolumePath    = "/var/lib/procview"  // where every container mounts the volume
	MountPoint    = VolumePath + "/view" // the FUSE mount, a subdirectory (a dead mount at the root would break the sidecar's restart)
	SidecarBinary = "/procview-sidecar"  // the binary's path in the sidecar image
	viewSubPath   = "view"               // subPath prefix of the view files in the volume
	probeWait     = "60s"                // postStart: how long the view may take before the kubelet restarts the sidecar
)

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

// NamespaceInfo is what the injector knows of the pod's namespace.
type NamespaceInfo struct {
	Name   string // overrides pod.Namespace when set (a pod being created may not carry it yet)
	Labels map[string]string
	Rules  Rules // its ResourceQuotas and LimitRanges
}

// Result is the outcome of Inject. Pod is always a copy; it equals the input unless Skip is NotSkipped.
type Result struct {
	Pod      *corev1.Pod
	Warnings []string
	Skip     SkipReason
}

// Status is the JSON of the procview.dev/status annotation.
type Status struct {
	Version    string              `json:"version"`    // the injector's version
	Container  string              `json:"container"`  // the sidecar's container name
	Image      string              `json:"image"`      // the sidecar's image
	CPUView    string              `json:"cpuView"`    // quota or cpuset
	Files      []string            `json:"files"`      // view files the sidecar serves (short names)
	Containers map[string][]string `json:"containers"` // per container: the files mounted in it
}

// InvalidAnnotationError is returned for a pod whose procview.dev/ annotations cannot be applied.
// The webhook denies such a pod; nothing is half-applied.
type InvalidAnnotationError struct{ Problems []string }

func (e *InvalidAnnotationError) Error() string {
	return "procview: invalid annotations: " + strings.Join(e.Problems, "; ")
}

// file is one view file: its path relative to the mount point and its short name.
type file struct{ path, name string }

func viewFiles() []file {
	fs := make([]file, len(config.ViewFiles))
	for i, p := range config.ViewFiles {
		fs[i] = file{path: p, name: path.Base(p)}
	}
	return fs
}

// Inject returns the pod with procview added, or unchanged with the reason it was skipped.
// It never modifies its input. Injecting an injected pod changes nothing. An error (always an
// *InvalidAnnotationError) comes with Skip = SkipInvalidAnnotation and the unchanged pod.
//
// Whether the pod is a candidate: its procview.dev/inject annotation ("true" or "false") wins,
// except that a namespace labelled procview.dev/inject=disabled injects no pod; without the
// annotation, the pod is injected when its namespace is labelled procview.dev/inject=enabled.
func Inject(in *corev1.Pod, ns NamespaceInfo, cfg Config) (Result, error) {
	nsName := ns.Name
	if nsName == "" {
		nsName = in.Namespace
	}
	ns.Name = nsName
	mode, warning := namespaceMode(nsName, ns.Labels)
	res, err := inject(in, ns, mode, cfg)
	if warning != "" {
		res.Warnings = append([]string{warning}, res.Warnings...)
	}
	return res, err
}

// namespaceMode reads the namespace's procview.dev/inject label: enabled, disabled, or "" when
// absent or invalid (with a warning naming the value).
func namespaceMode(nsName string, nsLabels map[string]string) (string, string) {
	v, ok := nsLabels[LabelInject]
	switch {
	case !ok:
		return "", ""
	case v == LabelInjectEnabled || v == LabelInjectDisabled:
		return v, ""
	}
	return "", fmt.Sprintf("procview: namespace %q has label %s=%q, want %q or %q: label ignored",
		nsName, LabelInject, v, LabelInjectEnabled, LabelInjectDisabled)
}

// inject is Inject once the namespace's name and label are known.
func inject(in *corev1.Pod, ns NamespaceInfo, nsMode string, cfg Config) (Result, error) {
	nsName := ns.Name
	pod := in.DeepCopy()
	skip := func(r SkipReason, warnings ...string) (Result, error) {
		return Result{Pod: in.DeepCopy(), Skip: r, Warnings: warnings}, nil
	}
	v, annotated := pod.Annotations[AnnotationInject]
	switch {
	case annotated && v == "false":
		return skip(SkipOptedOut)
	case annotated && v != "true":
		return Result{Pod: pod, Skip: SkipInvalidAnnotation}, &InvalidAnnotationError{Problems: []string{
			fmt.Sprintf("%s=%q: want \"true\" or \"false\"", AnnotationInject, v)}}
	case nsMode == LabelInjectDisabled && annotated:
		return skip(SkipNamespaceDisabled, fmt.Sprintf(
			"procview: not injected: namespace %q is labelled %s=%s, which overrides the pod's %s: \"true\"",
			nsName, LabelInject, LabelInjectDisabled, AnnotationInject))
	case nsMode == LabelInjectDisabled:
		return skip(SkipNamespaceDisabled)
	case !annotated && nsMode != LabelInjectEnabled:
		return skip(SkipNotOptedIn)
	}
	if nsName != "" && slices.Contains(cfg.ExcludedNamespaces, nsName) {
		return skip(SkipExcludedNamespace, fmt.Sprintf("procview: namespace %q is excluded from injection", nsName))
	}
	if cfg.OwnPodSelector != "" {
		sel, err := parseSelector(cfg.OwnPodSelector)
		if err == nil && sel.Matches(labels.Set(pod.Labels)) {
			return skip(SkipOwnPod)
		}
	}
	if hasSidecar(pod) {
		if raw, ok := pod.Annotations[AnnotationStatus]; ok {
			if w := foreignStatus(pod); w != "" {
				return skip(SkipForeignStatusPod, w)
			}
			return complete(pod, raw)
		}
		return skip(SkipNameConflict, fmt.Sprintf("procview: not injected: the pod already has a container named %q", SidecarName))
	}

	opts, warnings, err := readAnnotations(pod, cfg)
	if err != nil {
		return Result{Pod: pod, Skip: SkipInvalidAnnotation}, err
	}
	if pod.Spec.HostPID {
		return skip(SkipHostPID, append(warnings, "procview: not injected: hostPID pods see the host's processes and cannot share a pod PID namespace")...)
	}
	if r, w := unsupported(pod); r != NotSkipped {
		return skip(r, append(warnings, w)...)
	}
	if isWindows(pod) {
		return skip(SkipWindows, append(warnings, "procview: not injected: Windows pods have no /proc")...)
	}
	if blocked, w := podSecurityBlocks(nsName, ns.Labels, cfg); blocked {
		return skip(SkipPSAForbidden, append(warnings, w)...)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == VolumeName {
			return skip(SkipNameConflict, append(warnings, fmt.Sprintf("procview: not injected: the pod already has a volume named %q", VolumeName))...)
		}
	}
	if _, stale := pod.Annotations[AnnotationStatus]; stale {
		warnings = append(warnings, fmt.Sprintf("procview: %s was present without the sidecar: replaced", AnnotationStatus))
	}

	st := Status{Version: cfg.Version, Container: SidecarName, Image: cfg.SidecarImage, CPUView: opts.cpuView,
		Containers: map[string][]string{}}
	served := map[string]bool{}
	for _, c := range appContainers(pod) {
		names, w := mountView(c, opts.files)
		warnings = append(warnings, w...)
		st.Containers[c.Name] = names
		for _, n := range names {
			served[n] = true
		}
	}
	if len(served) == 0 {
		return skip(SkipAllFilesConflict, append(warnings, "procview: not injected: every container already mounts something at every selected view path")...)
	}
	var servedFiles []file
	for _, f := range opts.files {
		if served[f.name] {
			servedFiles = append(servedFiles, f)
			st.Files = append(st.Files, f.name)
		}
	}

	pod.Spec.ShareProcessNamespace = ptr(true)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
		Name: VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	sc, w, err := sidecar(pod, cfg, opts, servedFiles, ns.Rules)
	if err != nil {
		return skip(SkipResourceRules, append(warnings, fmt.Sprintf(
			"procview: not injected: no sidecar resources satisfy the namespace's %v", err))...)
	}
	warnings = append(warnings, w...)
	warnings = append(warnings, addPodLevelShare(pod, sc.Resources)...)
	pod.Spec.InitContainers = append([]corev1.Container{sc}, pod.Spec.InitContainers...)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[AnnotationStatus] = marshalStatus(st)
	return Result{Pod: pod, Warnings: warnings}, nil
}

// complete handles a pod injected before: containers added since (e.g. by a webhook that ran
// after ours, with reinvocation) get the view; everything else stays as it is.
func complete(pod *corev1.Pod, raw string) (Result, error) {
	var st Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st.Containers == nil {
		return Result{Pod: pod, Skip: SkipAlreadyInjected,
			Warnings: []string{fmt.Sprintf("procview: %s is not readable; leaving the injected pod as it is", AnnotationStatus)}}, nil
	}
	var files []file
	for _, f := range viewFiles() {
		if slices.Contains(st.Files, f.name) {
			files = append(files, f)
		}
	}
	var added []string
	warnings := sidecarFirst(pod)
	for _, c := range appContainers(pod) {
		if _, done := st.Containers[c.Name]; done {
			continue
		}
		names, w := mountView(c, files)
		warnings = append(warnings, w...)
		st.Containers[c.Name] = names
		added = append(added, c.Name)
	}
	if len(added) == 0 && len(warnings) == 0 {
		return Result{Pod: pod, Skip: SkipAlreadyInjected}, nil
	}
	if len(added) == 0 {
		return Result{Pod: pod, Warnings: warnings}, nil
	}
	pod.Annotations[AnnotationStatus] = marshalStatus(st)
	warnings = append(warnings, fmt.Sprintf("procview: added the view to containers created after injection: %s", strings.Join(added, ", ")))
	return Result{Pod: pod, Warnings: warnings}, nil
}

func marshalStatus(st Status) string {
	if st.Files == nil {
		st.Files = []string{}
	}
	for k, v := range st.Containers {
		if v == nil {
			st.Containers[k] = []string{}
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("marshal status: %v", err)) // strings, slices and maps of strings always marshal
	}
	return string(b)
}

func hasSidecar(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.Name == SidecarName {
				return true
			}
		}
	}
	return false
}

// appContainers are the containers that get the view: every init container but ours
// (ours comes first, so all of them run after it) and every app container.
func appContainers(pod *corev1.Pod) []*corev1.Container {
	var cs []*corev1.Container
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name != SidecarName {
			cs = append(cs, &pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		cs = append(cs, &pod.Spec.Containers[i])
	}
	return cs
}

func isWindows(pod *corev1.Pod) bool {
	if pod.Spec.OS != nil && strings.EqualFold(string(pod.Spec.OS.Name), "windows") {
		return true
	}
	return strings.EqualFold(pod.Spec.NodeSelector["kubernetes.io/os"], "windows")
}

// mountView adds the view's mounts to one container, leaving out each file whose path (or a
// parent directory of it) the container already mounts something at. It returns the names of
// the files mounted and a warning per file left out.
func mountView(c *corev1.Container, files []file) ([]string, []string) {
	names := []string{}
	var left []string
	var mounts []corev1.VolumeMount
	for _, f := range files {
		target := config.TargetPath(f.path)
		if by, ok := viewConflict(c, f); ok {
			left = append(left, fmt.Sprintf("%s (volume %q at %s)", target, by.Name, by.MountPath))
			continue
		}
		if servedByDir(c, f, files) {
			names = append(names, f.name)
			continue
		}
		mounts = append(mounts, corev1.VolumeMount{Name: VolumeName, MountPath: target,
			SubPath: viewSubPath + "/" + f.path, ReadOnly: true})
		names = append(names, f.name)
	}
	var warnings []string
	if len(left) > 0 {
		warnings = append(warnings, fmt.Sprintf("procview: container %q keeps its own %s", c.Name, strings.Join(left, ", ")))
	}
	if len(mounts) == 0 {
		return names, warnings
	}
	if by, ok := mountedAt(c, VolumePath, true); ok {
		warnings = append(warnings, fmt.Sprintf(
			"procview: container %q mounts volume %q at %s, so it does not get %s: its view files will not be re-attached if the sidecar restarts",
			c.Name, by.Name, by.MountPath, VolumePath))
	} else {
		mounts = append(mounts, corev1.VolumeMount{Name: VolumeName, MountPath: VolumePath, ReadOnly: true,
			MountPropagation: ptr(corev1.MountPropagationHostToContainer)})
	}
	c.VolumeMounts = append(c.VolumeMounts, mounts...)
	return names, warnings
}

// mountedAt finds a mount of another volume at target, or for a file at a parent directory of
// it (other than "/": the user chose what is there), or for a directory below it (ours would hide it).
func mountedAt(c *corev1.Container, target string, dir bool) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if m.Name == VolumeName {
			continue
		}
		p := path.Clean("/" + m.MountPath)
		if p == "/" {
			continue
		}
		if p == target || (!dir && strings.HasPrefix(target, p+"/")) || (dir && strings.HasPrefix(p, target+"/")) {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

// options are the pod's choices after its annotations were read.
type options struct {
	files    []file
	cpuView  string
	cpu      resource.Quantity
	memLimit resource.Quantity
	memReq   *resource.Quantity // nil: the default (the limit when procview.dev/sidecar-memory is set)
	pinned   []string           // resource annotations the pod set
}

// readAnnotations validates every procview.dev/ annotation at once, so the error lists all problems.
func readAnnotations(pod *corev1.Pod, cfg Config) (options, []string, error) {
	var problems, warnings []string
	o := options{files: viewFiles(), cpuView: cfg.CPUView}
	var err error
	if o.cpu, err = positiveQuantity(cfg.SidecarCPURequest, resource.Quantity{}); err != nil {
		problems = append(problems, "injector setting SIDECAR_CPU_REQUEST: "+err.Error())
	}
	if o.memLimit, err = positiveQuantity(cfg.SidecarMemLimit, minSidecarMemory); err != nil {
		problems = append(problems, "injector setting SIDECAR_MEMORY_LIMIT: "+err.Error())
	}
	keys := make([]string, 0, len(pod.Annotations))
	for k := range pod.Annotations {
		if strings.HasPrefix(k, annotationPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := pod.Annotations[k]
		switch k {
		case AnnotationInject, AnnotationStatus:
		case AnnotationFiles:
			fs, err := parseFiles(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: %v", k, v, err))
			}
			o.files = fs
		case AnnotationCPUView:
			if err := checkCPUView(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.cpuView = v
		case AnnotationSidecarCPU:
			if o.cpu, err = positiveQuantity(v, resource.Quantity{}); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.pinned = append(o.pinned, k)
		case AnnotationSidecarMemory:
			if o.memLimit, err = positiveQuantity(v, minSidecarMemory); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.pinned = append(o.pinned, k)
		case AnnotationSidecarMemoryRequest:
			q, err := positiveQuantity(v, resource.Quantity{})
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.memReq = &q
			o.pinned = append(o.pinned, k)
		default:
			warnings = append(warnings, fmt.Sprintf("procview: unknown annotation %s ignored", k))
		}
	}
	if len(problems) > 0 {
		return o, nil, &InvalidAnnotationError{Problems: problems}
	}
	return o, warnings, nil
}

// parseFiles reads procview.dev/files: "all", names to include, or "-name"s to exclude.
func parseFiles(v string) ([]file, error) {
	all := viewFiles()
	if strings.TrimSpace(v) == "all" {
		return all, nil
	}
	var include, exclude []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		neg := strings.HasPrefix(item, "-")
		name := strings.TrimPrefix(item, "-")
		i := slices.IndexFunc(all, func(f file) bool { return name != "" && (f.name == name || f.path == name) })
		if i < 0 {
			var known []string
			for _, f := range all {
				known = append(known, f.name)
			}
			return nil, fmt.Errorf("unknown file %q (known: all, %s; prefix a name with - to exclude it)", item, strings.Join(known, ","))
		}
		if neg {
			exclude = append(exclude, all[i].name)
		} else {
			include = append(include, all[i].name)
		}
	}
	if len(include) > 0 && len(exclude) > 0 {
		return nil, errors.New("mixes files to include and files to exclude (-name)")
	}
	var out []file
	for _, f := range all {
		if (len(include) > 0 && slices.Contains(include, f.name)) || (len(exclude) > 0 && !slices.Contains(exclude, f.name)) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("leaves no file to serve (to opt out, set procview.dev/inject: \"false\")")
	}
	return out, nil
}

// sidecar builds the procview native sidecar, its resources fitted to the namespace's rules.
func sidecar(pod *corev1.Pod, cfg Config, o options, files []file, rules Rules) (corev1.Container, []string, error) {
	var paths []string
	for _, f := range files {
		paths = append(paths, f.path)
	}
	want, warnings := wantResources(pod, cfg, o)
	res, w, err := FitResources(want, rules, pod)
	if err != nil {
		return corev1.Container{}, nil, err
	}
	warnings = append(warnings, w...)
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{
		Name:            SidecarName,
		Image:           cfg.SidecarImage,
		ImagePullPolicy: corev1.PullPolicy(cfg.SidecarPullPolicy),
		Command:         []string{SidecarBinary, "serve"},
		Env: []corev1.EnvVar{
			{Name: config.EnvMountPoint, Value: MountPoint},
			{Name: config.EnvScope, Value: config.ScopePod},
			{Name: config.EnvCPUView, Value: o.cpuView},
			{Name: config.EnvFiles, Value: strings.Join(paths, ",")},
			{Name: config.EnvCgroupRoot, Value: config.CgroupRootAuto},
			{Name: config.EnvReattach, Value: "true"},
		},
		Resources:     res,
		RestartPolicy: &always,
		VolumeMounts: []corev1.VolumeMount{{Name: VolumeName, MountPath: VolumePath,
			MountPropagation: ptr(corev1.MountPropagationBidirectional)}},
		// The kubelet starts the next container once this hook returns: it returns as soon as
		// the view answers (a startupProbe would add up to its period to every pod's start).
		// If the view is not up in time the hook fails and the kubelet restarts the sidecar.
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
			Command: []string{SidecarBinary, "probe", "--mountpoint", MountPoint, "--wait", probeWait}}}},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			// Mounting FUSE and the cgroup filesystems, and Bidirectional propagation, need privilege.
			// The explicit user overrides a pod-level runAsNonRoot or runAsUser.
			Privileged:   ptr(true),
			RunAsUser:    ptr(int64(0)),
			RunAsGroup:   ptr(int64(0)),
			RunAsNonRoot: ptr(false),
		},
	}, warnings, nil
}

func ptr[T any](v T) *T { return &v }

// selectors holds each parsed OwnPodSelector: a Config has one, and parsing it again for
// every pod cost 2 % of an admission's CPU.
var selectors sync.Map // string → labels.Selector

func parseSelector(s string) (labels.Selector, error) {
	if sel, ok := selectors.Load(s); ok {
		return sel.(labels.Selector), nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, err
	}
	selectors.Store(s, sel)
	return sel, nil
}
