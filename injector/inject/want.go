package inject

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// wantResources is what the pod's annotations and the injector's settings ask for the sidecar.
func wantResources(pod *corev1.Pod, cfg *Settings, o options) (SidecarResources, []string) {
	want := SidecarResources{CPURequest: o.cpu, MemLimit: o.memLimit, Pinned: o.pinned}
	want.CPULimitIfRequired = cfg.cpuLimit.DeepCopy()
	_, memAnnotated := pod.Annotations[AnnotationSidecarMemory]
	switch {
	case o.memReq != nil:
		want.MemRequest = *o.memReq
	case memAnnotated:
		want.MemRequest = o.memLimit // the pod said how much memory the sidecar gets
	default:
		want.MemRequest = cfg.memRequest.DeepCopy()
	}
	if want.MemRequest.Cmp(o.memLimit) > 0 {
		want.MemRequest = o.memLimit.DeepCopy()
	}
	if want.CPULimitIfRequired.Cmp(o.cpu) < 0 {
		want.CPULimitIfRequired = o.cpu.DeepCopy()
	}
	var warnings []string
	if guaranteed(pod) {
		// Keep the pod's QoS class: Guaranteed needs limits equal to requests in every container.
		// A limit that small throttles the FUSE server hard, so Guaranteed pods get a larger default.
		if _, set := pod.Annotations[AnnotationSidecarCPU]; !set {
			if cfg.cpuGuaranteed.Cmp(want.CPURequest) > 0 {
				want.CPURequest = cfg.cpuGuaranteed.DeepCopy()
			}
		}
		want.CPULimit = ptr.To(want.CPURequest.DeepCopy())
		want.MemRequest = o.memLimit.DeepCopy()
		warnings = append(warnings, fmt.Sprintf(
			"procview: the pod is Guaranteed, so the sidecar's CPU limit equals its request (%s) to keep that QoS class; raise %s if reads of /proc are slow",
			want.CPURequest.String(), AnnotationSidecarCPU))
	}
	return want, warnings
}

// guaranteed tells whether the pod is in the Guaranteed QoS class: every container has CPU
// and memory limits, and its requests (if set) equal them.
func guaranteed(pod *corev1.Pod) bool {
	n := 0
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			n++
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				lim, ok := c.Resources.Limits[r]
				if !ok || lim.IsZero() {
					return false
				}
				if req, ok := c.Resources.Requests[r]; ok && req.Cmp(lim) != 0 {
					return false
				}
			}
		}
	}
	return n > 0
}
