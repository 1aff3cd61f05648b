package render

import (
	"fmt"
	"sync"
	"testing"
)

// The kernel's own numbers: one thread runnable from a fresh start, sampled every 5 s. After 30 s
// busy and one idle sample (35 s) the kernel shows 0.36 0.09 0.03 (and lxcfs, which does the same).
// Hand-computed with calc_load from kernel/sched/loadavg.c.
func TestLoadTrackerKernelFormula(t *testing.T) {
	lt := NewLoadTracker()
	step := func(active int) { lt.Step([]LoadSample{{Inode: 7, Path: "/c", Active: active}}) }
	for range 6 {
		step(1)
	}
	step(0)
	got := string(appendLoads(lt.Observe(7, "/c")))
	if want := "0.36 0.09 0.03"; got != want {
		t.Errorf("after 30 s busy and 5 s idle: %s, want %s", got, want)
	}
	// 60 s busy from a fresh start: 1 − e^(−1) ≈ 0.63 for the 1-minute average, not 1.00.
	lt = NewLoadTracker()
	for range 12 {
		step(1)
	}
	if got, want := string(appendLoads(lt.Observe(7, "/c"))), "0.63 0.18 0.06"; got != want {
		t.Errorf("after 60 s busy: %s, want %s", got, want)
	}
	// Fixed point converges to exactly n, as the kernel's does (the round-up when rising).
	lt = NewLoadTracker()
	for range 2000 {
		step(3)
	}
	if got, want := string(appendLoads(lt.Observe(7, "/c"))), "3.00 3.00 3.00"; got != want {
		t.Errorf("steady 3: %s, want %s", got, want)
	}
}

func appendLoads(l Load) []byte {
	var b []byte
	for i, v := range []float64{l.One, l.Five, l.Fifteen} {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendLoad(b, v)
	}
	return b
}

// History is keyed by the cgroup's inode: a re-created cgroup of the same path starts at 0,
// and a cgroup missing from a period's samples is forgotten.
func TestLoadTrackerKeyedByInode(t *testing.T) {
	lt := NewLoadTracker()
	for range 20 {
		lt.Step([]LoadSample{{Inode: 1, Path: "/pod/ctr", Active: 2}})
	}
	if l := lt.Observe(1, "/pod/ctr"); l.One < 1 {
		t.Fatalf("busy container: %+v", l)
	}
	if l := lt.Observe(2, "/pod/ctr"); l != (Load{}) {
		t.Errorf("re-created cgroup (new inode, same path): %+v, want 0", l)
	}
	lt.Step([]LoadSample{{Inode: 2, Path: "/pod/ctr"}})
	if lt.Len() != 1 {
		t.Errorf("tracker holds %d containers, want only the new one", lt.Len())
	}
	if p := lt.Paths(); len(p) != 1 || p[0] != "/pod/ctr" {
		t.Errorf("paths %v", p)
	}
}

// The kernel's printing: 1/200 rounding, two decimals of the fixed-point value.
func TestAppendLoad(t *testing.T) {
	for _, tc := range []struct {
		fx   uint64
		want string
	}{{0, "0.00"}, {fixed1, "1.00"}, {fixed1 / 2, "0.50"}, {fixed1/100 - 11, "0.00"}, {fixed1 / 100, "0.01"}, {fixed1*12 + 2047, "13.00"}} {
		if got := string(appendLoad(nil, toFloat(tc.fx))); got != tc.want {
			t.Errorf("%d/2048: %s, want %s", tc.fx, got, tc.want)
		}
	}
}

// Reads and steps at once: run with -race.
func TestLoadTrackerConcurrent(t *testing.T) {
	lt := NewLoadTracker()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				lt.Observe(uint64(g), fmt.Sprint("/c", g))
				if g == 0 {
					lt.Step([]LoadSample{{Inode: uint64(i % 3), Path: "/c", Active: 1}})
				}
			}
		}()
	}
	wg.Wait()
}
