package realview

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/fusefs"
	"github.com/procview/procview/sidecar/internal/testcgroup"
	"github.com/procview/procview/sidecar/loadsampler"
	"github.com/procview/procview/sidecar/render"
)

// startSampler serves the view with a load sampler on the kernel's real period over the
// containers below scope, as the sidecar does for its pod.
func startSampler(t *testing.T, scope string) string {
	t.Helper()
	reader, err := cgroup.New(cgroup.Options{Root: testcgroup.Root, ProcRoot: "/proc", Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	loads := render.NewLoadTracker()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loadsampler.Run(ctx, loadsampler.Period, reader, loads, logr.Discard()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return mountView(t, func(o *fusefs.Options) { o.Reader, o.Loads = reader, loads })
}

func loadavg(t *testing.T, cg *testcgroup.Cgroup, view string) []float64 {
	t.Helper()
	parts := run(t, inView(cg, view, []string{"proc/loadavg"}, "cat /proc/loadavg"), 1)
	f := strings.Fields(parts[0])
	var out []float64
	for _, s := range f[:3] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("loadavg %q", parts[0])
		}
		out = append(out, v)
	}
	return out
}

// Busy for 30 s then idle, with nobody reading: a read at 35 s shows what the kernel's formula
// gives for the container alone (0.36 0.09 0.03 with six busy samples and one idle; 0.29–0.36
// depending on where the 5 s ticks fall), not 0.00. A cgroup removed and created again under
// the same path starts from 0, not with the old container's load.
func TestLoadavgSampledWithNobodyReading(t *testing.T) {
	if testing.Short() {
		t.Skip("35 s in real time")
	}
	parent := t
	var view string // one server and one sampler for both containers
	t.Run("busy-then-idle", func(t *testing.T) {
		cg := testcgroup.New(t, "load", testcgroup.Limits{})
		view = startSampler(parent, filepath.Dir(cg.Path()))
		cmd := cg.Command("timeout", "30", "sh", "-c", "while :; do :; done")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait() // timeout ends it after 30 s
		time.Sleep(35*time.Second - time.Since(start))
		got := loadavg(t, cg, view)
		lo, hi := []float64{0.25, 0.05, 0.01}, []float64{0.42, 0.12, 0.05}
		for i := range got {
			if got[i] < lo[i] || got[i] > hi[i] {
				t.Errorf("loadavg at 35 s = %v, want within %v..%v (kernel: 0.36 0.09 0.03)", got, lo, hi)
				break
			}
		}
		t.Logf("loadavg at 35 s: %v", got)
	})
	t.Run("recreated-cgroup-starts-fresh", func(t *testing.T) {
		if view == "" {
			t.Fatal("no view")
		}
		cg := testcgroup.New(t, "load", testcgroup.Limits{}) // the same path, a new cgroup
		if got := loadavg(t, cg, view); got[0] != 0 || got[1] != 0 || got[2] != 0 {
			t.Errorf("re-created cgroup: loadavg %v, want 0 0 0", got)
		}
	})
}
