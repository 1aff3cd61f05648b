//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/procview/procview/internal/testenv"
)

// In-place pod resize (KEP-1287: beta and on by default in 1.33/1.34, GA in 1.35): `kubectl patch
// --subresource resize` changes the app container's memory and CPU limits while it runs; the next
// `free -m` and `getconf _NPROCESSORS_ONLN` in it show the new limits, with no restart of the app
// or the sidecar. Raised first, then lowered (memory limit decreases with NotRequired: 1.34+).
// The sidecar's own requests and limits stay as injected and must not make the resize fail: in a
// Burstable pod (sidecar: requests, a memory limit) and in a Guaranteed one (sidecar: requests =
// limits, so that the pod keeps its QoS class, which a resize may not change).
func TestInPlaceResize(t *testing.T) {
	type step struct {
		name, mem, cpu string
		wantMiB        int64
		wantCPUs       int
	}
	for _, tc := range []struct {
		name       string
		guaranteed bool // requests = limits in every patch
		steps      []step
	}{
		{"burstable", false, []step{{"raise", "256Mi", "1500m", 256, 2}, {"lower", "192Mi", "500m", 192, 1}}},
		{"guaranteed", true, []step{{"raise", "256Mi", "1100m", 256, 2}, {"lower", "192Mi", "500m", 192, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t, nil)
			app := appContainer("app", "128Mi", "500m")
			if tc.guaranteed {
				app.Resources.Requests = app.Resources.Limits.DeepCopy()
			}
			app.ResizePolicy = []corev1.ContainerResizePolicy{
				{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired},
				{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.NotRequired},
			}
			create(t, ns, newPod("resize", []corev1.Container{app}, optIn))
			p := waitReady(t, ns, "resize")
			if !injected(p) {
				t.Fatalf("pod resize has no %s sidecar: the webhook did not inject it", sidecarName)
			}
			if want := map[bool]corev1.PodQOSClass{false: corev1.PodQOSBurstable, true: corev1.PodQOSGuaranteed}[tc.guaranteed]; p.Status.QOSClass != want {
				t.Fatalf("QoS class %s, want %s", p.Status.QOSClass, want)
			}
			if mem, cpus := freeTotalMiB(t, ns, "resize", "app"), nproc(t, ns, "resize", "app"); mem != 128 || cpus != 1 {
				t.Fatalf("before any resize: free -m total %d, CPUs %d; want 128, 1", mem, cpus)
			}
			appBefore, sideBefore := appStatus(p), sidecarStatus(p)

			for _, st := range tc.steps {
				t.Run(st.name, func(t *testing.T) {
					res := fmt.Sprintf(`{"memory":%q,"cpu":%q}`, st.mem, st.cpu)
					patch := fmt.Sprintf(`{"spec":{"containers":[{"name":"app","resources":{"limits":%s}}]}}`, res)
					if tc.guaranteed {
						patch = fmt.Sprintf(`{"spec":{"containers":[{"name":"app","resources":{"limits":%s,"requests":%s}}]}}`, res, res)
					}
					start := time.Now()
					kubectl(t, "patch", "pod", "resize", "-n", ns, "--subresource", "resize", "-p", patch)

					// The view follows the cgroup: poll until both numbers are the new ones.
					var mem int64
					var cpus int
					if err := testenv.Poll(podReadyWithin, 200*time.Millisecond, func() error {
						mem, cpus = freeTotalMiB(t, ns, "resize", "app"), nproc(t, ns, "resize", "app")
						if mem != st.wantMiB || cpus != st.wantCPUs {
							return errors.New("old limits")
						}
						return nil
					}); err != nil {
						t.Fatalf("%v after the resize patch: free -m total %d, CPUs %d; want %d, %d\n%s", podReadyWithin,
							mem, cpus, st.wantMiB, st.wantCPUs, podDiagnosis(ns, "resize"))
					}
					viewAfter := time.Since(start)

					// The kubelet reports the resize done: the running limits in the status, no resize condition left.
					p := waitPod(t, ns, "resize", "the resize to be actuated", func(p *corev1.Pod) bool {
						return resized(p, "app", st.mem, st.cpu)
					})
					t.Logf("resize to %s/%s: the view showed %d MiB, %d CPUs %v after the patch; the status showed it done %v after",
						st.mem, st.cpu, mem, cpus, viewAfter.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

					if a := appStatus(p); a.ContainerID != appBefore.ContainerID || a.RestartCount != 0 {
						t.Errorf("app container: %s, %d restarts; want the same container %s, no restart", a.ContainerID, a.RestartCount, appBefore.ContainerID)
					}
					s := sidecarStatus(p)
					if s.ContainerID != sideBefore.ContainerID || s.RestartCount != 0 {
						t.Errorf("sidecar container: %s, %d restarts; want the same container %s, no restart", s.ContainerID, s.RestartCount, sideBefore.ContainerID)
					}
					if !equality.Semantic.DeepEqual(s.Resources, sideBefore.Resources) {
						t.Errorf("sidecar resources changed: %+v, were %+v", s.Resources, sideBefore.Resources)
					}
				})
			}
		})
	}
}

// nproc is what getconf _NPROCESSORS_ONLN says in the container.
func nproc(t testing.TB, ns, pod, container string) int {
	t.Helper()
	return atoi(t, "getconf _NPROCESSORS_ONLN", execIn(t, ns, pod, container, "getconf", "_NPROCESSORS_ONLN"))
}

func appStatus(p *corev1.Pod) corev1.ContainerStatus {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == "app" {
			return s
		}
	}
	return corev1.ContainerStatus{}
}

// resized reports whether the kubelet runs container with the limits mem and cpu and has no
// resize pending or in progress.
func resized(p *corev1.Pod, container, mem, cpu string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress {
			return false
		}
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.Name != container || s.Resources == nil {
			continue
		}
		l := s.Resources.Limits
		return l.Memory().Cmp(resource.MustParse(mem)) == 0 && l.Cpu().Cmp(resource.MustParse(cpu)) == 0
	}
	return false
}
