package inject

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/procview/procview/internal/podview"
)

const (
	annotationMirror = "kubernetes.io/config.mirror"
	labelOS          = "kubernetes.io/os"
)

// unsupported tells why an opted-in pod must be left alone before anything is added, with the
// warning to give; NotSkipped when none applies.
func unsupported(pod *corev1.Pod) (SkipReason, string) {
	switch {
	case pod.Annotations[annotationMirror] != "":
		return SkipMirrorPod, notInjected(SkipMirrorPod)
	case pod.Spec.HostUsers != nil && !*pod.Spec.HostUsers:
		return SkipHostUsers, notInjected(SkipHostUsers)
	case pod.Spec.ShareProcessNamespace != nil && !*pod.Spec.ShareProcessNamespace:
		return SkipNoShareProcess, notInjected(SkipNoShareProcess)
	case pinnedToWindows(pod):
		return SkipWindows, "procview: not injected: the pod's node affinity allows only Windows nodes, which have no /proc"
	}
	return NotSkipped, ""
}

// pinnedToWindows tells whether the pod's required node affinity admits only Windows nodes:
// every term requires kubernetes.io/os in a set of Windows values only.
func pinnedToWindows(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return false
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return false
	}
	for _, term := range terms {
		windows := false
		for _, e := range term.MatchExpressions {
			if e.Key != labelOS || e.Operator != corev1.NodeSelectorOpIn || len(e.Values) == 0 {
				continue
			}
			only := true
			for _, v := range e.Values {
				only = only && strings.EqualFold(v, "windows")
			}
			windows = windows || only
		}
		if !windows {
			return false
		}
	}
	return true
}

// foreignStatus tells why a pod with a container named procview and a status annotation was
// not injected by us (no procview emptyDir): completing it would mount a volume that does not
// exist and the API server would refuse the pod.
func foreignStatus(pod *corev1.Pod) string {
	for _, v := range pod.Spec.Volumes {
		if v.Name == podview.VolumeName && v.EmptyDir != nil {
			return ""
		}
	}
	return fmt.Sprintf("procview: not injected: the pod has %s and a container named %q but no emptyDir volume %q: it was not injected by procview; remove the annotation or rename the container",
		AnnotationStatus, podview.SidecarName, podview.VolumeName)
}
