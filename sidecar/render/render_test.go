package render

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/procview/procview/internal/golden"
	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
)

const mib = 1 << 20

func loadHost(t testing.TB, dir string, online []int) *Host {
	t.Helper()
	h := &Host{Online: online, ClockTick: 100}
	for name, dst := range map[string]*[]byte{"meminfo": &h.MemInfo, "cpuinfo": &h.CPUInfo, "stat": &h.Stat, "diskstats": &h.DiskStats, "swaps": &h.Swaps} {
		// A host directory may hold only the files it is about (e.g. another architecture's
		// cpuinfo); the rest come from this machine's copy in host2.
		b, err := os.ReadFile(filepath.Join("testdata", dir, name))
		if os.IsNotExist(err) {
			b, err = os.ReadFile(filepath.Join("testdata", "host2", name))
		}
		if err != nil {
			t.Fatal(err)
		}
		*dst = b
	}
	return h
}

type renderCase struct {
	name    string
	host    string
	online  []int
	view    podview.CPUView
	snap    cgroup.Snapshot
	now     time.Duration
	load    Load
	visible int // CPUs the case must show
}

var cases = []renderCase{{
	name: "v1-busy-256m-half-cpu", host: "host2", online: []int{0, 1}, view: podview.CPUViewQuota, visible: 1,
	now: 10000 * time.Second, load: Load{One: 1.5, Five: 0.75, Fifteen: 0.25},
	snap: cgroup.Snapshot{
		Version: 1, Path: "/kubepods/pod1/ctr",
		Memory: cgroup.Memory{Limit: 256 * mib, Usage: 200 * mib, SwapAccounting: true, SwapLimit: 64 * mib, Stat: cgroup.MemoryStat{
			ActiveAnon: 140 * mib, InactiveAnon: 10 * mib, ActiveFile: 30 * mib, InactiveFile: 20 * mib,
			Anon: 150 * mib, File: 50 * mib, Shmem: 4096, Mapped: 8 * mib, Dirty: 12288,
		}},
		CPU: cgroup.CPU{QuotaUS: 50000, PeriodUS: 100000, Cpuset: []int{0, 1}, User: 70 * time.Second, System: 30 * time.Second,
			PerCPU: []cgroup.CPUTime{{CPU: 0, User: 50 * time.Second, System: 20 * time.Second}, {CPU: 1, User: 20 * time.Second, System: 10 * time.Second}}},
		IO:    []cgroup.IODevice{{Major: 254, Minor: 0, ReadBytes: 1 * mib, WriteBytes: 2 * mib, ReadIOs: 100, WriteIOs: 200, ReadMerged: 3, ReadTime: 40 * time.Millisecond, InFlight: 1}, {Major: 9, Minor: 9}},
		Tasks: cgroup.Tasks{Total: 12, Running: 2, Blocked: 1, LastPID: 4242},
		Start: 9000 * time.Second,
		Slabinfo: []byte(slabinfoHeader +
			"dentry               420    420    192   21    1 : tunables    0    0    0 : slabdata     20     20      0\n"),
	},
}, {
	name: "v2-unlimited-no-swap-accounting", host: "host2", online: []int{0, 1}, view: podview.CPUViewQuota, visible: 2,
	now: 500 * time.Second,
	snap: cgroup.Snapshot{
		Version: 2, Path: "/kubepods/pod2/ctr",
		Memory: cgroup.Memory{Limit: cgroup.Unlimited, Usage: 10 * mib, Stat: cgroup.MemoryStat{Anon: 4 * mib, File: 6 * mib, InactiveFile: 6 * mib,
			SlabReclaimable: mib, SlabUnreclaimable: mib / 2, KernelStack: 64 * 1024, PageTables: 128 * 1024}},
		CPU:   cgroup.CPU{QuotaUS: -1, PeriodUS: 100000, User: 3 * time.Second, System: time.Second},
		Tasks: cgroup.Tasks{Total: 1, LastPID: 7},
		Start: 400 * time.Second,
	},
}, {
	name: "v2-cpuset-narrower-than-quota-with-swap", host: "host4swap", online: []int{0, 1, 2, 3}, view: podview.CPUViewQuota, visible: 1,
	now: 1000 * time.Second,
	snap: cgroup.Snapshot{
		Version: 2, Path: "/kubepods/pod3/ctr",
		Memory: cgroup.Memory{Limit: 512 * mib, Usage: 100 * mib, SwapAccounting: true, SwapLimit: 64 * mib, SwapUsage: 16 * mib,
			Stat: cgroup.MemoryStat{Anon: 90 * mib, File: 10 * mib, ActiveAnon: 90 * mib, ActiveFile: 10 * mib}},
		CPU:   cgroup.CPU{QuotaUS: 400000, PeriodUS: 100000, Cpuset: []int{2}, User: 100 * time.Second, System: 50 * time.Second},
		IO:    []cgroup.IODevice{{Major: 254, Minor: 0, ReadBytes: 4096, ReadIOs: 1, DiscardIOs: 2, DiscardBytes: 8192}},
		Tasks: cgroup.Tasks{Total: 3, Running: 3, LastPID: 99},
		Start: 100 * time.Second,
	},
}, {
	name: "v2-cpuset-view-ignores-quota", host: "host4swap", online: []int{0, 1, 2, 3}, view: podview.CPUViewCpuset, visible: 3,
	now: 1000 * time.Second,
	snap: cgroup.Snapshot{
		Version: 2, Path: "/kubepods/pod4/ctr",
		Memory: cgroup.Memory{Limit: 1 << 40, Usage: 1 << 41, SwapAccounting: true, SwapLimit: cgroup.Unlimited}, // usage above a limit capped at host RAM
		CPU:    cgroup.CPU{QuotaUS: 50000, PeriodUS: 100000, Cpuset: []int{1, 2, 3}, User: 9 * time.Second},
		Start:  999 * time.Second,
	},
}, {
	name: "idle-just-started-unknown-start", host: "host2", online: []int{0, 1}, view: podview.CPUViewQuota, visible: 1,
	now: 50 * time.Second,
	snap: cgroup.Snapshot{
		Version: 2, Path: "/kubepods/pod5/ctr",
		Memory: cgroup.Memory{Limit: 64 * mib},
		CPU:    cgroup.CPU{QuotaUS: 1000, PeriodUS: 100000, Cpuset: []int{1}},
	},
}, {
	name: "v1-nested-limit-missing-percpu", host: "host2", online: []int{0, 1}, view: podview.CPUViewQuota, visible: 2,
	now: 2000 * time.Second,
	snap: cgroup.Snapshot{
		// The reader folded a parent's 128 MiB under the container's own 1 GiB; v1 with no cpuacct.usage_all.
		Version: 1, Path: "/kubepods/burstable/pod6/ctr",
		Memory: cgroup.Memory{Limit: 128 * mib, Usage: 127 * mib, SwapAccounting: true, SwapLimit: 0,
			Stat: cgroup.MemoryStat{ActiveAnon: 100 * mib, InactiveFile: 20 * mib, Anon: 100 * mib, File: 27 * mib}},
		CPU:   cgroup.CPU{QuotaUS: 150000, PeriodUS: 100000, User: 1000 * time.Second, System: 500 * time.Second},
		Tasks: cgroup.Tasks{Total: 40, Running: 1, Blocked: 3, LastPID: 31337},
		Start: 1000 * time.Second,
	},
}, {
	name: "v1-percpu-on-hidden-cpu", host: "host2", online: []int{0, 1}, view: podview.CPUViewQuota, visible: 1,
	now: 300 * time.Second,
	snap: cgroup.Snapshot{
		Version: 1, Path: "/ctr",
		Memory: cgroup.Memory{Limit: 256 * mib, Usage: 16 * mib},
		CPU: cgroup.CPU{QuotaUS: 50000, PeriodUS: 100000, Cpuset: []int{0, 1}, User: 20 * time.Second, System: 10 * time.Second,
			PerCPU: []cgroup.CPUTime{{CPU: 0, User: 10 * time.Second, System: 5 * time.Second}, {CPU: 1, User: 10 * time.Second, System: 5 * time.Second}}},
		Start: 100 * time.Second,
	},
}, {
	name: "arm64-cpuset-1-3", host: "arm64", online: []int{0, 1, 2, 3}, view: podview.CPUViewQuota, visible: 2,
	now:  100 * time.Second,
	snap: cgroup.Snapshot{Version: 2, Memory: cgroup.Memory{Limit: cgroup.Unlimited}, CPU: cgroup.CPU{QuotaUS: -1, PeriodUS: 100000, Cpuset: []int{1, 3}}},
}, {
	name: "arm32-quota-3", host: "arm32", online: []int{0, 1, 2, 3}, view: podview.CPUViewQuota, visible: 3,
	now:  100 * time.Second,
	snap: cgroup.Snapshot{Version: 2, Memory: cgroup.Memory{Limit: cgroup.Unlimited}, CPU: cgroup.CPU{QuotaUS: 250000, PeriodUS: 100000}},
}, {
	name: "s390x-cpuset-1-3-quota-2", host: "s390x", online: []int{0, 1, 2, 3}, view: podview.CPUViewQuota, visible: 2,
	now:  100 * time.Second,
	snap: cgroup.Snapshot{Version: 2, Memory: cgroup.Memory{Limit: cgroup.Unlimited}, CPU: cgroup.CPU{QuotaUS: 200000, PeriodUS: 100000, Cpuset: []int{1, 2, 3}}},
}, {
	name: "unknown-cpuinfo-quota-2", host: "unknown", online: []int{0, 1, 2, 3}, view: podview.CPUViewQuota, visible: 2,
	now:  100 * time.Second,
	snap: cgroup.Snapshot{Version: 2, Memory: cgroup.Memory{Limit: cgroup.Unlimited}, CPU: cgroup.CPU{QuotaUS: 200000, PeriodUS: 100000}},
}, {
	name: "v2-swap-over-two-devices", host: "swap2", online: []int{0, 1, 2, 3}, view: podview.CPUViewQuota, visible: 4,
	now: 100 * time.Second,
	snap: cgroup.Snapshot{
		Version: 2, Path: "/ctr",
		Memory: cgroup.Memory{Limit: 2048 * mib, Usage: 1024 * mib, SwapAccounting: true, SwapLimit: 1024 * mib, SwapUsage: 256 * mib},
		CPU:    cgroup.CPU{QuotaUS: -1, PeriodUS: 100000},
		Start:  90 * time.Second,
	},
}}

