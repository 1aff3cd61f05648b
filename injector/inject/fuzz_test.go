package inject

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/internal/podview"
)

// FuzzInject feeds arbitrary pods (JSON) to Inject: it must not panic, must not touch its input,
// must return a valid injected pod or the input unchanged, and injecting twice must equal once.
func FuzzInject(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/pods/*.yaml")
	for _, in := range inputs {
		pod, ns := readCase(f, in)
		b, err := json.Marshal(pod)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, ns.Labels[psaEnforceLabel], ns.Labels[LabelInject])
	}
	raw, _ := os.ReadFile("testdata/pods/plain.yaml")
	if j, err := yaml.YAMLToJSON(raw); err == nil {
		f.Add(j, "privileged", "")
		f.Add(j, "", LabelInjectDisabled)
	}
	f.Fuzz(func(t *testing.T, data []byte, psa, inject string) {
		var pod corev1.Pod
		if err := json.Unmarshal(data, &pod); err != nil {
			return
		}
		ns := NamespaceInfo{Name: pod.Namespace, Labels: map[string]string{}}
		if psa != "" {
			ns.Labels[psaEnforceLabel] = psa
		}
		if inject != "" {
			ns.Labels[LabelInject] = inject
		}
		before := pod.DeepCopy()
		res, err := Inject(&pod, ns, testSettings(t))
		if d := cmp.Diff(before, &pod); d != "" {
			t.Fatalf("input modified:\n%s", d)
		}
		if err != nil {
			if !errors.As(err, new(*InvalidAnnotationError)) || res.Skip != SkipInvalidAnnotation {
				t.Fatalf("error %T %v with skip %q", err, err, res.Skip)
			}
			return
		}
		if res.Skip != NotSkipped {
			if d := cmp.Diff(before, res.Pod); d != "" {
				t.Fatalf("skipped (%s) but changed:\n%s", res.Skip, d)
			}
		} else {
			checkInjected(t, before, res.Pod)
		}
		again, err := Inject(res.Pod, ns, testSettings(t))
		if err != nil {
			t.Fatalf("re-inject: %v", err)
		}
		if d := cmp.Diff(res.Pod, again.Pod); d != "" {
			t.Fatalf("not idempotent:\n%s", d)
		}
		if b, err := json.Marshal(res.Pod); err != nil {
			t.Fatalf("marshal output: %v", err)
		} else if err := json.Unmarshal(b, new(corev1.Pod)); err != nil {
			t.Fatalf("output does not round-trip: %v", err)
		}
	})
}

// checkInjected checks what the API server would validate about the parts we add: the
// sidecar first, one procview volume that every procview mount refers to, no mount path used
// twice in a container unless the input already did that, and the status annotation readable.
func checkInjected(t *testing.T, in, out *corev1.Pod) {
	t.Helper()
	if len(out.Spec.InitContainers) == 0 || out.Spec.InitContainers[0].Name != podview.SidecarName {
		if _, was := in.Annotations[AnnotationStatus]; !was {
			t.Fatalf("sidecar is not the first init container")
		}
	}
	n := 0
	for _, v := range out.Spec.Volumes {
		if v.Name == podview.VolumeName {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d volumes named %s", n, podview.VolumeName)
	}
	if out.Spec.ShareProcessNamespace == nil || !*out.Spec.ShareProcessNamespace {
		t.Fatalf("shareProcessNamespace not set")
	}
	var st Status
	if err := json.Unmarshal([]byte(out.Annotations[AnnotationStatus]), &st); err != nil {
		t.Fatalf("status annotation: %v", err)
	}
	dupIn := map[string]bool{}
	for _, c := range append(append([]corev1.Container{}, in.Spec.InitContainers...), in.Spec.Containers...) {
		if hasDupMount(c) {
			dupIn[c.Name] = true
		}
	}
	for _, c := range append(append([]corev1.Container{}, out.Spec.InitContainers...), out.Spec.Containers...) {
		if hasDupMount(c) && !dupIn[c.Name] {
			t.Fatalf("container %q mounts something twice at one path: %+v", c.Name, c.VolumeMounts)
		}
	}
}

func hasDupMount(c corev1.Container) bool {
	seen := map[string]bool{}
	for _, m := range c.VolumeMounts {
		p := filepath.Clean("/" + m.MountPath)
		if seen[p] {
			return true
		}
		seen[p] = true
	}
	return false
}

func BenchmarkInject(b *testing.B) {
	for _, name := range []string{"plain", "multi-container", "conflicting-mounts", "already-injected"} {
		pod, ns := readCase(b, filepath.Join("testdata", "pods", name+".yaml"))
		cfg := testSettings(b)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Inject(pod, ns, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
