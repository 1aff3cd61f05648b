package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/inject"
)

// templatePaths says where each workload kind keeps its pod template ("" for a Pod itself).
var templatePaths = map[string][]string{
	"Pod":                   nil,
	"Deployment":            {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"ReplicationController": {"spec", "template"},
	"Job":                   {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// injectDocs injects every Pod and workload pod template in a multi-document YAML stream and
// returns the stream with those documents rewritten (others, and skipped ones, are kept as
// they were), plus one message per warning or skip. An invalid annotation anywhere is an
// error, and then nothing is returned: a half-injected stream is worse than none.
func injectDocs(in io.Reader, c inject.Config, nsLabels map[string]string) ([]byte, []string, error) {
	cfg, err := c.Parse()
	if err != nil {
		return nil, nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var out bytes.Buffer
	var msgs []string
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read document %d: %w", n, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", n, err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue // empty or comment-only document
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil {
			return nil, nil, fmt.Errorf("document %d is not an object: %w", n, err)
		}
		changed, m, err := injectObject(obj, cfg, nsLabels)
		for _, s := range m {
			msgs = append(msgs, fmt.Sprintf("document %d %s", n, s))
		}
		if err != nil {
			return nil, msgs, fmt.Errorf("document %d %s: %w", n, describe(obj), err)
		}
		if out.Len() > 0 {
			out.WriteString("---\n")
		}
		if !changed {
			out.Write(bytes.TrimLeft(doc, "\n"))
			if !bytes.HasSuffix(doc, []byte("\n")) {
				out.WriteByte('\n')
			}
			continue
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, nil, err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return nil, nil, err
		}
		out.Write(y)
	}
	return out.Bytes(), msgs, nil
}

func describe(obj map[string]any) string {
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		name, _ = meta["generateName"].(string)
	}
	return kind + "/" + name
}

// injectObject injects one object in place: a Pod, a workload's pod template, or each item of a List.
func injectObject(obj map[string]any, cfg *inject.Settings, nsLabels map[string]string) (bool, []string, error) {
	kind, _ := obj["kind"].(string)
	if kind == "List" || strings.HasSuffix(kind, "List") {
		items, _ := obj["items"].([]any)
		var msgs []string
		changed := false
		for i, it := range items {
			item, ok := it.(map[string]any)
			if !ok {
				continue
			}
			c, m, err := injectObject(item, cfg, nsLabels)
			for _, s := range m {
				msgs = append(msgs, fmt.Sprintf("item %d %s", i, s))
			}
			if err != nil {
				return false, msgs, err
			}
			changed = changed || c
		}
		return changed, msgs, nil
	}
	path, ok := templatePaths[kind]
	if !ok {
		return false, nil, nil
	}
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	sub := obj
	for _, k := range path {
		next, ok := sub[k].(map[string]any)
		if !ok {
			return false, nil, fmt.Errorf("no %s", strings.Join(path, "."))
		}
		sub = next
	}
	raw, err := json.Marshal(sub)
	if err != nil {
		return false, nil, err
	}
	patched, msgs, err := injectRaw(raw, describe(obj), inject.NamespaceInfo{Name: ns, Labels: nsLabels}, cfg)
	if err != nil || patched == nil {
		return false, msgs, err
	}
	var injected map[string]any
	if err := json.Unmarshal(patched, &injected); err != nil {
		return false, msgs, err
	}
	clear(sub)
	for k, v := range injected {
		sub[k] = v
	}
	return true, msgs, nil
}

// injectRaw injects the pod (or pod template) raw and returns raw with inject.Patch applied,
// the patch the webhook answers with: the same bytes, and fields this build does not know are
// kept. patched is nil when the pod is left alone.
func injectRaw(raw []byte, who string, ns inject.NamespaceInfo, cfg *inject.Settings) (patched []byte, msgs []string, err error) {
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", who, err)
	}
	res, err := inject.Inject(&pod, ns, cfg)
	for _, w := range res.Warnings {
		msgs = append(msgs, fmt.Sprintf("%s: warning: %s", who, w))
	}
	if err != nil {
		return nil, msgs, err
	}
	if res.Skip != inject.NotSkipped {
		return nil, append(msgs, fmt.Sprintf("%s: not injected (%s)", who, res.Skip)), nil
	}
	msgs = append(msgs, fmt.Sprintf("%s: injected", who))
	patch, err := inject.Patch(&pod, res.Pod)
	if err != nil || patch == nil {
		return nil, msgs, err
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, msgs, fmt.Errorf("%s: decode the patch: %w", who, err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		return nil, msgs, fmt.Errorf("%s: apply the patch: %w", who, err)
	}
	return out, msgs, nil
}
