// Package helm holds the tests of the Helm chart deploy/helm/procview: rendered in-process with
// Helm's Go library (what `helm template` does), linted (what `helm lint` does), and compared
// object by object with the kustomize manifests in deploy/.
package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/internal/yamlstream"
)

const (
	chartDir  = "procview"
	namespace = "procview-system" // what deploy/ installs into
)

// object is one manifest as generic JSON (numbers float64), as both renderers' output is
// compared.
type object = map[string]any

// key names an object: kind namespace/name.
func key(o object) string {
	md, _ := o["metadata"].(map[string]any)
	return fmt.Sprintf("%v %v/%v", o["kind"], md["namespace"], md["name"])
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart %s: %v", chartDir, err)
	}
	return c
}

// helmTemplate renders the chart as `helm template procview deploy/helm/procview -n NS` with
// the values vals (merged over values.yaml, validated against values.schema.json).
func helmTemplate(c *chart.Chart, ns string, vals map[string]any) (map[string]object, error) {
	top, err := chartutil.ToRenderValuesWithSchemaValidation(c, vals,
		common.ReleaseOptions{Name: "procview", Namespace: ns, IsInstall: true}, nil, false)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(c, top)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]object{}
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		if err := decodeStream(files[n], out); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
	}
	return out, nil
}

// decodeStream adds every object of a YAML stream to out, by key.
func decodeStream(stream string, out map[string]object) error {
	objs, err := yamlstream.Objects(strings.NewReader(stream))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := add(out, o); err != nil {
			return err
		}
	}
	return nil
}

func add(out map[string]object, o object) error {
	k := key(o)
	if _, dup := out[k]; dup {
		return fmt.Errorf("two objects %s", k)
	}
	out[k] = o
	return nil
}

// kustomize renders dir (relative to deploy/) as `kubectl kustomize` does.
func kustomize(t *testing.T, dir string) map[string]object {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join("..", dir))
	if err != nil {
		t.Fatalf("kustomize deploy/%s: %v", dir, err)
	}
	out := map[string]object{}
	for _, res := range m.Resources() {
		b, err := res.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var o object // through JSON: numbers are float64, as in the Helm side
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		if err := add(out, o); err != nil {
			t.Fatalf("kustomize deploy/%s: %v", dir, err)
		}
	}
	return out
}

// TestChartMatchesKustomize: with default values the chart renders the objects of deploy/, and
// with certificate.mode=cert-manager those of deploy/overlays/cert-manager, field for field.
func TestChartMatchesKustomize(t *testing.T) {
	c := loadChart(t)
	for _, tc := range []struct {
		name, kustomization string
		vals                map[string]any
	}{
		{"defaults", ".", nil},
		{"cert-manager", "overlays/cert-manager", map[string]any{"certificate": map[string]any{"mode": "cert-manager"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := kustomize(t, tc.kustomization)
			got, err := helmTemplate(c, namespace, tc.vals)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sortedKeys(want), sortedKeys(got)); diff != "" {
				t.Errorf("objects (-kustomize +helm):\n%s", diff)
			}
			for k, w := range want {
				if g, ok := got[k]; ok {
					if diff := cmp.Diff(w, g); diff != "" {
						t.Errorf("%s (-kustomize +helm):\n%s", k, diff)
					}
				}
			}
		})
	}
}

func sortedKeys(m map[string]object) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// get follows a path of map keys and list indexes ("spec", "replicas"; "webhooks", 0, ...).
func get(o any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := o.(map[string]any)
			o = m[p]
		case int:
			l, _ := o.([]any)
			if p >= len(l) {
				return nil
			}
			o = l[p]
		}
	}
	return o
}

// env is the injector container's environment, name -> value.
func env(objs map[string]object, ns string) map[string]string {
	out := map[string]string{}
	d := objs["Deployment "+ns+"/procview-injector"]
	list, _ := get(d, "spec", "template", "spec", "containers", 0, "env").([]any)
	for _, e := range list {
		if v, ok := get(e, "value").(string); ok {
			out[get(e, "name").(string)] = v
		}
	}
	return out
}

