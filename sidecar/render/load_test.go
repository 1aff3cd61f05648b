package render

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/procview/procview/sidecar/cgroup"
)

// With n threads runnable from time 0 on, the kernel's averages approach n as
// n + (l0 - n)·e^(-t/τ) however often they are sampled: check against that closed form
// for random sample times.
func TestLoadTrackerClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ start, n int }{{0, 3}, {4, 0}, {2, 2}, {1, 7}} {
		lt := NewLoadTracker()
		lt.Update("c", time.Hour, cgroup.Tasks{Running: tc.start})
		now := time.Hour
		tasks := cgroup.Tasks{Running: tc.n / 2, Blocked: tc.n - tc.n/2}
		var l Load
		for now < time.Hour+20*time.Minute {
			now += time.Duration(rng.Int64N(int64(30 * time.Second)))
			l = lt.Update("c", now, tasks)
		}
		elapsed := now - time.Hour
		for i, got := range []float64{l.One, l.Five, l.Fifteen} {
			want := float64(tc.n) + float64(tc.start-tc.n)*math.Exp(-elapsed.Seconds()/loadWindows[i].Seconds())
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("start %d n %d after %v: window %v = %v, want %v", tc.start, tc.n, elapsed, loadWindows[i], got, want)
			}
		}
	}
}

// A read at the same instant, or with a clock that went back, changes nothing.
func TestLoadTrackerNoTimePassed(t *testing.T) {
	lt := NewLoadTracker()
	a := lt.Update("c", time.Minute, cgroup.Tasks{Running: 1})
	if b := lt.Update("c", time.Minute, cgroup.Tasks{Running: 9}); b != a {
		t.Errorf("same instant: %+v, want %+v", b, a)
	}
	if b := lt.Update("c", time.Second, cgroup.Tasks{Running: 9}); b != a {
		t.Errorf("clock went back: %+v, want %+v", b, a)
	}
}

// Many goroutines updating shared and own keys: run with -race.
func TestLoadTrackerConcurrent(t *testing.T) {
	lt := NewLoadTracker()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprint("ctr", g)
			for i := range 200 {
				now := time.Duration(i) * time.Second
				if l := lt.Update(own, now, cgroup.Tasks{Running: g}); math.Abs(l.One-float64(g)) > 1e-9 {
					t.Errorf("%s: %+v, want a steady %d", own, l, g)
					return
				}
				lt.Update("shared", now, cgroup.Tasks{Running: 1})
			}
		}()
	}
	wg.Wait()
	if lt.Len() != 9 {
		t.Errorf("tracker holds %d keys, want 9", lt.Len())
	}
}
