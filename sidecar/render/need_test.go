package render

import (
	"bytes"
	"testing"

	"github.com/procview/procview/sidecar/cgroup"
)

// mask keeps only the snapshot parts a reader fills for need (as sidecar/cgroup documents them).
func mask(s cgroup.Snapshot, need cgroup.Need) cgroup.Snapshot {
	out := cgroup.Snapshot{Version: s.Version, Path: s.Path}
	if need&cgroup.NeedMemory != 0 {
		out.Memory.Limit, out.Memory.Usage, out.Memory.Stat = s.Memory.Limit, s.Memory.Usage, s.Memory.Stat
	}
	if need&cgroup.NeedSwap != 0 {
		out.Memory.SwapAccounting, out.Memory.SwapLimit, out.Memory.SwapUsage = s.Memory.SwapAccounting, s.Memory.SwapLimit, s.Memory.SwapUsage
	}
	if need&cgroup.NeedCPULimit != 0 {
		out.CPU.QuotaUS, out.CPU.PeriodUS, out.CPU.Cpuset = s.CPU.QuotaUS, s.CPU.PeriodUS, s.CPU.Cpuset
	}
	if need&cgroup.NeedCPUUsage != 0 {
		out.CPU.User, out.CPU.System, out.CPU.PerCPU = s.CPU.User, s.CPU.System, s.CPU.PerCPU
	}
	if need&cgroup.NeedIO != 0 {
		out.IO = s.IO
	}
	if need&cgroup.NeedTasks != 0 {
		out.Tasks = s.Tasks
	}
	if need&cgroup.NeedStart != 0 {
		out.Start = s.Start
	}
	if need&cgroup.NeedSlab != 0 {
		out.Slabinfo = s.Slabinfo
	}
	return out
}

func maskHost(h Host, need HostNeed) *Host {
	out := Host{ClockTick: h.ClockTick}
	out.Merge(&h, need)
	return &out
}

// TestNeedsAreEnough renders every case with only the declared snapshot parts and host files:
// the output must be the golden one, so the server may read no more than a file declares.
func TestNeedsAreEnough(t *testing.T) {
	for _, c := range cases {
		host := loadHost(t, c.host, c.online)
		for _, f := range Files() {
			snap := mask(c.snap, f.Need)
			in := Input{Snap: &snap, Host: maskHost(*host, f.Host), Now: c.now, CPUView: c.view}
			if f.Load {
				in.Load = c.load
			}
			got, err := f.Render(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			full, _ := f.Render(nil, Input{Snap: &c.snap, Host: host, Now: c.now, CPUView: c.view, Load: c.load})
			if !bytes.Equal(got, full) {
				t.Errorf("%s/%s: output with only Need %b / Host %b differs from the full render:\n%s\nvs\n%s",
					c.name, f.Path, f.Need, f.Host, got, full)
			}
		}
	}
}

// And no more than needed: the bits the lead agreed on (brief: meminfo reads memory and swap
// and the host meminfo only).
func TestNeedsAreMinimal(t *testing.T) {
	want := map[string]struct {
		need cgroup.Need
		host HostNeed
	}{
		"proc/meminfo":                    {cgroup.NeedMemory | cgroup.NeedSwap, HostMemInfo},
		"proc/cpuinfo":                    {cgroup.NeedCPULimit, HostCPUInfo | HostOnline},
		"proc/stat":                       {cgroup.NeedCPULimit | cgroup.NeedCPUUsage | cgroup.NeedStart | cgroup.NeedTasks, HostStat | HostOnline},
		"proc/uptime":                     {cgroup.NeedCPULimit | cgroup.NeedCPUUsage | cgroup.NeedStart, HostOnline},
		"proc/loadavg":                    {cgroup.NeedTasks, 0},
		"proc/diskstats":                  {cgroup.NeedIO, HostDiskStats},
		"proc/swaps":                      {cgroup.NeedSwap, HostSwaps},
		"sys/devices/system/cpu/online":   {cgroup.NeedCPULimit, HostOnline},
		"sys/devices/system/cpu/possible": {cgroup.NeedCPULimit, HostOnline},
		"sys/devices/system/cpu/present":  {cgroup.NeedCPULimit, HostOnline},
		"sys/devices/system/cpu/offline":  {0, 0},
		"proc/slabinfo":                   {cgroup.NeedSlab, 0},
	}
	for _, f := range Files() {
		w := want[f.Path]
		if f.Need != w.need || f.Host != w.host {
			t.Errorf("%s: Need %b Host %b, want %b %b", f.Path, f.Need, f.Host, w.need, w.host)
		}
		if f.Load != (f.Path == "proc/loadavg") {
			t.Errorf("%s: Load %v", f.Path, f.Load)
		}
	}
}

// Every declared bit matters: dropping any one changes some case's output.
func TestEveryNeedBitMatters(t *testing.T) {
	render := func(f File, need cgroup.Need, hostNeed HostNeed) [][]byte {
		var out [][]byte
		for _, c := range cases {
			snap := mask(c.snap, need)
			b, _ := f.Render(nil, Input{Snap: &snap, Host: maskHost(*loadHost(t, c.host, c.online), hostNeed), Now: c.now, CPUView: c.view, Load: c.load})
			out = append(out, b)
		}
		return out
	}
	same := func(a, b [][]byte) bool {
		for i := range a {
			if !bytes.Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	for _, f := range Files() {
		full := render(f, f.Need, f.Host)
		for bit := cgroup.Need(1); bit <= cgroup.NeedAll; bit <<= 1 {
			if f.Need&bit != 0 && same(full, render(f, f.Need&^bit, f.Host)) {
				t.Errorf("%s: cgroup need bit %b changes no output", f.Path, bit)
			}
		}
		for bit := HostNeed(1); bit <= HostOnline; bit <<= 1 {
			if f.Host&bit != 0 && same(full, render(f, f.Need, f.Host&^bit)) {
				t.Errorf("%s: host need bit %b changes no output", f.Path, bit)
			}
		}
	}
}