// TestChartValues: each value reaches the fields it is documented to set.
func TestChartValues(t *testing.T) {
	c := loadChart(t)
	deploy := func(ns string) string { return "Deployment " + ns + "/procview-injector" }
	webhook := "MutatingWebhookConfiguration <nil>/procview-injector"
	for _, tc := range []struct {
		name  string
		ns    string
		vals  string // YAML
		check func(t *testing.T, objs map[string]object)
	}{
		{"images", namespace, `
image:
  injector: {repository: registry.example.com/procview-injector, tag: v1.2.3, pullPolicy: Always}
  sidecar: {repository: registry.example.com/procview-sidecar, tag: v1.2.3, pullPolicy: Never}`,
			func(t *testing.T, objs map[string]object) {
				ctr := get(objs[deploy(namespace)], "spec", "template", "spec", "containers", 0)
				e := env(objs, namespace)
				got := []any{get(ctr, "image"), get(ctr, "imagePullPolicy"), e["PROCVIEW_INJECTOR_SIDECAR_IMAGE"], e["PROCVIEW_INJECTOR_SIDECAR_PULL_POLICY"]}
				want := []any{"registry.example.com/procview-injector:v1.2.3", "Always", "registry.example.com/procview-sidecar:v1.2.3", "Never"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("images (-want +got):\n%s", diff)
				}
			}},
		{"replicas and resources", namespace, `
replicas: 3
resources: {requests: {cpu: 100m, memory: 80Mi}, limits: {cpu: null, memory: 300Mi}}`, // null drops a default
			func(t *testing.T, objs map[string]object) {
				d := objs[deploy(namespace)]
				got := []any{get(d, "spec", "replicas"), get(d, "spec", "template", "spec", "containers", 0, "resources")}
				want := []any{3.0, map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "80Mi"}, "limits": map[string]any{"memory": "300Mi"}}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("replicas, resources (-want +got):\n%s", diff)
				}
			}},
		{"excluded namespaces and failure policy", namespace, `
excludedNamespaces: [kube-system, monitoring]
failurePolicy: Ignore`,
			func(t *testing.T, objs map[string]object) {
				w := objs[webhook]
				want := []any{"kube-system,monitoring,procview-system"}
				got := []any{env(objs, namespace)["PROCVIEW_INJECTOR_EXCLUDED_NAMESPACES"]}
				for i := range 2 {
					want = append(want, []any{"kube-system", "monitoring", "procview-system"}, "Ignore")
					got = append(got, get(w, "webhooks", i, "namespaceSelector", "matchExpressions", 0, "values"), get(w, "webhooks", i, "failurePolicy"))
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("exclusions, failurePolicy (-want +got):\n%s", diff)
				}
			}},
		{"cpu view and sidecar defaults", namespace, `
cpuView: cpuset
psaDefaultLevel: baseline
sidecar: {cpuRequest: 20m, cpuLimit: 200m, cpuGuaranteed: 150m, memoryRequest: 24Mi, memoryLimit: 64Mi}`,
			func(t *testing.T, objs map[string]object) {
				e := env(objs, namespace)
				want := map[string]string{"PROCVIEW_INJECTOR_CPU_VIEW": "cpuset", "PROCVIEW_INJECTOR_PSA_DEFAULT_LEVEL": "baseline",
					"PROCVIEW_INJECTOR_SIDECAR_CPU_REQUEST": "20m", "PROCVIEW_INJECTOR_SIDECAR_CPU_LIMIT": "200m",
					"PROCVIEW_INJECTOR_SIDECAR_CPU_GUARANTEED": "150m", "PROCVIEW_INJECTOR_SIDECAR_MEMORY_REQUEST": "24Mi",
					"PROCVIEW_INJECTOR_SIDECAR_MEMORY_LIMIT": "64Mi"}
				for k, v := range want {
					if e[k] != v {
						t.Errorf("%s = %q, want %q", k, e[k], v)
					}
				}
			}},
		{"another namespace, not created", "procview", `
namespace: {create: false}`,
			func(t *testing.T, objs map[string]object) {
				for k, o := range objs {
					if get(o, "kind") == "Namespace" {
						t.Errorf("%s rendered with namespace.create=false", k)
					}
					if ns := get(o, "metadata", "namespace"); ns != nil && ns != "procview" {
						t.Errorf("%s in namespace %v, want procview", k, ns)
					}
				}
				w := objs[webhook]
				got := []any{get(w, "webhooks", 0, "clientConfig", "service", "namespace"), env(objs, "procview")["PROCVIEW_INJECTOR_EXCLUDED_NAMESPACES"],
					get(objs["ClusterRoleBinding <nil>/procview-injector"], "subjects", 0, "namespace")}
				if diff := cmp.Diff([]any{"procview", "kube-system,kube-public,procview"}, got[:2]); diff != "" {
					t.Errorf("webhook service, exclusions (-want +got):\n%s", diff)
				}
				if got[2] != "procview" {
					t.Errorf("ClusterRoleBinding subject namespace %v, want procview", got[2])
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var vals map[string]any
			if err := yaml.Unmarshal([]byte(tc.vals), &vals); err != nil {
				t.Fatal(err)
			}
			objs, err := helmTemplate(c, tc.ns, vals)
			if err != nil {
				t.Fatal(err)
			}
			if objs[deploy(tc.ns)] == nil {
				t.Fatalf("no %s among %v", deploy(tc.ns), sortedKeys(objs))
			}
			tc.check(t, objs)
		})
	}
}

