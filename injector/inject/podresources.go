package inject

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// addPodLevelShare adds the sidecar's requests and limits to the pod-level spec.resources (which
// the API server requires to hold the sum of the containers'), for each resource the pod sets
// there, and says so.
func addPodLevelShare(pod *corev1.Pod, sidecar corev1.ResourceRequirements) []string {
	pr := pod.Spec.Resources
	if pr == nil {
		return nil
	}
	var added []string
	for _, l := range []struct {
		kind     string
		pod, add corev1.ResourceList
	}{{"requests", pr.Requests, sidecar.Requests}, {"limits", pr.Limits, sidecar.Limits}} {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			have, set := l.pod[name]
			share, ok := l.add[name]
			if !set || !ok {
				continue
			}
			was := have.String()
			have.Add(share)
			l.pod[name] = have
			added = append(added, fmt.Sprintf("%s.%s %s → %s", l.kind, name, was, have.String()))
		}
	}
	if len(added) == 0 {
		return nil
	}
	return []string{"procview: added the sidecar's share to the pod-level resources: " + strings.Join(added, ", ")}
}
