//go:build e2e

package e2e

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A tenant namespace as multi-tenant clusters set one up: a ResourceQuota on the requests and
// limits of CPU and memory (so every container must set them, the sidecar too) and a LimitRange
// with a minimum memory above the sidecar's default request and a limit/request ratio. An
// opted-in pod that the rules admit without procview is admitted with it, reaches Running, and
// its app sees its own limit; the sidecar got what the rules require.
func TestQuotaAndLimitRangeNamespace(t *testing.T) {
	ns := newNamespace(t, nil)
	q := resource.MustParse
	create(t, ns, &corev1.ResourceQuota{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: metav1.ObjectMeta{Name: "tenant"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourceRequestsCPU: q("2"), corev1.ResourceRequestsMemory: q("2Gi"),
			corev1.ResourceLimitsCPU: q("4"), corev1.ResourceLimitsMemory: q("4Gi"), corev1.ResourcePods: q("10"),
		}}})
	create(t, ns, &corev1.LimitRange{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: metav1.ObjectMeta{Name: "tenant"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:                 corev1.LimitTypeContainer,
			Min:                  corev1.ResourceList{corev1.ResourceMemory: q("32Mi")},
			MaxLimitRequestRatio: corev1.ResourceList{corev1.ResourceMemory: q("4")},
		}}}})
	web := appContainer("web", "256Mi", "500m")
	web.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("128Mi")}
	warnings := create(t, ns, newPod("web", []corev1.Container{web}, optIn))
	pod := waitReady(t, ns, "web")
	if !injected(pod) {
		t.Fatalf("pod web has no %s sidecar; admission said:\n%s", sidecarName, warnings)
	}
	if got := freeTotalMiB(t, ns, "web", "web"); got != 256 {
		t.Errorf("free -m total = %d, want 256", got)
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name != sidecarName {
			continue
		}
		r := c.Resources
		if _, ok := r.Limits[corev1.ResourceCPU]; !ok {
			t.Errorf("sidecar has no CPU limit, which the quota on limits.cpu requires: %+v", r)
		}
		if m := r.Requests[corev1.ResourceMemory]; m.Cmp(q("32Mi")) < 0 {
			t.Errorf("sidecar memory request %s, below the LimitRange min 32Mi", m.String())
		}
		lim, req := r.Limits[corev1.ResourceMemory], r.Requests[corev1.ResourceMemory]
		if lim.Value() > 4*req.Value() {
			t.Errorf("sidecar memory limit/request %s/%s over the LimitRange ratio 4", lim.String(), req.String())
		}
	}
}
