package fusefs

import (
	"bytes"
	"strconv"
	"sync"
	"time"

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
	host              render.Host
	at                time.Time
	have              render.HostNeed
	hasSwap           bool // from host.MemInfo, parsed once per refresh
}

// get returns host facts holding need; cached fields are shared, callers must not modify them.
func (c *hostCache) get(need render.HostNeed) (*render.Host, error) {
	fresh := need &^ cachedHost
	cached := need & cachedHost
	c.mu.Lock()
	if time.Since(c.at) > hostTTL {
		c.have, c.at = 0, time.Now()
	}
	if missing := cached &^ c.have; missing != 0 {
		h, err := hostfacts.Read(c.procRoot, c.sysRoot, missing)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.host.Merge(h, missing)
		c.have |= missing
		if missing&render.HostMemInfo != 0 {
			c.hasSwap = memInfoHasSwap(c.host.MemInfo)
		}
	}
	out := c.host // copy: slices are shared read-only, fresh fields are filled per call
	c.mu.Unlock()
	if fresh != 0 {
		h, err := hostfacts.Read(c.procRoot, c.sysRoot, fresh)
		if err != nil {
			return nil, err
		}
		out.Merge(h, fresh)
	}
	out.ClockTick = 100
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

// memInfoHasSwap reports whether /proc/meminfo's SwapTotal is above 0 (or unreadable).
func memInfoHasSwap(meminfo []byte) bool {
	i := bytes.Index(meminfo, []byte("\nSwapTotal:"))
	if i < 0 {
		return true
	}
	f := bytes.Fields(meminfo[i+len("\nSwapTotal:"):])
	if len(f) == 0 {
		return true
	}
	n, err := strconv.ParseUint(string(f[0]), 10, 64)
	return err != nil || n > 0
}
