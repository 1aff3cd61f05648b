package render

import (
	"math/bits"

	"github.com/procview/procview/sidecar/cgroup"
)

// renderMeminfo shows the container's memory as a machine: MemTotal is its limit (capped at the
// host's RAM), the rest derives from its usage and memory.stat, as lxcfs does. Lines we do not
// virtualize (HugePages, Vmalloc, ...) are copied from the host in the host's order.
func renderMeminfo(dst []byte, in Input) ([]byte, error) {
	v := memValues(in)
	host := in.Host.MemInfo
	for len(host) > 0 {
		var line []byte
		line, host = nextLine(host)
		key := meminfoKey(line)
		if kb, ok := v.get(string(key)); ok {
			dst = appendMeminfoLine(dst, key, kb)
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return dst, nil
}

// memView holds the virtualized meminfo values in kB.
type memView struct {
	total, free, avail, cached, active, inactive uint64
	activeAnon, inactiveAnon, activeFile         uint64
	inactiveFile, unevictable, dirty, writeback  uint64
	anon, mapped, shmem, sreclaim, sunreclaim    uint64
	kernelStack, pageTables                      uint64
	swapTotal, swapFree                          uint64
}

func memValues(in Input) memView {
	m := in.Snap.Memory
	st := m.Stat
	hostTotal, _ := meminfoKB(in.Host.MemInfo, "MemTotal")
	total := min(m.Limit/1024, hostTotal) * 1024 // kB, like every other line
	usage := min(m.Usage, total)
	free := total - usage
	// Page cache and slab the kernel can drop count as available, as in lxcfs and the kernel's own MemAvailable.
	avail := min(total, sat(free, st.ActiveFile, st.InactiveFile, st.SlabReclaimable))
	v := memView{
		total: total / 1024, free: free / 1024, avail: avail / 1024,
		cached:     st.File / 1024,
		active:     (st.ActiveAnon + st.ActiveFile) / 1024,
		inactive:   (st.InactiveAnon + st.InactiveFile) / 1024,
		activeAnon: st.ActiveAnon / 1024, inactiveAnon: st.InactiveAnon / 1024,
		activeFile: st.ActiveFile / 1024, inactiveFile: st.InactiveFile / 1024,
		unevictable: st.Unevictable / 1024, dirty: st.Dirty / 1024, writeback: st.Writeback / 1024,
		anon: st.Anon / 1024, mapped: st.Mapped / 1024, shmem: st.Shmem / 1024,
		sreclaim: st.SlabReclaimable / 1024, sunreclaim: st.SlabUnreclaimable / 1024,
		kernelStack: st.KernelStack / 1024, pageTables: st.PageTables / 1024,
	}
	hostSwap, _ := meminfoKB(in.Host.MemInfo, "SwapTotal")
	v.swapTotal, v.swapFree = swapValues(m, hostSwap)
	return v
}

// swapValues returns the container's swap size and free swap in kB: its swap limit capped at
// the host's swap (hostKB), or 0 when the host has none or the kernel keeps no swap accounting.
func swapValues(m cgroup.Memory, hostKB uint64) (total, free uint64) {
	if !m.SwapAccounting || hostKB == 0 {
		return 0, 0
	}
	t := min(m.SwapLimit/1024, hostKB)
	return t, t - min(m.SwapUsage/1024, t)
}

// sat adds without wrapping around.
func sat(vs ...uint64) uint64 {
	var sum uint64
	for _, v := range vs {
		s, carry := bits.Add64(sum, v, 0)
		if carry != 0 {
			return ^uint64(0)
		}
		sum = s
	}
	return sum
}

func (v memView) get(key string) (uint64, bool) {
	switch key {
	case "MemTotal":
		return v.total, true
	case "MemFree":
		return v.free, true
	case "MemAvailable":
		return v.avail, true
	case "Buffers", "SwapCached":
		return 0, true
	case "Cached":
		return v.cached, true
	case "Active":
		return v.active, true
	case "Inactive":
		return v.inactive, true
	case "Active(anon)":
		return v.activeAnon, true
	case "Inactive(anon)":
		return v.inactiveAnon, true
	case "Active(file)":
		return v.activeFile, true
	case "Inactive(file)":
		return v.inactiveFile, true
	case "Unevictable":
		return v.unevictable, true
	case "Dirty":
		return v.dirty, true
	case "Writeback":
		return v.writeback, true
	case "AnonPages":
		return v.anon, true
	case "Mapped":
		return v.mapped, true
	case "Shmem":
		return v.shmem, true
	case "Slab":
		return v.sreclaim + v.sunreclaim, true
	case "SReclaimable":
		return v.sreclaim, true
	case "SUnreclaim":
		return v.sunreclaim, true
	case "KernelStack":
		return v.kernelStack, true
	case "PageTables":
		return v.pageTables, true
	case "SwapTotal":
		return v.swapTotal, true
	case "SwapFree":
		return v.swapFree, true
	}
	return 0, false
}
