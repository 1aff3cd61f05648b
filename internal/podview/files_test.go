package podview

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Names are unique (annotations and the status use them), a directory holds only paths below it,
// and the rendered list has every file once and no directory.
func TestFiles(t *testing.T) {
	names := map[string]bool{}
	for _, f := range Files() {
		if names[f.Name()] {
			t.Errorf("name %q twice", f.Name())
		}
		names[f.Name()] = true
		if !f.Dir && len(f.Holds) > 0 {
			t.Errorf("file %s holds %v", f.Path, f.Holds)
		}
		for _, p := range f.Holds {
			if !f.Contains(p) {
				t.Errorf("%s holds %s, which is not below it", f.Path, p)
			}
		}
	}
	want := []string{Meminfo, Cpuinfo, Stat, Uptime, Loadavg, Diskstats, Swaps, Online, Slabinfo, Possible, Present, Offline}
	if diff := cmp.Diff(want, Rendered()); diff != "" {
		t.Errorf("Rendered() (-want +got):\n%s", diff)
	}
}

func TestContains(t *testing.T) {
	dir, _ := Lookup(CPUDir)
	file, _ := Lookup(Online)
	for _, tc := range []struct {
		f    File
		p    string
		want bool
	}{
		{dir, Online, true},
		{dir, CPUDir + "/cpu0/topology/core_id", true},
		{dir, CPUDir, false},
		{dir, CPUDir + "freq/policy0", false}, // a sibling sharing the prefix
		{dir, Meminfo, false},
		{file, Online + "/x", false}, // a file contains nothing
	} {
		if got := tc.f.Contains(tc.p); got != tc.want {
			t.Errorf("%s.Contains(%s) = %v, want %v", tc.f.Path, tc.p, got, tc.want)
		}
	}
}
