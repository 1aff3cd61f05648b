package render

import "github.com/procview/procview/sidecar/cgroup"

// files is the one list of virtual files, in config.ViewFiles order (a directory there stands
// for the files under it).
var files = []File{
	{Path: "proc/meminfo", Need: cgroup.NeedMemory | cgroup.NeedSwap, Host: HostMemInfo, Render: renderMeminfo},
	{Path: "proc/cpuinfo", Need: cgroup.NeedCPULimit, Host: HostCPUInfo | HostOnline, Render: renderCpuinfo},
	{Path: "proc/stat", Need: cgroup.NeedCPULimit | cgroup.NeedCPUUsage | cgroup.NeedStart | cgroup.NeedTasks, Host: HostStat | HostOnline, Render: renderStat},
	{Path: "proc/uptime", Need: cgroup.NeedCPULimit | cgroup.NeedCPUUsage | cgroup.NeedStart, Host: HostOnline, Render: renderUptime},
	{Path: "proc/loadavg", Need: cgroup.NeedTasks, Load: true, Render: renderLoadavg},
	{Path: "proc/diskstats", Need: cgroup.NeedIO, Host: HostDiskStats, Render: renderDiskstats},
	{Path: "proc/swaps", Need: cgroup.NeedSwap, Host: HostSwaps, Render: renderSwaps},
	{Path: "sys/devices/system/cpu/online", Need: cgroup.NeedCPULimit, Host: HostOnline, Render: renderOnline},
	{Path: "proc/slabinfo", Need: cgroup.NeedSlab, Render: renderSlabinfo, Private: true},
	// With online, the files of config.ViewFiles' sys/devices/system/cpu directory.
	{Path: "sys/devices/system/cpu/possible", Need: cgroup.NeedCPULimit, Host: HostOnline, Render: renderOnline},
	{Path: "sys/devices/system/cpu/present", Need: cgroup.NeedCPULimit, Host: HostOnline, Render: renderOnline},
	{Path: "sys/devices/system/cpu/offline", Render: renderOffline},
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
