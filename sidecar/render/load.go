package render

import (
	"sync"
)

// The kernel's load averages (kernel/sched/loadavg.c): every 5 s, each of the 1, 5 and 15
// minute averages moves towards the number of runnable and uninterruptible threads, in 11-bit
// fixed point. We do the same per container, sampled on the same period by a sampler whether
// or not anyone reads, so a read shows what the kernel would show for the container alone.
const (
	fshift = 11
	fixed1 = 1 << fshift // 1.0 in fixed point
)

// loadExp are EXP_1, EXP_5 and EXP_15: 2048/exp(5s/1min), 2048/exp(5s/5min), 2048/exp(5s/15min).
var loadExp = [3]uint64{1884, 2014, 2037}

// calcLoad is the kernel's calc_load: one 5 s step of load towards active (both fixed point).
func calcLoad(load, exp, active uint64) uint64 {
	n := load*exp + active*(fixed1-exp)
	if active >= load {
		n += fixed1 - 1
	}
	return n / fixed1
}

// LoadTracker keeps a load average per container, keyed by its cgroup's inode (a re-created
// cgroup of the same path is a new container and starts at 0). It is safe for concurrent use.
type LoadTracker struct {
	mu    sync.Mutex
	loads map[uint64]*loadState
}

type loadState struct {
	path string
	avg  [3]uint64 // fixed point
}

// LoadSample is one container's count of runnable and uninterruptible threads.
type LoadSample struct {
	Inode  uint64
	Path   string
	Active int
}

// NewLoadTracker returns an empty tracker.
func NewLoadTracker() *LoadTracker { return &LoadTracker{loads: map[uint64]*loadState{}} }

// Observe returns the load of the container whose cgroup is inode at path. One not tracked yet
// starts at 0, as a new container's would, and is sampled from the next period on.
func (t *LoadTracker) Observe(inode uint64, path string) Load {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.loads[inode]
	if !ok {
		s = &loadState{path: path}
		t.loads[inode] = s
	}
	return Load{One: toFloat(s.avg[0]), Five: toFloat(s.avg[1]), Fifteen: toFloat(s.avg[2])}
}

// Paths are the cgroup paths of the containers tracked, to sample in the next period.
func (t *LoadTracker) Paths() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.loads))
	for _, s := range t.loads {
		out = append(out, s.path)
	}
	return out
}

// Step applies one period's samples. Containers without a sample are gone and forgotten.
func (t *LoadTracker) Step(samples []LoadSample) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := make(map[uint64]*loadState, len(samples))
	for _, smp := range samples {
		s, ok := t.loads[smp.Inode]
		if !ok {
			s = &loadState{}
		}
		s.path = smp.Path
		active := uint64(max(smp.Active, 0)) * fixed1
		for i, e := range loadExp {
			s.avg[i] = calcLoad(s.avg[i], e, active)
		}
		next[smp.Inode] = s
	}
	t.loads = next
}

// Len is the number of containers tracked.
func (t *LoadTracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.loads)
}

func toFloat(fx uint64) float64 { return float64(fx) / fixed1 }

// appendLoad prints load l as the kernel's /proc/loadavg does: round at 1/200, then the
// integer part and two decimals of the fixed-point value.
func appendLoad(dst []byte, l float64) []byte {
	fx := uint64(max(l, 0)*fixed1+0.5) + fixed1/200
	dst = appendUint(dst, fx>>fshift)
	dst = append(dst, '.')
	frac := ((fx & (fixed1 - 1)) * 100) >> fshift
	if frac < 10 {
		dst = append(dst, '0')
	}
	return appendUint(dst, frac)
}
