package render

import (
	"math"
	"sync"
	"time"

	"github.com/procview/procview/sidecar/cgroup"
)

// The kernel's load averages are exponential moving averages over 1, 5 and 15 minutes of the
// number of runnable and uninterruptible threads, sampled every 5 s. We sample at each read
// instead and decay for the exact time elapsed, so a read never shows a value seconds old.
var loadWindows = [3]time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}

// forgetAfter drops containers nobody has read for a while (they may be gone).
const forgetAfter = 15 * time.Minute

// LoadTracker keeps a load average per container. It is safe for concurrent use.
type LoadTracker struct {
	mu    sync.Mutex
	loads map[string]*loadState
	swept time.Duration
}

type loadState struct {
	avg  [3]float64
	last time.Duration
}

// NewLoadTracker returns an empty tracker.
func NewLoadTracker() *LoadTracker { return &LoadTracker{loads: map[string]*loadState{}} }

// Update records a sample of container key at now (time since boot) and returns its load.
// The first sample starts the averages at the current count.
func (t *LoadTracker) Update(key string, now time.Duration, tasks cgroup.Tasks) Load {
	n := float64(tasks.Running + tasks.Blocked)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	s, ok := t.loads[key]
	if !ok {
		s = &loadState{avg: [3]float64{n, n, n}, last: now}
		t.loads[key] = s
	}
	if dt := now - s.last; dt > 0 {
		for i, w := range loadWindows {
			e := math.Exp(-float64(dt) / float64(w))
			s.avg[i] = s.avg[i]*e + n*(1-e)
		}
		s.last = now
	}
	return Load{One: s.avg[0], Five: s.avg[1], Fifteen: s.avg[2]}
}

func (t *LoadTracker) sweep(now time.Duration) {
	if now-t.swept < time.Minute {
		return
	}
	t.swept = now
	for k, s := range t.loads {
		if now-s.last > forgetAfter {
			delete(t.loads, k)
		}
	}
}

// Len is the number of containers tracked.
func (t *LoadTracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.loads)
}
