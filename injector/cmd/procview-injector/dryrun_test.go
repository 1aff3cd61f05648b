package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/testpods"
	"github.com/procview/procview/injector/webhook"
)

// parsed is c parsed for inject.Inject.
func parsed(t testing.TB, c inject.Config) *inject.Settings {
	t.Helper()
	s, err := c.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// canonical re-encodes a JSON document with sorted keys, so equal documents compare equal as bytes.
func canonical(t *testing.T, doc []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The webhook and `procview-injector inject` emit the same bytes for every test pod: the
// webhook's patch applied to the submitted pod is exactly the CLI's output document.
func TestDryRunEqualsWebhook(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../inject/testdata/pods/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("test pods: %v, %d found", err, len(files))
	}
	cfg := inject.DefaultConfig()
	injected := 0
	for _, f := range files {
		c := testpods.ReadCase(t, f)
		if len(c.Quotas) > 0 || len(c.LimitRanges) > 0 {
			continue // the CLI knows no namespace rules
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			ns := c.Namespace
			if ns == "" {
				ns = "default"
			}
			pod := c.Pod.DeepCopy()
			pod.Namespace = ns
			pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
			raw, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			namespaces := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: c.Labels}}).Build()
			wh := (&webhook.Injector{Settings: parsed(t, cfg), Namespaces: namespaces}).Webhook(scheme)
			resp := wh.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				UID: "1", Operation: admissionv1.Create, Namespace: ns,
				Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
				Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
				Object:   runtime.RawExtension{Raw: raw},
			}})
			out, _, cliErr := injectDocs(bytes.NewReader(raw), cfg, c.Labels)
			if !resp.Allowed {
				if cliErr == nil {
					t.Fatalf("the webhook denied the pod (%v), the CLI did not", resp.Result)
				}
				return
			}
			if cliErr != nil {
				t.Fatalf("the CLI failed (%v), the webhook allowed the pod", cliErr)
			}
			viaWebhook := raw
			if len(resp.Patch) > 0 {
				injected++
				p, err := jsonpatch.DecodePatch(resp.Patch)
				if err != nil {
					t.Fatal(err)
				}
				if viaWebhook, err = p.Apply(raw); err != nil {
					t.Fatal(err)
				}
			}
			viaCLI, err := yaml.YAMLToJSON(out)
			if err != nil {
				t.Fatal(err)
			}
			if w, c := canonical(t, viaWebhook), canonical(t, viaCLI); w != c {
				t.Errorf("webhook and CLI differ:\nwebhook: %s\nCLI:     %s", w, c)
			}
		})
	}
	if injected < 5 {
		t.Errorf("only %d test pods were injected: the test proves little", injected)
	}
}

// The CLI patches the document it read: fields this build's API types do not know survive,
// in the pod and in a workload's template, and nothing is added that the webhook would not add.
func TestDryRunKeepsUnknownFields(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, futureMetaField: 1}
spec:
  futureDeploymentField: x
  template:
    metadata:
      annotations: {procview.dev/inject: "true"}
      futureTemplateField: 2
    spec:
      futurePodField: {a: 1}
      containers:
      - name: app
        image: nginx
        futureContainerField: z
`
	out, _, err := injectDocs(strings.NewReader(in), inject.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"futureMetaField: 1", "futureDeploymentField: x", "futureTemplateField: 2",
		"futurePodField:", "futureContainerField: z", "procview.dev/status:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "creationTimestamp") {
		t.Errorf("output has a creationTimestamp the input did not:\n%s", out)
	}
}
