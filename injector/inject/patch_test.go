package inject

import (
	"encoding/json"
	"path/filepath"
	"testing"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"

	"github.com/procview/procview/injector/internal/testpods"
	"github.com/procview/procview/internal/podview"
)

// applyPatch encodes ops as the webhook does and applies them to the JSON document raw as
// the API server would.
func applyPatch(t *testing.T, raw []byte, ops []jsonpatch.Operation) []byte {
	t.Helper()
	opsJSON, err := marshalPatch(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatchapply.DecodePatch(opsJSON)
	if err != nil {
		t.Fatalf("patch %s: %v", opsJSON, err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply %s: %v", opsJSON, err)
	}
	return out
}

// Every injection of the inject package's test pods, as a patch applied to the submitted JSON,
// gives exactly the injected pod.
func TestPatchForGivesTheInjectedPod(t *testing.T) {
	files, err := filepath.Glob("testdata/pods/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("test pods: %v, %d found", err, len(files))
	}
	cfg := mustParse(t, DefaultConfig())
	patched := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := testpods.ReadCase(t, f)
			in := c.Pod
			ns := NamespaceInfo{Name: c.Namespace, Labels: c.Labels,
				Rules: Rules{Quotas: c.Quotas, LimitRanges: c.LimitRanges}}
			res, _ := Inject(in, ns, cfg)
			ops, ok := patchFor(in, res.Pod)
			if !ok {
				t.Fatalf("patchFor does not know the injector's change")
			}
			if len(ops) > 0 {
				patched++
			}
			raw, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var got corev1.Pod
			if err := json.Unmarshal(applyPatch(t, raw, ops), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(res.Pod, &got); diff != "" {
				t.Errorf("patched pod differs from the injected pod (-want +got):\n%s", diff)
			}
		})
	}
	if patched < 5 {
		t.Errorf("only %d test pods were changed by injection: the test proves little", patched)
	}
}

