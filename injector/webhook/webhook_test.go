package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/procview/procview/injector/inject"
)

// failingReader is a namespace reader whose API server is unreachable.
type failingReader struct{ client.Reader }

func (failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("connection refused")
}

func request(t *testing.T, op admissionv1.Operation, ns string, pod *corev1.Pod) admission.Request {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "1", Operation: op, Namespace: ns,
		Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Object:   runtime.RawExtension{Raw: raw},
	}}
}

func podWith(ann map[string]string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: ann},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
}

func count(t *testing.T, m *Metrics, result string, reason inject.SkipReason) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Pods.WithLabelValues(result, string(reason)).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

func TestHandle(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	namespaces := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "secure",
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team",
			Labels: map[string]string{inject.LabelInject: inject.LabelInjectEnabled}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "frozen",
			Labels: map[string]string{inject.LabelInject: inject.LabelInjectDisabled}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "typo",
			Labels: map[string]string{inject.LabelInject: "on"}}},
	).Build()
	optOut := map[string]string{inject.AnnotationInject: "false"}
	optIn := map[string]string{inject.AnnotationInject: "true"}
	for _, tc := range []struct {
		name    string
		op      admissionv1.Operation
		ns      string
		ann     map[string]string
		reader  client.Reader
		allowed bool
		patched bool
		result  string
		reason  inject.SkipReason
		warning string
	}{
		{"injected", admissionv1.Create, "apps", optIn, namespaces, true, true, ResultInjected, "", ""},
		{"not opted in", admissionv1.Create, "apps", nil, namespaces, true, false, ResultSkipped, inject.SkipNotOptedIn, ""},
		{"update", admissionv1.Update, "apps", optIn, namespaces, true, false, ResultSkipped, inject.SkipNotCreate, ""},
		{"baseline namespace", admissionv1.Create, "secure", optIn, namespaces, true, false, ResultSkipped, inject.SkipPSAForbidden, `enforces Pod Security "baseline"`},
		{"namespace unreadable", admissionv1.Create, "apps", optIn, failingReader{}, true, false, ResultSkipped, inject.SkipNamespaceUnknown, "connection refused"},
		{"namespace enabled", admissionv1.Create, "team", nil, namespaces, true, true, ResultInjected, "", ""},
		{"namespace enabled, pod opted out", admissionv1.Create, "team", optOut, failingReader{}, true, false, ResultSkipped, inject.SkipOptedOut, ""},
		{"namespace disabled", admissionv1.Create, "frozen", optIn, namespaces, true, false, ResultSkipped, inject.SkipNamespaceDisabled, "procview.dev/inject=disabled"},
		{"namespace label invalid", admissionv1.Create, "typo", nil, namespaces, true, false, ResultSkipped, inject.SkipNotOptedIn, `procview.dev/inject="on"`},
		{"namespace unreadable, not opted in", admissionv1.Create, "team", nil, failingReader{}, true, false, ResultSkipped, inject.SkipNamespaceUnknown, ""},
		{"invalid", admissionv1.Create, "apps", map[string]string{inject.AnnotationInject: "true", inject.AnnotationCPUView: "x"}, namespaces, false, false, ResultRejected, inject.SkipInvalidAnnotation, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := inject.DefaultConfig().Parse()
			if err != nil {
				t.Fatal(err)
			}
			wh := (&Injector{Settings: cfg, Namespaces: tc.reader, Metrics: m}).Webhook(scheme)
			resp := wh.Handle(context.Background(), request(t, tc.op, tc.ns, podWith(tc.ann)))
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed %v, want %v (%v)", resp.Allowed, tc.allowed, resp.Result)
			}
			var patch []jsonpatch.Operation
			if len(resp.Patch) > 0 {
				if err := json.Unmarshal(resp.Patch, &patch); err != nil {
					t.Fatalf("patch %s: %v", resp.Patch, err)
				}
				if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
					t.Errorf("patch type %v, want JSONPatch", resp.PatchType)
				}
			}
			if got := len(patch) > 0; got != tc.patched {
				t.Errorf("patched %v, want %v: %s", got, tc.patched, resp.Patch)
			}
			if tc.patched {
				var paths []string
				for _, p := range patch {
					paths = append(paths, p.Operation+" "+p.Path)
				}
				joined := strings.Join(paths, "\n")
				status := "add /metadata/annotations/procview.dev~1status"
				if tc.ann == nil {
					status = "add /metadata/annotations" // the pod had none: the map is added whole
				}
				for _, want := range []string{"add /spec/initContainers", "add /spec/shareProcessNamespace", "add /spec/volumes", status} {
					if !strings.Contains(joined, want) {
						t.Errorf("patch lacks %q:\n%s", want, joined)
					}
				}
			}
			if tc.warning == "" && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", resp.Warnings)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(resp.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q lack %q", resp.Warnings, tc.warning)
			}
			if got := count(t, m, tc.result, tc.reason); got != 1 {
				t.Errorf("procview_injector_pods_total{result=%q,reason=%q} = %v, want 1", tc.result, tc.reason, got)
			}
		})
	}
}