func TestGolden(t *testing.T) {
	used := map[string]bool{}
	for _, c := range cases {
		in := Input{Snap: &c.snap, Host: loadHost(t, c.host, c.online), Now: c.now, CPUView: c.view, Load: c.load}
		if got := len(VisibleCPUs(in)); got != c.visible {
			t.Errorf("%s: %d visible CPUs, want %d", c.name, got, c.visible)
		}
		for _, f := range Files() {
			path := filepath.Join("testdata", "golden", c.name, strings.ReplaceAll(f.Path, "/", "_"))
			used[path] = true
			t.Run(c.name+"/"+f.Path, func(t *testing.T) {
				got, err := f.Render(nil, in)
				if err != nil {
					t.Fatal(err)
				}
				checkFacts(t, f.Path, in, got)
				golden.Compare(t, path, got)
			})
		}
	}
	golden.NoStale(t, filepath.Join("testdata", "golden"), used)
}

func TestRegistryFollowsPodview(t *testing.T) {
	var paths []string
	for _, f := range Files() {
		if got, ok := Lookup(f.Path); !ok || got.Path != f.Path {
			t.Errorf("Lookup(%q) = %v, %v", f.Path, got.Path, ok)
		}
		paths = append(paths, f.Path)
	}
	want := podview.Rendered()
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("render.Files() and podview.Rendered() differ (-podview +render):\n%s", diff)
	}
	if _, ok := Lookup("proc/self"); ok {
		t.Error("Lookup found a file that is not served")
	}
}

