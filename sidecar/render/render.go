// Package render turns a container's cgroup snapshot into the bytes of one virtual file.
// Every renderer is a pure function of its Input; the list of files lives once, in Files.
package render

import (
	"time"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
)

// Host holds the host's own files and facts the renderers start from.
// Raw files are the host's bytes; lines a renderer does not virtualize are copied from them.
type Host struct {
	MemInfo   []byte // /proc/meminfo
	CPUInfo   []byte // /proc/cpuinfo
	Stat      []byte // /proc/stat
	DiskStats []byte // /proc/diskstats
	Swaps     []byte // /proc/swaps
	Online    []int  // host CPUs online (/sys/devices/system/cpu/online)
	ClockTick int    // USER_HZ (cgroup.UserHZ)
}

// Load is a container's load average, kept over time by a LoadTracker (loadavg is the only
// view with memory; the tracker lives outside the pure renderer).
type Load struct {
	One, Five, Fifteen float64
}

// Input is everything one render may look at.
type Input struct {
	Snap    *cgroup.Snapshot
	Host    *Host
	Now     time.Duration // time since boot (CLOCK_BOOTTIME) at render
	CPUView podview.CPUView
	Load    Load // filled in for loadavg only
}

// File is one virtual file: where it lives in the view, what it needs, how it renders.
type File struct {
	Path    string      // relative to the mount point, e.g. "proc/meminfo"
	Need    cgroup.Need // snapshot parts to read
	Host    HostNeed    // host files to read
	Load    bool        // the caller fills Input.Load from its LoadTracker
	Private bool        // readable by root only (0400), as the node's own file is
	// Render appends the file's bytes to dst (so callers can reuse buffers) and returns it.
	Render func(dst []byte, in Input) ([]byte, error)
}

// HostNeed says which Host fields a renderer reads.
type HostNeed uint32

const (
	HostMemInfo HostNeed = 1 << iota
	HostCPUInfo
	HostStat
	HostDiskStats
	HostSwaps
	HostOnline
)

// Merge copies into h the fields of src that need selects (ClockTick is left alone).
func (h *Host) Merge(src *Host, need HostNeed) {
	if need&HostMemInfo != 0 {
		h.MemInfo = src.MemInfo
	}
	if need&HostCPUInfo != 0 {
		h.CPUInfo = src.CPUInfo
	}
	if need&HostStat != 0 {
		h.Stat = src.Stat
	}
	if need&HostDiskStats != 0 {
		h.DiskStats = src.DiskStats
	}
	if need&HostSwaps != 0 {
		h.Swaps = src.Swaps
	}
	if need&HostOnline != 0 {
		h.Online = src.Online
	}
}
