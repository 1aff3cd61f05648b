package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/internal/podview"
)

const podSpec = `
      annotations:
        procview.dev/inject: "true"
    spec:
      containers:
      - name: app
        image: nginx
`

// workloads wraps one annotated pod template in every supported kind.
var workloads = map[string]string{
	"Pod": `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    procview.dev/inject: "true"
spec:
  containers:
  - name: app
    image: nginx
`,
	"Deployment":  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    metadata:" + podSpec,
	"StatefulSet": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  template:\n    metadata:" + podSpec,
	"DaemonSet":   "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  template:\n    metadata:" + podSpec,
	"ReplicaSet":  "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  template:\n    metadata:" + podSpec,
	"Job":         "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    metadata:" + podSpec,
	"CronJob": "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        metadata:" +
		strings.ReplaceAll(podSpec, "\n", "\n    "),
}

// templateOf digs the pod (template) out of one output document.
func templateOf(t *testing.T, kind string, doc []byte) corev1.Pod {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		t.Fatal(err)
	}
	sub := obj
	for _, k := range templatePaths[kind] {
		sub = sub[k].(map[string]any)
	}
	b, _ := yaml.Marshal(sub)
	var p corev1.Pod // a template (metadata, spec) reads as a Pod
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInjectDocsKinds(t *testing.T) {
	cfg := inject.DefaultConfig()
	for kind, in := range workloads {
		t.Run(kind, func(t *testing.T) {
			out, msgs, err := injectDocs(strings.NewReader(in), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := templateOf(t, kind, out)
			if len(p.Spec.InitContainers) != 1 || p.Spec.InitContainers[0].Name != podview.SidecarName {
				t.Fatalf("%s not injected:\n%s", kind, out)
			}
			if _, ok := p.Annotations[inject.AnnotationStatus]; !ok {
				t.Errorf("no status annotation in the template")
			}
			if len(msgs) != 1 || !strings.Contains(msgs[0], "injected") {
				t.Errorf("messages %q", msgs)
			}
			// The same object through the pure mutation gives the same pod.
			want := templateOf(t, kind, []byte(in))
			res, err := inject.Inject(&want, inject.NamespaceInfo{}, parsed(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Pod.Spec, p.Spec) {
				t.Errorf("CLI output differs from Inject")
			}
			// Injecting the output again changes nothing.
			again, _, err := injectDocs(bytes.NewReader(out), cfg, nil)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("second injection changed the output (err %v):\n%s\n---\n%s", err, out, again)
			}
		})
	}
}

func TestInjectDocsStream(t *testing.T) {
	in := "# leading comment\n---\n" + workloads["Deployment"] + "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {ports: [{port: 80}]}\n---\n" +
		"apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(workloads["Pod"], "\n", "\n  ")
	out, msgs, err := injectDocs(strings.NewReader(in), inject.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "---\n")
	if len(docs) != 3 {
		t.Fatalf("want 3 documents, got %d:\n%s", len(docs), out)
	}
	if docs[1] != "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {ports: [{port: 80}]}\n" {
		t.Errorf("a non-workload document was rewritten: %q", docs[1])
	}
	if !strings.Contains(docs[2], "name: procview") {
		t.Errorf("the List's pod was not injected:\n%s", docs[2])
	}
	if len(msgs) != 2 {
		t.Errorf("messages %q", msgs)
	}
}

func TestInjectDocsInvalidAnnotation(t *testing.T) {
	bad := strings.Replace(workloads["Pod"], `procview.dev/inject: "true"`, `procview.dev/inject: "true"
    procview.dev/cpu-view: cores`, 1)
	out, _, err := injectDocs(strings.NewReader(workloads["Deployment"]+"---\n"+bad), inject.DefaultConfig(), nil)
	if err == nil || !strings.Contains(err.Error(), "document 2 Pod/p") || !strings.Contains(err.Error(), "procview.dev/cpu-view") {
		t.Fatalf("error %v: want one naming document 2 and the annotation", err)
	}
	if out != nil {
		t.Errorf("output despite the error: %s", out)
	}
}

func TestInjectDocsNamespaceLabels(t *testing.T) {
	out, msgs, err := injectDocs(strings.NewReader(workloads["Pod"]), inject.DefaultConfig(),
		map[string]string{"pod-security.kubernetes.io/enforce": "baseline"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != workloads["Pod"] {
		t.Errorf("a skipped pod was rewritten:\n%s", out)
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "psa-privileged-forbidden") {
		t.Errorf("messages %q lack the skip reason", msgs)
	}
}

func TestRunCLI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pod.yaml")
	os.WriteFile(file, []byte(workloads["Pod"]), 0o644)
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		out, err string
	}{
		{"help lists every setting", []string{"--help"}, nil, 0, "PROCVIEW_INJECTOR_SIDECAR_IMAGE", ""},
		{"no command", nil, nil, 2, "", "Usage:"},
		{"unknown command", []string{"frobnicate"}, nil, 2, "", `unknown command "frobnicate"`},
		{"inject a file", []string{"inject", "-f", file}, nil, 0, "name: procview", "injected"},
		{"status records the version", []string{"inject", "-f", file}, nil, 0, `procview.dev/status: '{"version":"` + version + `"`, ""},
		{"version command", []string{"version"}, nil, 0, "procview-injector " + version + "\n", ""},
		{"version flag", []string{"--version"}, nil, 0, "procview-injector " + version + "\n", ""},
		{"version despite bad settings", []string{"version"}, map[string]string{"PROCVIEW_INJECTOR_CERT_VALIDITY": "soon"}, 0, "procview-injector " + version, ""},
		{"inject with flag image", []string{"inject", "-f", file, "--sidecar-image", "example.com/pv:1"}, nil, 0, "image: example.com/pv:1", ""},
		{"inject with env image", []string{"inject", "-f", file}, map[string]string{"PROCVIEW_INJECTOR_SIDECAR_IMAGE": "example.com/pv:2"}, 0, "image: example.com/pv:2", ""},
		{"inject needs -f", []string{"inject"}, nil, 2, "", "-f FILE"},
		{"bad setting", []string{"inject", "-f", file, "--cpu-view", "cores"}, nil, 2, "", "CPU_VIEW"},
		{"missing file", []string{"inject", "-f", filepath.Join(dir, "nope")}, nil, 1, "", "no such file"},
		{"bad cert mode", []string{"serve", "--cert-mode", "auto"}, nil, 2, "", `CERT_MODE="auto": want self or external`},
		{"self mode needs a service", []string{"serve"}, map[string]string{"PROCVIEW_INJECTOR_CERT_MODE": "self", "PROCVIEW_INJECTOR_SERVICE_NAME": ""}, 2, "", "service name is empty"},
		{"self mode validity", []string{"serve"}, map[string]string{"PROCVIEW_INJECTOR_CERT_MODE": "self", "PROCVIEW_INJECTOR_CERT_VALIDITY": "1m"}, 2, "", "too short"},
		{"cert mode ignored by inject", []string{"inject", "-f", file}, map[string]string{"PROCVIEW_INJECTOR_CERT_MODE": "auto"}, 0, "name: procview", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr, logr.Discard())
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, stderr.String())
			}
		})
	}
}

func TestHelpListsAllSettings(t *testing.T) {
	var stdout bytes.Buffer
	run(context.Background(), []string{"help"}, nil, &stdout, &stdout, logr.Discard())
	typ := reflect.TypeOf(settings{})
	var check func(reflect.Type)
	check = func(tp reflect.Type) {
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			if f.Anonymous {
				check(f.Type)
				continue
			}
			if key := f.Tag.Get("envconfig"); key != "" && !strings.Contains(stdout.String(), inject.EnvPrefix+"_"+key) {
				t.Errorf("help does not list %s_%s", inject.EnvPrefix, key)
			}
		}
	}
	check(typ)
	for _, a := range inject.Annotations {
		if !strings.Contains(stdout.String(), a.Key) {
			t.Errorf("help does not list annotation %s", a.Key)
		}
	}
	for _, v := range []string{inject.LabelInjectEnabled, inject.LabelInjectDisabled} {
		if !strings.Contains(stdout.String(), inject.LabelInject+"="+v) {
			t.Errorf("help does not list the namespace label %s=%s", inject.LabelInject, v)
		}
	}
}
