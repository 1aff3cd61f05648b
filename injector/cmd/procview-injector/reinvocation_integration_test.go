package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/kubetest"
	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
)

// meshWebhook is a stand-in for a service mesh's injector: it puts an init container mesh-init in
// front of a pod's init containers and appends a container mesh-proxy, once.
func meshWebhook(calls *atomic.Int32) http.Handler {
	return &admission.Webhook{Handler: admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		calls.Add(1)
		var pod corev1.Pod
		if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the pod: %w", err))
		}
		for _, c := range pod.Spec.InitContainers {
			if c.Name == "mesh-init" {
				return admission.Allowed("already there")
			}
		}
		pod.Spec.InitContainers = append([]corev1.Container{{Name: "mesh-init", Image: "example/mesh-init",
			Command: []string{"sh", "-c", "nproc"}}}, pod.Spec.InitContainers...)
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "mesh-proxy", Image: "example/mesh-proxy"})
		out, err := json.Marshal(&pod)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode the pod: %w", err))
		}
		return admission.PatchResponseFromRaw(req.Object.Raw, out)
	})}
}

// serveTLS serves h over TLS on a loopback port with a certificate of the control plane's CA,
// until the test ends, and returns the port.
func serveTLS(t *testing.T, cp *kubetest.ControlPlane, h http.Handler) int {
	t.Helper()
	dir := t.TempDir()
	cp.ServingCert(t, dir, "tls")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(l, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("stop the mesh webhook: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("mesh webhook: %v", err)
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// setReinvocation sets reinvocationPolicy IfNeeded on every webhook of a configuration.
func (e *env) setReinvocation(name string) {
	e.t.Helper()
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, &cfg); err != nil {
		e.t.Fatalf("get webhook configuration %s: %v", name, err)
	}
	for i := range cfg.Webhooks {
		cfg.Webhooks[i].ReinvocationPolicy = ptr(admissionregistrationv1.IfNeededReinvocationPolicy)
	}
	if err := e.c.Update(e.ctx, &cfg); err != nil {
		e.t.Fatalf("update webhook configuration %s: %v", name, err)
	}
}

// TestReinvocationAgainstAPIServer runs the injector and a second mutating webhook that adds an
// init container in front and a container at the end, both with reinvocationPolicy IfNeeded,
// in a real kube-apiserver, in both orders (the API server calls webhook configurations in the
// order of their names). The stored pod has the sidecar first among its init containers and the
// view in every other container, the ones the mesh added included.
func TestReinvocationAgainstAPIServer(t *testing.T) {
	cp := kubetest.Start(t)
	e := newEnv(t, cp, settings{Config: inject.DefaultConfig()})
	var meshCalls atomic.Int32
	meshURL := "https://127.0.0.1:" + strconv.Itoa(serveTLS(t, cp, meshWebhook(&meshCalls))) + "/mutate"

	// aa-mesh runs before procview, zz-mesh after it; each in its own namespace.
	const meshFirst, meshLast = "mesh-first", "mesh-last"
	for _, ns := range []string{meshFirst, meshLast} {
		if err := e.c.Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	e.registerWebhook("procview", e.hookPort, cp.CAPEM, admissionregistrationv1.Fail, "In", []string{meshFirst, meshLast})
	e.setReinvocation("procview")
	for cfgName, ns := range map[string]string{"aa-mesh": meshFirst, "zz-mesh": meshLast} {
		e.registerWebhook(cfgName, e.hookPort, cp.CAPEM, admissionregistrationv1.Fail, "In", []string{ns})
		var cfg admissionregistrationv1.MutatingWebhookConfiguration
		if err := e.c.Get(e.ctx, client.ObjectKey{Name: cfgName}, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Webhooks[0].ClientConfig.URL = &meshURL
		if err := e.c.Update(e.ctx, &cfg); err != nil {
			t.Fatalf("point %s at the mesh webhook: %v", cfgName, err)
		}
		e.setReinvocation(cfgName)
	}
	// The API server picks configurations up asynchronously: wait until a dry-run pod in each
	// namespace comes back from both webhooks.
	for _, ns := range []string{meshFirst, meshLast} {
		err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
			p := e.pod("plain", ns)
			if err := e.c.Create(e.ctx, p, client.DryRunAll); err != nil {
				return err
			}
			// Both ran; the order is the subtests' business.
			if names := containerNames(p.Spec.InitContainers); !slices.Contains(names, podview.SidecarName) || !slices.Contains(names, "mesh-init") {
				return fmt.Errorf("init containers %v, want procview and mesh-init", names)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: the webhooks never both mutated a dry-run pod: %v", ns, err)
		}
	}
	e.warn.take()

	viewPaths := []string{"/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime", "/proc/loadavg",
		"/proc/diskstats", "/proc/swaps", "/proc/slabinfo", "/sys/devices/system/cpu", podview.VolumePath} // the directory holds online
	for _, tc := range []struct {
		ns      string
		warning string // in the client's warnings; "" : none about moving the sidecar
	}{
		{meshFirst, ""},
		{meshLast, "moved the procview sidecar in front of init containers added before it (mesh-init)"},
	} {
		t.Run(tc.ns, func(t *testing.T) {
			before := meshCalls.Load()
			got := e.create(t, e.pod("plain", tc.ns))
			if calls := meshCalls.Load() - before; calls < 1 || calls > 2 {
				t.Errorf("mesh webhook called %d times, want 1 or 2 (once more on reinvocation)", calls)
			}
			if diff := cmp.Diff([]string{podview.SidecarName, "mesh-init"}, containerNames(got.Spec.InitContainers)); diff != "" {
				t.Errorf("init containers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"web", "mesh-proxy"}, containerNames(got.Spec.Containers)); diff != "" {
				t.Errorf("containers (-want +got):\n%s", diff)
			}
			// The view in every container that starts after the sidecar; the sidecar has only
			// its own volume.
			for _, c := range append(got.Spec.InitContainers[1:], got.Spec.Containers...) {
				if diff := cmp.Diff(viewPaths, viewMounts(c)); diff != "" {
					t.Errorf("container %s: view mounts (-want +got):\n%s", c.Name, diff)
				}
			}
			sc := got.Spec.InitContainers[0]
			if mounts := viewMounts(sc); len(mounts) != 1 || sc.VolumeMounts[0].SubPath != "" {
				t.Errorf("sidecar mounts %+v, want the volume alone", sc.VolumeMounts)
			}
			var st inject.Status
			if err := json.Unmarshal([]byte(got.Annotations[inject.AnnotationStatus]), &st); err != nil {
				t.Fatalf("status annotation: %v", err)
			}
			if diff := cmp.Diff([]string{"mesh-init", "mesh-proxy", "web"}, slices.Sorted(maps.Keys(st.Containers))); diff != "" {
				t.Errorf("status annotation's containers (-want +got):\n%s", diff)
			}
			w := strings.Join(e.warn.take(), "\n")
			if moved := strings.Contains(w, "moved the procview sidecar"); tc.warning == "" && moved || tc.warning != "" && !strings.Contains(w, tc.warning) {
				t.Errorf("warnings %q: want %q", w, tc.warning)
			}
		})
	}
}

func containerNames(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// viewMounts lists where a container mounts the procview volume, in order.
func viewMounts(c corev1.Container) []string {
	var out []string
	for _, m := range c.VolumeMounts {
		if m.Name == podview.VolumeName {
			out = append(out, m.MountPath)
		}
	}
	return out
}
