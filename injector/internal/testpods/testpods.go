// Package testpods reads the injector's test cases (injector/inject/testdata/pods): an optional
// Namespace document, then the Pod. It is for tests only.
package testpods

import (
	"bytes"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Read reads one case: the pod, and the namespace the injector sees (name and labels; empty
// without a Namespace document).
func Read(t testing.TB, file string) (pod *corev1.Pod, nsName string, nsLabels map[string]string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		switch meta.Kind {
		case "Namespace":
			var n corev1.Namespace
			if err := yaml.UnmarshalStrict(doc, &n); err != nil {
				t.Fatalf("%s: namespace: %v", file, err)
			}
			nsName, nsLabels = n.Name, n.Labels
		case "Pod":
			pod = &corev1.Pod{}
			if err := yaml.UnmarshalStrict(doc, pod); err != nil {
				t.Fatalf("%s: pod: %v", file, err)
			}
		default:
			t.Fatalf("%s: unexpected kind %q", file, meta.Kind)
		}
	}
	if pod == nil {
		t.Fatalf("%s: no Pod", file)
	}
	return pod, nsName, nsLabels
}