// Facts the goldens must show, checked by meaning so a wrong -update cannot hide them.
func TestMeminfoFacts(t *testing.T) {
	c := cases[0]
	got, _ := renderMeminfo(nil, Input{Snap: &c.snap, Host: loadHost(t, c.host, c.online)})
	for key, want := range map[string]uint64{"MemTotal": 262144, "MemFree": 56 * 1024, "MemAvailable": 106 * 1024, "SwapTotal": 0, "Cached": 50 * 1024} {
		if v, ok := meminfoKB(got, key); !ok || v != want {
			t.Errorf("%s = %d kB (found %v), want %d", key, v, ok, want)
		}
	}
	host := loadHost(t, "host4swap", nil)
	c = cases[3]
	got, _ = renderMeminfo(nil, Input{Snap: &c.snap, Host: host})
	hostTotal, _ := meminfoKB(host.MemInfo, "MemTotal")
	if v, _ := meminfoKB(got, "MemTotal"); v != hostTotal {
		t.Errorf("MemTotal %d, want the host's %d when the limit is larger", v, hostTotal)
	}
	if v, _ := meminfoKB(got, "MemFree"); v != 0 {
		t.Errorf("MemFree %d, want 0 when usage exceeds the total", v)
	}
	if v, _ := meminfoKB(got, "SwapTotal"); v != 2097148 {
		t.Errorf("SwapTotal %d, want the host's 2097148 with an unlimited swap limit", v)
	}
}

