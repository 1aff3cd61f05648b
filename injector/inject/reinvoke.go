package inject

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/procview/procview/internal/podview"
)

// sidecarFirst moves the sidecar back in front of init containers another webhook put before
// it (reinvocation): those would start before the view exists, and their subPath mounts of the
// view would fail. Every init container then starts after the sidecar and gets the view.
func sidecarFirst(pod *corev1.Pod) []string {
	ics := pod.Spec.InitContainers
	i := 0
	for i < len(ics) && ics[i].Name != podview.SidecarName {
		i++
	}
	if i == 0 || i == len(ics) {
		return nil
	}
	var before []string
	for _, c := range ics[:i] {
		before = append(before, c.Name)
	}
	sc := ics[i]
	out := append([]corev1.Container{sc}, ics[:i]...)
	pod.Spec.InitContainers = append(out, ics[i+1:]...)
	return []string{fmt.Sprintf("procview: moved the procview sidecar in front of init containers added before it (%s), so that they start after the view is served",
		strings.Join(before, ", "))}
}
