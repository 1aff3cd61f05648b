package fusefs

import (
	"sync"
	"time"

	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/hostfacts"
	"github.com/procview/procview/sidecar/render"
)

// Host files that change slowly or not at all (RAM and swap sizes, CPU models, disk names)
// are read at most once per hostTTL instead of on every open: reading /proc/meminfo costs as
// much as a cgroup file. /proc/stat is always fresh: tools compute rates from its host lines.
const (
	hostTTL    = time.Second
	cachedHost = render.HostMemInfo | render.HostCPUInfo | render.HostSwaps | render.HostDiskStats | render.HostOnline
)

type hostCache struct {
	procRoot, sysRoot string
	mu                sync.Mutex
	cur               *render.Host // never modified once published: a refresh makes a new one
	at                time.Time
	have              render.HostNeed
	hasSwap           bool // from cur.MemInfo, parsed once per refresh
}

// get returns host facts holding need. The result is shared and must not be modified: when
// need is all slow-changing files (meminfo, cpuinfo, ...) it is the cache itself, with no copy.
func (c *hostCache) get(need render.HostNeed) (*render.Host, error) {
	fresh := need &^ cachedHost
	cached := need & cachedHost
	c.mu.Lock()
	if time.Since(c.at) > hostTTL {
		c.cur, c.have, c.at = nil, 0, time.Now()
	}
	if missing := cached &^ c.have; missing != 0 {
		h, err := hostfacts.Read(c.procRoot, c.sysRoot, missing)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		next := &render.Host{ClockTick: cgroup.UserHZ}
		if c.cur != nil {
			*next = *c.cur
		}
		next.Merge(h, missing)
		c.cur = next
		c.have |= missing
		if missing&render.HostMemInfo != 0 {
			c.hasSwap = render.HasSwap(next.MemInfo)
		}
	}
	cur := c.cur
	c.mu.Unlock()
	if fresh == 0 && cur != nil {
		return cur, nil
	}
	out := render.Host{ClockTick: cgroup.UserHZ}
	if cur != nil {
		out = *cur // slices stay shared read-only; fresh fields are filled for this call
	}
	if fresh != 0 {
		h, err := hostfacts.Read(c.procRoot, c.sysRoot, fresh)
		if err != nil {
			return nil, err
		}
		out.Merge(h, fresh)
	}
	return &out, nil
}

// hostHasSwap reports whether the host has any swap: without it every swap number in the view
// is 0, and the cgroup's swap files need not be read.
func (c *hostCache) hostHasSwap() bool {
	if _, err := c.get(render.HostMemInfo); err != nil {
		return true // read them and let the renderer decide
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hasSwap
}
