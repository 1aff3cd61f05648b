// Package testpods reads the injector's test cases (injector/inject/testdata/pods): an optional
// Namespace document, ResourceQuotas and LimitRanges of that namespace, then the Pod. It is for
// tests only.
package testpods

import (
	"bytes"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Case is one test case.
type Case struct {
	Pod         *corev1.Pod
	Namespace   string // the Namespace document's name ("" without one)
	Labels      map[string]string
	Quotas      []corev1.ResourceQuota
	LimitRanges []corev1.LimitRange
}

// Read reads one case: the pod, and the namespace the injector sees (name and labels; empty
// without a Namespace document).
func Read(t testing.TB, file string) (pod *corev1.Pod, nsName string, nsLabels map[string]string) {
	t.Helper()
	c := ReadCase(t, file)
	return c.Pod, c.Namespace, c.Labels
}

// ReadCase reads one case with everything in it.
func ReadCase(t testing.TB, file string) Case {
	t.Helper()
	var c Case
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
			c.Namespace, c.Labels = n.Name, n.Labels
		case "ResourceQuota":
			var q corev1.ResourceQuota
			if err := yaml.UnmarshalStrict(doc, &q); err != nil {
				t.Fatalf("%s: quota: %v", file, err)
			}
			c.Quotas = append(c.Quotas, q)
		case "LimitRange":
			var l corev1.LimitRange
			if err := yaml.UnmarshalStrict(doc, &l); err != nil {
				t.Fatalf("%s: limit range: %v", file, err)
			}
			c.LimitRanges = append(c.LimitRanges, l)
		case "Pod":
			c.Pod = &corev1.Pod{}
			if err := yaml.UnmarshalStrict(doc, c.Pod); err != nil {
				t.Fatalf("%s: pod: %v", file, err)
			}
		default:
			t.Fatalf("%s: unexpected kind %q", file, meta.Kind)
		}
	}
	if c.Pod == nil {
		t.Fatalf("%s: no Pod", file)
	}
	return c
}
