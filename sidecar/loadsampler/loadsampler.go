// Package loadsampler steps every served container's load average on the kernel's period
// (5 s), whether or not anyone reads: the containers below the scope (a pod's) and any other
// container that has read the view.
package loadsampler

import (
	"context"
	"slices"
	"time"

	"github.com/go-logr/logr"

	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/render"
)

// Period is the kernel's LOAD_FREQ.
const Period = 5 * time.Second

// Source counts a container's threads; *cgroup.FS is one.
type Source interface {
	SampleTasks(path string) (cgroup.Tasks, uint64, error)
	ScopeChildren() ([]string, error)
}

// Sample takes one period's samples into t: the scope's containers and the ones t tracks.
// A container whose cgroup is gone has no sample and is forgotten.
func Sample(src Source, t *render.LoadTracker, log logr.Logger) {
	paths, err := src.ScopeChildren()
	if err != nil {
		log.V(1).Info("list scope", "err", err.Error())
	}
	paths = append(paths, t.Paths()...)
	slices.Sort(paths)
	paths = slices.Compact(paths)
	samples := make([]render.LoadSample, 0, len(paths))
	for _, p := range paths {
		tasks, ino, err := src.SampleTasks(p)
		if err != nil {
			continue // removed meanwhile
		}
		samples = append(samples, render.LoadSample{Inode: ino, Path: p, Active: tasks.Running + tasks.Blocked})
	}
	t.Step(samples)
}

// Run samples every period until ctx ends.
func Run(ctx context.Context, period time.Duration, src Source, t *render.LoadTracker, log logr.Logger) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			Sample(src, t, log)
		}
	}
}
