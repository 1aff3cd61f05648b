package render

import (
	"testing"
	"time"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
)

// FuzzRender renders every file for random snapshots over real host files: a renderer must
// never fail or panic on valid host input, and what it shows must stay coherent (checkFacts).
func FuzzRender(f *testing.F) {
	f.Add(uint64(256*mib), uint64(100*mib), uint64(64*mib), uint64(mib), true, int64(50000), uint64(100000), "0-1", int64(10e9), int64(5e9), int64(100e9), int64(3e9), uint8(0), false)
	f.Add(uint64(cgroup.Unlimited), uint64(1<<63), uint64(cgroup.Unlimited), uint64(1<<62), false, int64(-1), uint64(0), "", int64(0), int64(0), int64(0), int64(0), uint8(2), true)
	f.Add(uint64(0), uint64(0), uint64(0), uint64(0), true, int64(1), uint64(1), "3", int64(1), int64(1), int64(1), int64(1), uint8(5), false)
	hosts := []string{"host2", "host4swap", "swap2", "arm64", "arm32", "s390x", "unknown"}
	loaded := map[string]*Host{}
	for _, h := range hosts {
		online := []int{0, 1, 2, 3}
		if h == "host2" {
			online = []int{0, 1} // this machine
		}
		loaded[h] = loadHost(f, h, online)
	}
	f.Fuzz(func(t *testing.T, limit, usage, swapLimit, swapUsage uint64, swapAcct bool, quota int64, period uint64, cpuset string,
		user, system, now, start int64, hostIdx uint8, cpusetView bool) {
		cpus, err := cgroup.ParseCPUList(cpuset)
		if err != nil || len(cpus) > 64 {
			return
		}
		// Times within a few hundred years: no clock the kernel keeps goes further.
		d := func(v int64) time.Duration { return time.Duration(max(0, v) % (1 << 62 / 64)) }
		snap := &cgroup.Snapshot{
			Memory: cgroup.Memory{Limit: limit, Usage: usage, SwapAccounting: swapAcct, SwapLimit: swapLimit, SwapUsage: swapUsage,
				Stat: cgroup.MemoryStat{ActiveFile: usage / 3, InactiveFile: usage / 5, SlabReclaimable: limit / 7, File: usage / 2}},
			CPU: cgroup.CPU{QuotaUS: quota, PeriodUS: period, Cpuset: cpus, User: d(user), System: d(system),
				PerCPU: []cgroup.CPUTime{{CPU: 1, User: d(user) / 2, System: d(system) / 3}}},
			IO:    []cgroup.IODevice{{Major: 254, Minor: 0, ReadBytes: usage, WriteIOs: limit}, {Major: 7, Minor: 0}},
			Tasks: cgroup.Tasks{Total: int(quota % 1000), Running: int(period % 100), LastPID: int(user % (1 << 22))},
			Start: d(start),
		}
		view := podview.CPUViewQuota
		if cpusetView {
			view = podview.CPUViewCpuset
		}
		in := Input{Snap: snap, Host: loaded[hosts[int(hostIdx)%len(hosts)]], Now: d(now), CPUView: view, Load: Load{One: float64(user), Five: float64(system)}}
		for _, f := range Files() {
			got, err := f.Render(nil, in)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			checkFacts(t, f.Path, in, got)
		}
	})
}

// The host-file parsers get arbitrary bytes: they may produce nonsense but must not panic
// or fail, and VisibleCPUs must stay within the host's CPUs.
func fuzzHostFile(f *testing.F, path string, set func(h *Host, b []byte)) {
	f.Add([]byte("MemTotal: 100 kB\nSwapTotal: 5 kB\nweird line\n:\n"), "0-1")
	f.Add([]byte("processor : x\n\n\nprocessor\t: 1\nprocessor 3: y\n# processors : \n\n"), "1")
	f.Add([]byte("cpu  1 2 3\ncpu0 1\nintr 5\n\n"), "")
	f.Add([]byte("   8       0 sda 1 2 3\n 254 0 vda\n7 0\n"), "0,2")
	f.Add([]byte("Filename Type Size Used Priority\n/dev/x partition 18446744073709551615 0 1\n/y file 5 9 -2\n"), "0-3")
	f.Fuzz(func(t *testing.T, b []byte, online string) {
		cpus, err := cgroup.ParseCPUList(online)
		if err != nil || len(cpus) > 64 {
			return
		}
		h := &Host{Online: cpus, ClockTick: 100}
		set(h, b)
		snap := &cgroup.Snapshot{
			Memory: cgroup.Memory{Limit: 1 << 30, Usage: 1 << 29, SwapAccounting: true, SwapLimit: 1 << 28, SwapUsage: 1 << 20},
			CPU:    cgroup.CPU{QuotaUS: 200000, PeriodUS: 100000, User: time.Second, PerCPU: []cgroup.CPUTime{{CPU: 0, User: time.Second}}},
			IO:     []cgroup.IODevice{{Major: 8, Minor: 0}, {Major: 254, Minor: 0}},
			Start:  time.Second,
		}
		file, _ := Lookup(path)
		if _, err := file.Render(nil, Input{Snap: snap, Host: h, Now: time.Minute}); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	})
}

func FuzzHostMeminfo(f *testing.F) {
	fuzzHostFile(f, "proc/meminfo", func(h *Host, b []byte) { h.MemInfo = b })
}
func FuzzHostCpuinfo(f *testing.F) {
	fuzzHostFile(f, "proc/cpuinfo", func(h *Host, b []byte) { h.CPUInfo = b })
}
func FuzzHostStat(f *testing.F) { fuzzHostFile(f, "proc/stat", func(h *Host, b []byte) { h.Stat = b }) }
func FuzzHostDiskstats(f *testing.F) {
	fuzzHostFile(f, "proc/diskstats", func(h *Host, b []byte) { h.DiskStats = b })
}
func FuzzHostSwaps(f *testing.F) {
	fuzzHostFile(f, "proc/swaps", func(h *Host, b []byte) { h.Swaps = b })
}
