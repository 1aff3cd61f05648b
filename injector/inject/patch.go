package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/procview/procview/internal/podview"
)

// Patch returns the JSON patch (RFC 6902) that turns the submitted pod in into out, Inject's
// result for it, or nil when out equals in. The webhook answers with it and the dry-run CLI
// applies it to the document it read, so both emit the same bytes and keep the fields this
// build's API types do not know. An error means out differs from in in a way Inject never makes.
func Patch(in, out *corev1.Pod) ([]byte, error) {
	ops, ok := patchFor(in, out)
	if !ok {
		return nil, errors.New("procview: the pod was changed beyond what the patch builder knows")
	}
	if len(ops) == 0 {
		return nil, nil
	}
	b, err := marshalPatch(ops)
	if err != nil {
		return nil, fmt.Errorf("encode the patch: %w", err)
	}
	return b, nil
}

// patchFor returns the patch operations that turn pod in into out, built from the few places
// Inject changes: annotations added or replaced, shareProcessNamespace, volumes
// appended, the sidecar put first among the init containers, volume mounts appended to
// containers. Every operation is an "add" of something the injector made, so nothing of the
// submitted pod is rewritten (a field this build's API types do not know survives).
// ok is false when out differs from in anywhere else.
//
// Diffing the marshalled pod with the submitted JSON (controller-runtime's defaulter, or
// PatchResponseFromRaw) decodes both into maps: it was most of an admission's CPU and allocation.
func patchFor(in, out *corev1.Pod) (ops []jsonpatch.Operation, ok bool) {
	if moved, k := sidecarMovedFirst(in, out); moved != nil {
		// Reinvocation after another webhook put an init container in front of the sidecar: the
		// sidecar (unchanged) moves back to the front, then the rest is patched as usual.
		rest, ok := patchAdds(moved, out)
		if !ok {
			return nil, false
		}
		return append([]jsonpatch.Operation{
			jsonpatch.NewOperation("remove", "/spec/initContainers/"+strconv.Itoa(k), nil),
			jsonpatch.NewOperation("add", "/spec/initContainers/0", in.Spec.InitContainers[k]),
		}, rest...), true
	}
	return patchAdds(in, out)
}

// mayLackMetadata tells whether the submitted JSON may have no metadata object for
// "/metadata/annotations" to go into (the API server always sends a namespace; a manifest's
// pod template may have no metadata).
func mayLackMetadata(p *corev1.Pod) bool {
	return reflect.DeepEqual(p.ObjectMeta, metav1.ObjectMeta{})
}

// sidecarMovedFirst returns in with its sidecar moved to the front, and where it was, when out
// has the sidecar first and in has it further back; nil otherwise.
func sidecarMovedFirst(in, out *corev1.Pod) (*corev1.Pod, int) {
	ic, oc := in.Spec.InitContainers, out.Spec.InitContainers
	if len(oc) == 0 || oc[0].Name != podview.SidecarName {
		return nil, 0
	}
	for k := 1; k < len(ic); k++ {
		if ic[k].Name == podview.SidecarName {
			m := *in
			m.Spec.InitContainers = append([]corev1.Container{ic[k]}, append(slices.Clone(ic[:k]), ic[k+1:]...)...)
			return &m, k
		}
	}
	return nil, 0
}

