// Package inject is the pure mutation behind the procview webhook and the `inject` CLI: it
// takes a pod (and what is known of its namespace) and returns the pod with the procview
// sidecar, its volume and the view's mounts added, or the unchanged pod and why it was skipped.
// Nothing here does I/O, so the webhook, the CLI and the tests share exactly one behaviour.
package inject

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/procview/procview/internal/podview"
)

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

// InvalidAnnotationError is returned for a pod whose procview.dev/ annotations cannot be applied.
// The webhook denies such a pod; nothing is half-applied.
type InvalidAnnotationError struct{ Problems []string }

func (e *InvalidAnnotationError) Error() string {
	return "procview: invalid annotations: " + strings.Join(e.Problems, "; ")
}

// Inject returns the pod with procview added, or unchanged with the reason it was skipped.
// It never modifies its input. Injecting an injected pod changes nothing. An error (always an
// *InvalidAnnotationError) comes with Skip = SkipInvalidAnnotation and the unchanged pod.
//
// Whether the pod is a candidate: its procview.dev/inject annotation ("true" or "false") wins,
// except that a namespace labelled procview.dev/inject=disabled injects no pod; without the
// annotation, the pod is injected when its namespace is labelled procview.dev/inject=enabled.
func Inject(in *corev1.Pod, ns NamespaceInfo, cfg *Settings) (Result, error) {
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
func inject(in *corev1.Pod, ns NamespaceInfo, nsMode string, cfg *Settings) (Result, error) {
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
	if cfg.ownPods != nil && cfg.ownPods.Matches(labels.Set(pod.Labels)) {
		return skip(SkipOwnPod)
	}
	if hasSidecar(pod) {
		if raw, ok := pod.Annotations[AnnotationStatus]; ok {
			if w := foreignStatus(pod); w != "" {
				return skip(SkipForeignStatusPod, w)
			}
			return complete(pod, raw)
		}
		return skip(SkipNameConflict, fmt.Sprintf("procview: not injected: the pod already has a container named %q", podview.SidecarName))
	}

	opts, warnings, err := readAnnotations(pod, cfg)
	if err != nil {
		return Result{Pod: pod, Skip: SkipInvalidAnnotation}, err
	}
	if pod.Spec.HostPID {
		return skip(SkipHostPID, append(warnings, notInjected(SkipHostPID))...)
	}
	if r, w := unsupported(pod); r != NotSkipped {
		return skip(r, append(warnings, w)...)
	}
	if isWindows(pod) {
		return skip(SkipWindows, append(warnings, notInjected(SkipWindows))...)
	}
	if blocked, w := podSecurityBlocks(nsName, ns.Labels, cfg); blocked {
		return skip(SkipPSAForbidden, append(warnings, w)...)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == podview.VolumeName {
			return skip(SkipNameConflict, append(warnings, fmt.Sprintf("procview: not injected: the pod already has a volume named %q", podview.VolumeName))...)
		}
	}
	if _, stale := pod.Annotations[AnnotationStatus]; stale {
		warnings = append(warnings, fmt.Sprintf("procview: %s was present without the sidecar: replaced", AnnotationStatus))
	}

	st := Status{Version: cfg.Version, Container: podview.SidecarName, Image: cfg.SidecarImage, CPUView: opts.cpuView,
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
		return skip(SkipAllFilesConflict, append(warnings, notInjected(SkipAllFilesConflict))...)
	}
	var servedFiles []podview.File
	for _, f := range opts.files {
		if served[f.Name()] {
			servedFiles = append(servedFiles, f)
			st.Files = append(st.Files, f.Name())
		}
	}

	pod.Spec.ShareProcessNamespace = ptr.To(true)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
		Name: podview.VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
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

func hasSidecar(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.Name == podview.SidecarName {
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
		if pod.Spec.InitContainers[i].Name != podview.SidecarName {
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
