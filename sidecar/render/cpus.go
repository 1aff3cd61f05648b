package render

import (
	"strconv"

	"github.com/procview/procview/internal/podview"
)

// VisibleCPUs returns the host CPU numbers the container sees, ascending.
// quota view: the first ceil(quota/period) CPUs of the cpuset (the whole cpuset without a quota);
// cpuset view: the cpuset. An empty cpuset means every online host CPU; CPUs of the cpuset
// that are not online (a v1 cpuset.cpus may name them) are left out.
func VisibleCPUs(in Input) []int {
	set := in.Host.Online
	if in.Snap != nil && len(in.Snap.CPU.Cpuset) > 0 {
		set = onlineOnly(in.Snap.CPU.Cpuset, in.Host.Online)
	}
	if len(set) == 0 {
		set = []int{0}
	}
	if in.CPUView == podview.CPUViewCpuset || in.Snap == nil {
		return set
	}
	c := in.Snap.CPU
	if c.QuotaUS <= 0 || c.PeriodUS == 0 {
		return set
	}
	n := int((uint64(c.QuotaUS) + c.PeriodUS - 1) / c.PeriodUS)
	return set[:max(1, min(n, len(set)))]
}

// appendCPUList appends the kernel's list format for CPUs 0..n-1: "0", "0-3".
func appendCPUList(dst []byte, n int) []byte {
	dst = append(dst, '0')
	if n > 1 {
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return append(dst, '\n')
}

func renderOnline(dst []byte, in Input) ([]byte, error) {
	return appendCPUList(dst, len(VisibleCPUs(in))), nil
}

// onlineOnly returns the CPUs of set that are online, or online when none is. It allocates only
// when set names an offline CPU, which the kernel's effective cpusets never do.
func onlineOnly(set, online []int) []int {
	if len(online) == 0 {
		return set
	}
	all := true
	for _, c := range set {
		if !contains(online, c) {
			all = false
			break
		}
	}
	if all {
		return set
	}
	var out []int
	for _, c := range set {
		if contains(online, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return online
	}
	return out
}