// The patch only adds: a field of the submitted pod that this build's API types do not know
// (a newer Kubernetes) is still there afterwards, in the pod and in its containers.
func TestPatchForKeepsUnknownFields(t *testing.T) {
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"procview.dev/inject":"true"}},
		"spec":{"futurePodField":{"a":1},"volumes":[{"name":"data","emptyDir":{},"futureVolumeField":true}],
		"initContainers":[{"name":"init","image":"busybox","futureContainerField":"x"}],
		"containers":[{"name":"app","image":"busybox","futureContainerField":"y",
			"volumeMounts":[{"name":"data","mountPath":"/data","futureMountField":2}]}]}}`)
	var in corev1.Pod
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	res, err := Inject(&in, NamespaceInfo{Name: "default"}, mustParse(t, DefaultConfig()))
	if err != nil || res.Skip != NotSkipped {
		t.Fatalf("Inject: %v, skip %q", err, res.Skip)
	}
	ops, ok := patchFor(&in, res.Pod)
	if !ok {
		t.Fatal("patchFor does not know the injector's change")
	}
	var out map[string]any
	if err := json.Unmarshal(applyPatch(t, raw, ops), &out); err != nil {
		t.Fatal(err)
	}
	spec := out["spec"].(map[string]any)
	initc := spec["initContainers"].([]any)
	app := spec["containers"].([]any)[0].(map[string]any)
	for what, v := range map[string]any{
		"pod":            spec["futurePodField"],
		"volume":         spec["volumes"].([]any)[0].(map[string]any)["futureVolumeField"],
		"init container": initc[len(initc)-1].(map[string]any)["futureContainerField"],
		"container":      app["futureContainerField"],
		"mount":          app["volumeMounts"].([]any)[0].(map[string]any)["futureMountField"],
	} {
		if v == nil {
			t.Errorf("the %s lost its unknown field", what)
		}
	}
	if first := initc[0].(map[string]any)["name"]; first != podview.SidecarName {
		t.Errorf("first init container is %v, want the sidecar %q", first, podview.SidecarName)
	}
}

// A change patchFor does not know is refused.
func TestPatchForRefusesOtherChanges(t *testing.T) {
	in := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "a"}},
		Containers:     []corev1.Container{{Name: "app", Image: "a", VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}}},
		Volumes:        []corev1.Volume{{Name: "v"}},
		// Set (to false), so that clearing it is a change patchFor does not make.
		ShareProcessNamespace: new(bool),
	}}
	in.Annotations = map[string]string{"keep": "x"}
	for name, change := range map[string]func(p *corev1.Pod){
		"label added":        func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} },
		"annotation removed": func(p *corev1.Pod) { delete(p.Annotations, "keep") },
		"image changed":      func(p *corev1.Pod) { p.Spec.Containers[0].Image = "b" },
		"mount replaced":     func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].MountPath = "/w" },
		"volume removed":     func(p *corev1.Pod) { p.Spec.Volumes = nil },
		"container appended": func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b"}) },
		"init container appended": func(p *corev1.Pod) {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "b"})
		},
		"init container changed":   func(p *corev1.Pod) { p.Spec.InitContainers[0].Image = "b" },
		"share process ns cleared": func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = nil },
	} {
		out := in.DeepCopy()
		change(out)
		if b, err := Patch(in, out); err == nil {
			t.Errorf("%s: Patch made %s, want a refusal", name, b)
		}
	}
	if ops, ok := patchFor(in, in.DeepCopy()); !ok || len(ops) != 0 {
		t.Errorf("unchanged pod: patch %v, %v; want an empty patch", ops, ok)
	}
}

// FuzzPatchFor feeds arbitrary pods (JSON, as submitted) to the injector: whenever patchFor makes
// a patch, applying it to the submitted JSON must give exactly the injected pod.
func FuzzPatchFor(f *testing.F) {
	files, _ := filepath.Glob("testdata/pods/*.yaml")
	for _, file := range files {
		pod, _, _ := testpods.Read(f, file)
		j, err := json.Marshal(pod)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j, false)
		f.Add(j, true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, nsEnabled bool) {
		var in corev1.Pod
		// The API server and the webhook's decoder match keys case-sensitively (encoding/json
		// would read "metAdAtA" as metadata, which no patch path can then reach).
		if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &in); err != nil || in.Kind != "Pod" {
			return
		}
		ns := NamespaceInfo{Name: "fuzz", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}
		if nsEnabled {
			ns.Labels[LabelInject] = LabelInjectEnabled
		}
		res, err := Inject(&in, ns, mustParse(t, DefaultConfig()))
		if err != nil {
			return
		}
		ops, ok := patchFor(&in, res.Pod)
		if !ok {
			t.Fatalf("patchFor does not know the injector's change of %s", raw)
		}
		var got corev1.Pod
		if err := kjson.UnmarshalCaseSensitivePreserveInts(applyPatch(t, raw, ops), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(res.Pod, &got); diff != "" {
			t.Errorf("patched pod differs from the injected pod (-want +got):\n%s", diff)
		}
	})
}

// A pod (or a manifest's pod template) with no metadata at all, injected because its namespace
// opts every pod in, gets its annotations by a patch that creates the metadata object.
func TestPatchWithoutMetadata(t *testing.T) {
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"app","image":"busybox"}]}}`)
	var in corev1.Pod
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	res, err := Inject(&in, NamespaceInfo{Name: "default", Labels: map[string]string{LabelInject: LabelInjectEnabled}}, mustParse(t, DefaultConfig()))
	if err != nil || res.Skip != NotSkipped {
		t.Fatalf("Inject: %v, skip %q", err, res.Skip)
	}
	ops, ok := patchFor(&in, res.Pod)
	if !ok {
		t.Fatal("patchFor does not know the injector's change")
	}
	var got corev1.Pod
	if err := json.Unmarshal(applyPatch(t, raw, ops), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res.Pod, &got); diff != "" {
		t.Errorf("patched pod differs from the injected pod (-want +got):\n%s", diff)
	}
}
