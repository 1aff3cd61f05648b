// Package examples holds example workloads; this test keeps them valid and opted in.
package examples

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/inject"
)

// Every example parses strictly into its typed object and opts its pods in.
func TestExamplesAreValidAndOptedIn(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 4 {
		t.Fatalf("found %d examples, want at least web, nginx, python, jvm", len(files))
	}
	settings, err := inject.DefaultConfig().Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(b, &meta); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var tmpl corev1.PodTemplateSpec
		switch meta.Kind {
		case "Deployment":
			var d appsv1.Deployment
			err = yaml.UnmarshalStrict(b, &d)
			tmpl = d.Spec.Template
		case "Job":
			var j batchv1.Job
			err = yaml.UnmarshalStrict(b, &j)
			tmpl = j.Spec.Template
		default:
			t.Fatalf("%s: unexpected kind %q", f, meta.Kind)
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := tmpl.Annotations["procview.dev/inject"]; got != "true" {
			t.Errorf("%s: procview.dev/inject = %q, want \"true\"", f, got)
		}
		if len(tmpl.Spec.Containers) == 0 || tmpl.Spec.Containers[0].Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: the first container has no memory limit: the view would show the node's", f)
		}
		pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		pod.Namespace = "default"
		res, err := inject.Inject(pod, inject.NamespaceInfo{Name: "default"}, settings)
		if err != nil || res.Skip != "" {
			t.Errorf("%s: not injected: skip %q, err %v", f, res.Skip, err)
		}
		if !bytes.HasPrefix(b, []byte("#")) {
			t.Errorf("%s: start with a comment saying what procview changes for it", f)
		}
	}
}
