package render

import (
	"fmt"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
)

// renderers says how each rendered view file renders, keyed by its path; podview.Rendered is
// the list (the view's files and those its directories hold).
var renderers = map[string]File{
	podview.Meminfo:   {Need: cgroup.NeedMemory | cgroup.NeedSwap, Host: HostMemInfo, Render: renderMeminfo},
	podview.Cpuinfo:   {Need: cgroup.NeedCPULimit, Host: HostCPUInfo | HostOnline, Render: renderCpuinfo},
	podview.Stat:      {Need: cgroup.NeedCPULimit | cgroup.NeedCPUUsage | cgroup.NeedStart | cgroup.NeedTasks, Host: HostStat | HostOnline, Render: renderStat},
	podview.Uptime:    {Need: cgroup.NeedCPULimit | cgroup.NeedCPUUsage | cgroup.NeedStart, Host: HostOnline, Render: renderUptime},
	podview.Loadavg:   {Need: cgroup.NeedTasks, Load: true, Render: renderLoadavg},
	podview.Diskstats: {Need: cgroup.NeedIO, Host: HostDiskStats, Render: renderDiskstats},
	podview.Swaps:     {Need: cgroup.NeedSwap, Host: HostSwaps, Render: renderSwaps},
	podview.Online:    {Need: cgroup.NeedCPULimit, Host: HostOnline, Render: renderOnline},
	podview.Slabinfo:  {Need: cgroup.NeedSlab, Render: renderSlabinfo, Private: true},
	podview.Possible:  {Need: cgroup.NeedCPULimit, Host: HostOnline, Render: renderOnline},
	podview.Present:   {Need: cgroup.NeedCPULimit, Host: HostOnline, Render: renderOnline},
	podview.Offline:   {Render: renderOffline},
}

// files is every rendered file with its renderer, in podview.Rendered order.
var files = registry()

func registry() []File {
	var fs []File
	for _, p := range podview.Rendered() {
		f, ok := renderers[p]
		if !ok {
			panic(fmt.Sprintf("render: view file %s has no renderer", p))
		}
		f.Path = p
		fs = append(fs, f)
	}
	if len(fs) != len(renderers) {
		panic(fmt.Sprintf("render: %d renderers for %d view files", len(renderers), len(fs)))
	}
	return fs
}

// Files returns every virtual file. The slice is shared: do not modify it.
func Files() []File { return files }

// Lookup finds a file by its path relative to the mount point.
func Lookup(path string) (File, bool) {
	for _, f := range files {
		if f.Path == path {
			return f, true
		}
	}
	return File{}, false
}
