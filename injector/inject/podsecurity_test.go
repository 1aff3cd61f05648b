package inject

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPodSecurityDefault: the cluster's default level applies where the namespace has no
// enforce label; the label (and its version) wins where it has one.
func TestPodSecurityDefault(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Annotations: map[string]string{AnnotationInject: "true"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
	for _, tc := range []struct {
		def     string
		labels  map[string]string
		skip    SkipReason
		warning string
	}{
		{"privileged", nil, NotSkipped, ""},
		{"baseline", nil, SkipPSAForbidden, `the cluster's default Pod Security level "baseline":latest applies (injector setting PROCVIEW_INJECTOR_PSA_DEFAULT_LEVEL)`},
		{"restricted", map[string]string{psaEnforceLabel: "privileged"}, NotSkipped, ""},
		{"privileged", map[string]string{psaEnforceLabel: "baseline", psaEnforceLabel + "-version": "v1.30"}, SkipPSAForbidden, `enforces Pod Security "baseline":v1.30`},
	} {
		cfg := testConfig()
		cfg.PSADefaultLevel = tc.def
		res, err := Inject(pod, NamespaceInfo{Labels: tc.labels}, mustParse(t, cfg))
		if err != nil || res.Skip != tc.skip {
			t.Errorf("default %s, labels %v: skip %q (%v), want %q", tc.def, tc.labels, res.Skip, err, tc.skip)
		}
		if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, tc.warning) {
			t.Errorf("default %s, labels %v: warnings %q lack %q", tc.def, tc.labels, w, tc.warning)
		}
	}
	cfg := testConfig()
	cfg.PSADefaultLevel = "strict"
	if err := cfg.Validate(); err == nil {
		t.Error("PSA_DEFAULT_LEVEL=strict accepted")
	}
}
