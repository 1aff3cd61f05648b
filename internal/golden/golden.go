// Package golden compares test output with files under testdata, and rewrites them with
// `go test -update`. Diffs are go-cmp's, line by line.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Compare checks got against the golden file at path, or writes it with -update.
func Compare(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test -update` to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// NoStale fails for files under dir that no test compared (a removed case leaves them
// behind), or removes them with -update. used holds the paths passed to Compare.
func NoStale(t testing.TB, dir string, used map[string]bool) {
	t.Helper()
	var stale []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || used[p] {
			return err
		}
		stale = append(stale, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(stale)
	for _, p := range stale {
		if *update {
			os.Remove(p)
			continue
		}
		t.Errorf("stale golden file %s: no test case produces it (run `go test -update` to remove it)", p)
	}
}
