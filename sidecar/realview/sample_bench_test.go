package realview

import (
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"

	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/internal/testcgroup"
	"github.com/procview/procview/sidecar/loadsampler"
	"github.com/procview/procview/sidecar/render"
)

// BenchmarkSampleIdleContainer is one period's sampling of an idle container (one sleeping
// process): the sampler's CPU per container per second is this time / 5 s.
func BenchmarkSampleIdleContainer(b *testing.B) {
	cg := testcgroup.New(b, "bench", testcgroup.Limits{})
	cmd := cg.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	reader, err := cgroup.New(cgroup.Options{Root: testcgroup.Root, ProcRoot: "/proc", Scope: filepath.Dir(cg.Path())})
	if err != nil {
		b.Fatal(err)
	}
	lt := render.NewLoadTracker()
	for b.Loop() {
		loadsampler.Sample(reader, lt, logr.Discard())
	}
}