func TestVisibleCPUs(t *testing.T) {
	host := &Host{Online: []int{0, 1, 2, 3, 4, 5, 6, 7}}
	tests := []struct {
		quota  int64
		cpuset []int
		view   podview.CPUView
		want   []int
	}{
		{50000, nil, podview.CPUViewQuota, []int{0}},
		{150000, nil, podview.CPUViewQuota, []int{0, 1}},
		{200000, nil, podview.CPUViewQuota, []int{0, 1}},
		{-1, nil, podview.CPUViewQuota, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{800000, []int{4, 6}, podview.CPUViewQuota, []int{4, 6}},
		{100000, []int{4, 6}, podview.CPUViewQuota, []int{4}},
		{100000, []int{4, 6}, podview.CPUViewCpuset, []int{4, 6}},
		{1, []int{3}, podview.CPUViewQuota, []int{3}},
		{-1, []int{6, 7, 8, 9}, podview.CPUViewQuota, []int{6, 7}},                // 8 and 9 are not online
		{-1, []int{12, 13}, podview.CPUViewCpuset, []int{0, 1, 2, 3, 4, 5, 6, 7}}, // none online: the host's
	}
	for _, tt := range tests {
		snap := &cgroup.Snapshot{CPU: cgroup.CPU{QuotaUS: tt.quota, PeriodUS: 100000, Cpuset: tt.cpuset}}
		got := VisibleCPUs(Input{Snap: snap, Host: host, CPUView: tt.view})
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("quota %d cpuset %v view %s (-want +got):\n%s", tt.quota, tt.cpuset, tt.view, diff)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	c := cases[0]
	in := Input{Snap: &c.snap, Host: loadHost(b, c.host, c.online), Now: c.now, CPUView: c.view, Load: c.load}
	for _, f := range Files() {
		b.Run(strings.ReplaceAll(f.Path, "/", "_"), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 64<<10)
			for b.Loop() {
				var err error
				if buf, err = f.Render(buf[:0], in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderBigHost renders for a 4-CPU container on a 128-CPU host (cpuinfo, stat and
// online scan the host's CPUs).
func BenchmarkRenderBigHost(b *testing.B) {
	c := cases[0]
	host := loadHost(b, c.host, nil)
	block, _ := nextBlock(host.CPUInfo)
	var cpuinfo, stat []byte
	stat = append(stat, "cpu  1 2 3 4 5 6 7 8 9 10\n"...)
	for i := range 128 {
		host.Online = append(host.Online, i)
		_, rest := nextLine(block)
		cpuinfo = append(cpuinfo, "processor\t: "+strconv.Itoa(i)+"\n"...)
		cpuinfo = append(append(cpuinfo, rest...), "\n\n"...)
		stat = append(stat, "cpu"+strconv.Itoa(i)+" 1 2 3 4 5 6 7 8 9 10\n"...)
	}
	host.CPUInfo, host.Stat = cpuinfo, append(stat, "ctxt 1\nbtime 2\n"...)
	snap := c.snap
	snap.CPU.Cpuset = host.Online[64:96]
	snap.CPU.QuotaUS = 400000
	in := Input{Snap: &snap, Host: host, Now: c.now, CPUView: c.view}
	for _, path := range []string{"proc/cpuinfo", "proc/stat", "sys/devices/system/cpu/online"} {
		f, _ := Lookup(path)
		b.Run(strings.ReplaceAll(path, "/", "_"), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 64<<10)
			for b.Loop() {
				var err error
				if buf, err = f.Render(buf[:0], in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