// TestChartSchemaRejects: values.schema.json refuses values the injector or the API server would.
func TestChartSchemaRejects(t *testing.T) {
	c := loadChart(t)
	for _, tc := range []struct{ name, vals, want string }{
		{"failure policy", `failurePolicy: Maybe`, "failurePolicy"},
		{"cpu view", `cpuView: cores`, "cpuView"},
		{"certificate mode", `certificate: {mode: vault}`, "certificate"},
		{"no replicas", `replicas: 0`, "replicas"},
		{"pull policy", `image: {sidecar: {pullPolicy: Sometimes}}`, "pullPolicy"},
		{"sidecar quantity", `sidecar: {memoryLimit: lots}`, "memoryLimit"},
		{"unknown value", `replicaCount: 2`, "replicaCount"},
		{"bad namespace name", `excludedNamespaces: [Kube_System]`, "excludedNamespaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var vals map[string]any
			if err := yaml.Unmarshal([]byte(tc.vals), &vals); err != nil {
				t.Fatal(err)
			}
			_, err := helmTemplate(c, namespace, vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render with %s: %v, want a schema error naming %s", tc.vals, err, tc.want)
			}
		})
	}
}

// TestChartLint: `helm lint` (Helm's lint rules: Chart.yaml, values against the schema,
// templates, dependencies) finds nothing above INFO in both certificate modes, and does find
// values the schema refuses.
func TestChartLint(t *testing.T) {
	for _, tc := range []struct {
		name     string
		vals     map[string]any
		wantMsgs bool
	}{
		{"self", map[string]any{"certificate": map[string]any{"mode": "self"}}, false},
		{"cert-manager", map[string]any{"certificate": map[string]any{"mode": "cert-manager"}}, false},
		{"refused values", map[string]any{"failurePolicy": "Maybe"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := lint.RunAll(chartDir, tc.vals, namespace)
			var buf bytes.Buffer
			for _, m := range res.Messages {
				if m.Severity > support.InfoSev {
					fmt.Fprintf(&buf, "  %s\n", m)
				}
			}
			if got := buf.Len() > 0; got != tc.wantMsgs {
				t.Errorf("helm lint reports warnings or errors: %v, want %v:\n%s", got, tc.wantMsgs, buf.String())
			}
		})
	}
}
