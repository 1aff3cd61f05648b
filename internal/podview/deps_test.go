package podview_test

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages pattern links, with go list -deps.
func deps(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pattern).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pattern, err)
	}
	return strings.Fields(string(out))
}

// The injector and the sidecar meet only in this package: no injector package links a sidecar one,
// and the sidecar links no Kubernetes package.
func TestBoundaries(t *testing.T) {
	const module = "github.com/procview/procview/"
	for _, tc := range []struct{ pattern, forbidden string }{
		{module + "injector/...", module + "sidecar/"},
		{module + "injector/...", module + "initmount"},
		{module + "sidecar/cmd/procview-sidecar", "k8s.io/"},
		{module + "internal/podview", "."}, // the standard library only
	} {
		var bad []string
		for _, p := range deps(t, tc.pattern) {
			if tc.forbidden == "." {
				if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && p != module+"internal/podview" {
					bad = append(bad, p)
				}
			} else if strings.HasPrefix(p, tc.forbidden) {
				bad = append(bad, p)
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s links %v", tc.pattern, bad)
		}
	}
}
