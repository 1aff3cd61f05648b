// Package hostfacts reads the host's own /proc and /sys files that renderers start from:
// the I/O edge of the pure render package.
package hostfacts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/render"
)

// Read reads the host files in need from procRoot (e.g. /proc) and sysRoot (e.g. /sys).
func Read(procRoot, sysRoot string, need render.HostNeed) (*render.Host, error) {
	h := &render.Host{ClockTick: cgroup.UserHZ}
	files := []struct {
		bit  render.HostNeed
		path string
		dst  *[]byte
	}{
		{render.HostMemInfo, filepath.Join(procRoot, "meminfo"), &h.MemInfo},
		{render.HostCPUInfo, filepath.Join(procRoot, "cpuinfo"), &h.CPUInfo},
		{render.HostStat, filepath.Join(procRoot, "stat"), &h.Stat},
		{render.HostDiskStats, filepath.Join(procRoot, "diskstats"), &h.DiskStats},
		{render.HostSwaps, filepath.Join(procRoot, "swaps"), &h.Swaps},
	}
	for _, f := range files {
		if need&f.bit == 0 {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.path, err)
		}
		*f.dst = b
	}
	if need&render.HostOnline != 0 {
		p := filepath.Join(sysRoot, "devices/system/cpu/online")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if h.Online, err = ParseOnline(b); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return h, nil
}

// ParseOnline parses the kernel's CPU list format ("0-3,8\n") of
// /sys/devices/system/cpu/online; a machine always has a CPU online, so an empty list is an error.
func ParseOnline(b []byte) ([]int, error) {
	cpus, err := cgroup.ParseCPUList(string(b))
	if err != nil {
		return nil, err
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("no CPU online in %q", b)
	}
	return cpus, nil
}

// File returns the host's own copy of a view file (e.g. "proc/meminfo"): the answer for a
// reader we must not or cannot place in a container.
func File(procRoot, sysRoot, viewPath string) ([]byte, error) {
	var p string
	switch rel, ok := strings.CutPrefix(viewPath, "proc/"); {
	case ok:
		p = filepath.Join(procRoot, rel)
	default:
		rel, _ := strings.CutPrefix(viewPath, "sys/")
		p = filepath.Join(sysRoot, rel)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}
