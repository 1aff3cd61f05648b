package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/kubetest"
	"github.com/procview/procview/injector/webhook"
	"github.com/procview/procview/internal/testenv"
)

// TestOutageAgainstAPIServer registers deploy/base's two webhook entries (matchConditions,
// failurePolicy Fail; clientConfig pointed at the in-process injector) in a real kube-apiserver:
// a pod that did not opt in costs no admission call and is created while the injector is down;
// an opted-in pod is refused then, with a message naming procview, and injected once it is back.
func TestOutageAgainstAPIServer(t *testing.T) {
	cp := kubetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	certDir := t.TempDir()
	cp.ServingCert(t, certDir, "tls")
	s := settings{Config: inject.DefaultConfig()}
	hookPort, metricsPort, healthPort := kubetest.FreePort(t), kubetest.FreePort(t), kubetest.FreePort(t)
	s.ListenAddr = "127.0.0.1:" + strconv.Itoa(hookPort)
	s.MetricsAddr = "127.0.0.1:" + strconv.Itoa(metricsPort)
	s.HealthAddr = "127.0.0.1:" + strconv.Itoa(healthPort)
	s.CertDir = certDir
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)

	// start serves the injector until the returned stop is called.
	start := func() (stop func()) {
		sctx, scancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- serve(sctx, rest.CopyConfig(cp.Config), s, logr.Discard()) }()
		if err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
			return httpGetOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort))
		}); err != nil {
			t.Fatalf("injector not ready: %v", err)
		}
		return func() {
			scancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("serve did not return")
			}
		}
	}
	stop := start()

	c := cp.Client(t, nil)
	raw, err := os.ReadFile("../../../deploy/base/webhook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(raw, &mwc); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d%s", hookPort, webhook.Path)
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: cp.CAPEM}
	}
	if err := c.Create(ctx, &mwc); err != nil {
		t.Fatalf("the API server refuses deploy/base/webhook.yaml: %v", err)
	}
	for _, ns := range []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "apps"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{inject.LabelInject: inject.LabelInjectEnabled}}},
	} {
		if err := c.Create(ctx, &ns); err != nil {
			t.Fatal(err)
		}
	}
	seq := 0
	pod := func(ns string, annotations map[string]string) *corev1.Pod {
		seq++
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", seq), Namespace: ns, Annotations: annotations},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	}
	optIn := map[string]string{inject.AnnotationInject: "true"}
	optOut := map[string]string{inject.AnnotationInject: "false"}
	// The configuration is picked up asynchronously.
	if err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		p := pod("apps", optIn)
		if err := c.Create(ctx, p, client.DryRunAll); err != nil {
			return err
		}
		if !hasSidecar(p) {
			return fmt.Errorf("not injected yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	calls := func() float64 {
		resp, err := http.Get(metrics)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var n float64
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "procview_injector_pods_total{") {
				v, _ := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
				n += v
			}
		}
		return n
	}
	t.Run("non-opted pods cost no admission call", func(t *testing.T) {
		before := calls()
		const n = 20
		for i := 0; i < n; i++ {
			for _, p := range []*corev1.Pod{pod("apps", nil), pod("apps", optOut), pod("team", optOut),
				pod("apps", map[string]string{"other": "x"})} {
				if err := c.Create(ctx, p); err != nil {
					t.Fatal(err)
				}
				if hasSidecar(p) {
					t.Errorf("%s/%s injected", p.Namespace, p.Name)
				}
			}
		}
		after := calls()
		t.Logf("admission calls for %d pods that did not opt in: %v", 4*n, after-before)
		if after != before {
			t.Errorf("%v admission calls for pods that did not opt in, want 0", after-before)
		}
		for _, p := range []*corev1.Pod{pod("apps", optIn), pod("team", nil)} {
			if err := c.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			if !hasSidecar(p) {
				t.Errorf("%s/%s (opted in) not injected", p.Namespace, p.Name)
			}
		}
		if got := calls() - after; got != 2 {
			t.Errorf("%v admission calls for 2 opted-in pods, want 2 (one each)", got)
		}
	})

	t.Run("injector down", func(t *testing.T) {
		stop()
		for _, p := range []*corev1.Pod{pod("apps", nil), pod("apps", optOut), pod("team", optOut)} {
			if err := c.Create(ctx, p); err != nil {
				t.Errorf("a pod that did not opt in, injector down: %v", err)
			}
		}
		for _, p := range []*corev1.Pod{pod("apps", optIn), pod("team", nil)} {
			err := c.Create(ctx, p)
			if err == nil || !strings.Contains(err.Error(), "inject.procview.dev") {
				t.Errorf("%s/%s (opted in), injector down: %v, want a refusal naming procview", p.Namespace, p.Name, err)
			} else {
				t.Logf("refused: %v", err)
			}
		}
	})

	t.Run("injector back", func(t *testing.T) {
		stop = start()
		t.Cleanup(stop)
		if err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
			for _, tc := range []struct {
				p    *corev1.Pod
				want bool
			}{{pod("apps", optIn), true}, {pod("team", nil), true}, {pod("apps", nil), false}} {
				if err := c.Create(ctx, tc.p); err != nil {
					return err
				}
				if hasSidecar(tc.p) != tc.want {
					return fmt.Errorf("%s/%s injected %v, want %v", tc.p.Namespace, tc.p.Name, hasSidecar(tc.p), tc.want)
				}
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})
}
