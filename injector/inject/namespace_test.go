package inject

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNamespaceLabel covers every combination of the namespace's procview.dev/inject label and
// the pod's procview.dev/inject annotation.
func TestNamespaceLabel(t *testing.T) {
	const absent = "<absent>"
	for _, tc := range []struct {
		label, annotation string
		skip              SkipReason
		invalid           bool
		warning           string // a substring of the warnings; "" means no warning at all
	}{
		{absent, absent, SkipNotOptedIn, false, ""},
		{absent, "true", NotSkipped, false, ""},
		{absent, "false", SkipOptedOut, false, ""},
		{absent, "yes", SkipInvalidAnnotation, true, ""},

		{"enabled", absent, NotSkipped, false, ""},
		{"enabled", "true", NotSkipped, false, ""},
		{"enabled", "false", SkipOptedOut, false, ""},
		{"enabled", "yes", SkipInvalidAnnotation, true, ""},

		{"disabled", absent, SkipNamespaceDisabled, false, ""},
		{"disabled", "true", SkipNamespaceDisabled, false, `namespace "ns" is labelled procview.dev/inject=disabled`},
		{"disabled", "false", SkipOptedOut, false, ""},
		{"disabled", "yes", SkipInvalidAnnotation, true, ""},

		// Any other value is treated as no label, with a warning naming it.
		{"true", absent, SkipNotOptedIn, false, `label procview.dev/inject="true"`},
		{"Enabled", absent, SkipNotOptedIn, false, `label procview.dev/inject="Enabled"`},
		{"", "true", NotSkipped, false, `label procview.dev/inject=""`},
		{"off", "false", SkipOptedOut, false, `label procview.dev/inject="off"`},
	} {
		t.Run("label="+tc.label+",annotation="+tc.annotation, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			}
			if tc.annotation != absent {
				pod.Annotations = map[string]string{AnnotationInject: tc.annotation}
			}
			ns := NamespaceInfo{Labels: map[string]string{}}
			if tc.label != absent {
				ns.Labels[LabelInject] = tc.label
			}
			res, err := Inject(pod, ns, testSettings(t))
			if (err != nil) != tc.invalid {
				t.Fatalf("error %v, want an error: %v", err, tc.invalid)
			}
			if res.Skip != tc.skip {
				t.Errorf("skip %q, want %q", res.Skip, tc.skip)
			}
			if injected := res.Pod.Annotations[AnnotationStatus] != ""; injected != (tc.skip == NotSkipped) {
				t.Errorf("status annotation present: %v, want %v", injected, tc.skip == NotSkipped)
			}
			warnings := strings.Join(res.Warnings, "\n")
			if tc.warning == "" && warnings != "" {
				t.Errorf("unexpected warnings: %q", res.Warnings)
			}
			if !strings.Contains(warnings, tc.warning) {
				t.Errorf("warnings %q lack %q", res.Warnings, tc.warning)
			}
		})
	}
}

// TestNamespaceLabelExcluded: a namespace excluded by the injector's settings stays excluded
// even when labelled enabled, and says so.
func TestNamespaceLabelExcluded(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "kube-system"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	res, err := Inject(pod, NamespaceInfo{Labels: map[string]string{LabelInject: LabelInjectEnabled}}, testSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Skip != SkipExcludedNamespace {
		t.Errorf("skip %q, want %q", res.Skip, SkipExcludedNamespace)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `namespace "kube-system" is excluded`) {
		t.Errorf("warnings %q", res.Warnings)
	}
}
