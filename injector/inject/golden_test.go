package inject

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/internal/testpods"
	goldenfile "github.com/procview/procview/internal/golden"
)

// testConfig is the configuration of every golden: the defaults with a fixed version.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Version = "test"
	return cfg
}

// testSettings is testConfig parsed.
func testSettings(t testing.TB) *Settings { return mustParse(t, testConfig()) }

func mustParse(t testing.TB, c Config) *Settings {
	t.Helper()
	s, err := c.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readCase reads testdata/pods/NAME.yaml: an optional Namespace document (name and labels the
// injector sees), then the Pod.
func readCase(t testing.TB, file string) (*corev1.Pod, NamespaceInfo) {
	t.Helper()
	c := testpods.ReadCase(t, file)
	return c.Pod, NamespaceInfo{Name: c.Namespace, Labels: c.Labels, Rules: Rules{Quotas: c.Quotas, LimitRanges: c.LimitRanges}}
}

// render writes the outcome as the golden file holds it: comments with the skip reason,
// warnings and error, then the resulting pod.
func render(t testing.TB, res Result, err error) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# skip: %s\n", orNone(string(res.Skip)))
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "# warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(&b, "# error: %s\n", err)
	}
	out, merr := yaml.Marshal(res.Pod)
	if merr != nil {
		t.Fatal(merr)
	}
	b.Write(out)
	return b.Bytes()
}

func orNone(s string) string {
	if s == "" {
		return "none (injected)"
	}
	return s
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/pods/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs in testdata/pods (%v)", err)
	}
	want := map[string]bool{}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		golden := filepath.Join("testdata", "golden", name+".yaml")
		want[golden] = true
		t.Run(name, func(t *testing.T) {
			pod, ns := readCase(t, in)
			before := pod.DeepCopy()
			res, err := Inject(pod, ns, testSettings(t))
			if d := cmp.Diff(before, pod); d != "" {
				t.Fatalf("Inject modified its input (-before +after):\n%s", d)
			}
			if err != nil && !errors.As(err, new(*InvalidAnnotationError)) {
				t.Fatalf("error of an unexpected type %T: %v", err, err)
			}
			got := render(t, res, err)
			goldenfile.Compare(t, golden, got)
			again, err2 := Inject(res.Pod, ns, testSettings(t))
			if err == nil && err2 != nil {
				t.Fatalf("re-injecting the output failed: %v", err2)
			}
			if d := cmp.Diff(res.Pod, again.Pod); d != "" {
				t.Errorf("injecting twice differs from injecting once (-once +twice):\n%s", d)
			}
		})
	}
	goldenfile.NoStale(t, filepath.Join("testdata", "golden"), want)
}
