package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/procview/procview/injector/inject"
)

// fakeInjector answers every review for the pod it was sent: with a patch when patch is true.
func fakeInjector(t *testing.T, patch bool) (*httptest.Server, string) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		var pod corev1.Pod
		if err := json.Unmarshal(in.Request.Object.Raw, &pod); err != nil || pod.Annotations[inject.AnnotationInject] != "true" {
			http.Error(w, "pod not opted in", http.StatusBadRequest)
			return
		}
		out := admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: &admissionv1.AdmissionResponse{UID: in.Request.UID, Allowed: true}}
		if patch {
			pt := admissionv1.PatchTypeJSONPatch
			out.Response.Patch, out.Response.PatchType = []byte(`[{"op":"add","path":"/metadata/labels/x","value":"y"}]`), &pt
		}
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		patch      bool
		wantErrors bool
	}{
		{"injected", true, false},
		{"not injected counts as an error", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ca := fakeInjector(t, tc.patch)
			o := options{url: srv.URL + "/inject", caFile: ca, rate: 100, duration: 300 * time.Millisecond,
				warmup: 100 * time.Millisecond, conns: 2, namespace: "apps", timeout: 5 * time.Second}
			if err := o.validate(); err != nil {
				t.Fatal(err)
			}
			res, err := run(o)
			if err != nil {
				t.Fatal(err)
			}
			if res.sent != 30 {
				t.Errorf("sent %d timed requests, want 30 (the 10 warm-up ones not counted)", res.sent)
			}
			if got := res.errors > 0; got != tc.wantErrors {
				t.Errorf("errors = %d (first %v), want errors: %v", res.errors, res.firstErr, tc.wantErrors)
			}
			if !tc.wantErrors && len(res.lat) != res.sent {
				t.Errorf("%d latencies for %d requests", len(res.lat), res.sent)
			}
			var out bytes.Buffer
			res.print(&out, o)
			for _, key := range []string{"webhook_p50_us=", "webhook_p99_us=", "webhook_rps=", "webhook_errors="} {
				if !strings.Contains(out.String(), "\n"+key) {
					t.Errorf("output lacks %s:\n%s", key, out.String())
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := options{caFile: "ca", rate: 200, duration: time.Second, conns: 4}
	for name, mutate := range map[string]func(*options){
		"no CA":      func(o *options) { o.caFile = "" },
		"zero rate":  func(o *options) { o.rate = 0 },
		"no time":    func(o *options) { o.duration = 0 },
		"no conns":   func(o *options) { o.conns = 0 },
		"neg warmup": func(o *options) { o.warmup = -time.Second },
	} {
		o := ok
		mutate(&o)
		if o.validate() == nil {
			t.Errorf("%s: validate() = nil, want an error", name)
		}
	}
	if err := ok.validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}