// patchAdds is patchFor for changes that are all adds.
func patchAdds(in, out *corev1.Pod) (ops []jsonpatch.Operation, ok bool) {
	// out with each change this function patches undone, field by field (a shallow copy: no
	// field of out is modified): it must equal in.
	rest := *out
	add := func(path string, v any) { ops = append(ops, jsonpatch.NewOperation("add", path, v)) }

	if !equalExcept(in.Annotations, out.Annotations, func(k string) {
		if len(in.Annotations) > 0 {
			add("/metadata/annotations/"+escape(k), out.Annotations[k])
		}
	}) {
		return nil, false
	}
	if len(in.Annotations) == 0 && len(out.Annotations) > 0 {
		if mayLackMetadata(in) {
			add("/metadata", map[string]any{"annotations": out.Annotations}) // an empty object at most is replaced
		} else {
			add("/metadata/annotations", out.Annotations)
		}
	}
	rest.Annotations = in.Annotations

	if !reflect.DeepEqual(in.Spec.ShareProcessNamespace, out.Spec.ShareProcessNamespace) {
		if out.Spec.ShareProcessNamespace == nil {
			return nil, false
		}
		add("/spec/shareProcessNamespace", *out.Spec.ShareProcessNamespace)
		rest.Spec.ShareProcessNamespace = in.Spec.ShareProcessNamespace
	}

	if !reflect.DeepEqual(in.Spec.Resources, out.Spec.Resources) {
		if !podLevelShare(in.Spec.Resources, out.Spec.Resources, add) {
			return nil, false
		}
		rest.Spec.Resources = in.Spec.Resources
	}

	vols, ok := appended(in.Spec.Volumes, out.Spec.Volumes)
	if !ok {
		return nil, false
	}
	addAll("/spec/volumes", len(in.Spec.Volumes), vols, add)
	rest.Spec.Volumes = in.Spec.Volumes

	// The init containers' mounts are patched at their indices before the sidecar goes in
	// front of them (a patch applies in order).
	outInit, sidecar := out.Spec.InitContainers, (*corev1.Container)(nil)
	if len(outInit) == len(in.Spec.InitContainers)+1 {
		sidecar, outInit = &outInit[0], outInit[1:]
	}
	for _, list := range []struct {
		path    string
		in, out []corev1.Container
	}{
		{"/spec/initContainers/", in.Spec.InitContainers, outInit},
		{"/spec/containers/", in.Spec.Containers, out.Spec.Containers},
	} {
		if len(list.in) != len(list.out) {
			return nil, false
		}
		for i := range list.in {
			mounts, ok := appended(list.in[i].VolumeMounts, list.out[i].VolumeMounts)
			c := list.out[i] // the container as submitted, if the mounts were its only change
			c.VolumeMounts = list.in[i].VolumeMounts
			if !ok || !reflect.DeepEqual(c, list.in[i]) {
				return nil, false
			}
			addAll(list.path+strconv.Itoa(i)+"/volumeMounts", len(list.in[i].VolumeMounts), mounts, add)
		}
	}
	if sidecar != nil {
		if len(in.Spec.InitContainers) == 0 {
			add("/spec/initContainers", []corev1.Container{*sidecar})
		} else {
			add("/spec/initContainers/0", *sidecar)
		}
	}
	// The containers' only changes were the appended mounts, checked above.
	rest.Spec.InitContainers = in.Spec.InitContainers
	rest.Spec.Containers = in.Spec.Containers
	if !reflect.DeepEqual(&rest, in) {
		return nil, false
	}
	return ops, true
}

// podLevelShare patches the pod-level resources the injector raised by the sidecar's share: the
// same resources set, some values changed (an add on an existing member replaces it).
func podLevelShare(in, out *corev1.ResourceRequirements, add func(string, any)) bool {
	if in == nil || out == nil {
		return false
	}
	for _, l := range []struct {
		path    string
		in, out corev1.ResourceList
	}{{"/spec/resources/requests/", in.Requests, out.Requests}, {"/spec/resources/limits/", in.Limits, out.Limits}} {
		if len(l.in) != len(l.out) {
			return false
		}
		for _, k := range slices.Sorted(maps.Keys(l.out)) {
			old, ok := l.in[k]
			if !ok {
				return false
			}
			if v := l.out[k]; old.Cmp(v) != 0 || old.String() != v.String() {
				add(l.path+escape(string(k)), v.String())
			}
		}
	}
	c := *out
	c.Requests, c.Limits = in.Requests, in.Limits
	return reflect.DeepEqual(&c, in)
}

// marshalPatch encodes ops as a JSON patch in one pass. controller-runtime encodes
// jsonpatch.Operation values through their MarshalJSON, whose output encoding/json then
// re-scans: 6 % of an admission's CPU. Every operation patchFor makes is an add, except the
// remove of a sidecar moved back to the front.
func marshalPatch(ops []jsonpatch.Operation) ([]byte, error) {
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	out := make([]op, len(ops))
	for i, o := range ops {
		out[i] = op{o.Operation, o.Path, o.Value}
	}
	return json.Marshal(out) // a remove carries "value":null, which RFC 6902 ignores
}

// appended returns what out has after in, if out starts with in.
func appended[T any](in, out []T) ([]T, bool) {
	if len(out) < len(in) || len(in) > 0 && !reflect.DeepEqual(in, out[:len(in)]) {
		return nil, false
	}
	return out[len(in):], true
}

// addAll adds items at the end of the list at path, which has n items: the whole list when it
// is empty (it may be absent from the submitted JSON), else one "-" append each.
func addAll[T any](path string, n int, items []T, add func(string, any)) {
	if len(items) == 0 {
		return
	}
	if n == 0 {
		add(path, items)
		return
	}
	for _, it := range items {
		add(path+"/-", it)
	}
}

// equalExcept reports whether out has every key of in, and calls changed, in key order, for
// each key that out adds or whose value differs; a key removed makes it false.
func equalExcept(in, out map[string]string, changed func(k string)) bool {
	for k := range in {
		if _, ok := out[k]; !ok {
			return false
		}
	}
	for _, k := range slices.Sorted(maps.Keys(out)) {
		if old, ok := in[k]; !ok || old != out[k] {
			changed(k)
		}
	}
	return true
}

// pointerEscaper makes a key one JSON pointer token (RFC 6901). Built once: building a
// Replacer costs more than the keys it escapes.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escape(k string) string { return pointerEscaper.Replace(k) }
