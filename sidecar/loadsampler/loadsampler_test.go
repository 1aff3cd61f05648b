package loadsampler

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/render"
)

// fakeSource is a scope of containers with fixed thread counts; inodes change when a
// container is re-created.
type fakeSource struct {
	children []string
	active   map[string]int
	ino      map[string]uint64
}

func (f *fakeSource) ScopeChildren() ([]string, error) { return f.children, nil }
func (f *fakeSource) SampleTasks(p string) (cgroup.Tasks, uint64, error) {
	n, ok := f.active[p]
	if !ok {
		return cgroup.Tasks{}, 0, errors.New("gone")
	}
	return cgroup.Tasks{Running: n}, f.ino[p], nil
}

// Containers are sampled whether or not anyone reads; one that read the view outside the scope
// is sampled too; a re-created cgroup starts over; a removed one is forgotten.
func TestSampleScopeAndReaders(t *testing.T) {
	src := &fakeSource{
		children: []string{"/pod/a"},
		active:   map[string]int{"/pod/a": 1, "/other": 2},
		ino:      map[string]uint64{"/pod/a": 10, "/other": 20},
	}
	lt := render.NewLoadTracker()
	lt.Observe(20, "/other") // read once
	for range 12 {
		Sample(src, lt, logr.Discard())
	}
	if l := lt.Observe(10, "/pod/a"); l.One < 0.6 || l.One > 0.65 {
		t.Errorf("/pod/a never read, 60 s at 1: %+v, want ≈0.63", l)
	}
	if l := lt.Observe(20, "/other"); l.One < 1.2 || l.One > 1.3 {
		t.Errorf("/other, 60 s at 2: %+v, want ≈1.26", l)
	}
	src.ino["/pod/a"] = 11 // removed and created again
	delete(src.active, "/other")
	Sample(src, lt, logr.Discard())
	if l := lt.Observe(11, "/pod/a"); l.One > 0.1 {
		t.Errorf("re-created /pod/a: %+v, want a fresh start", l)
	}
	if lt.Len() != 1 {
		t.Errorf("tracker holds %d, want 1", lt.Len())
	}
}

// Run steps on its period (injected short here) and stops with its context.
func TestRunSamplesOnItsPeriod(t *testing.T) {
	src := &fakeSource{children: []string{"/pod/a"}, active: map[string]int{"/pod/a": 1}, ino: map[string]uint64{"/pod/a": 1}}
	lt := render.NewLoadTracker()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, time.Millisecond, src, lt, logr.Discard()); close(done) }()
	testenv.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if l := lt.Observe(1, "/pod/a"); l.One < 0.9 {
			return fmt.Errorf("after many periods at 1: %+v", l)
		}
		return nil
	})
	cancel()
	<-done
	if l := lt.Observe(1, "/pod/a"); l.One < 0.9 {
		t.Errorf("after many periods at 1: %+v", l)
	}
}
