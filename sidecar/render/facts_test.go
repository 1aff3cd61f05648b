package render

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procview/procview/sidecar/cgroup"
)

// checkFacts asserts what a rendered file must say whatever the golden holds, so a careless
// -update cannot bless a wrong answer. The fuzz target runs it on random snapshots too.
func checkFacts(t testing.TB, path string, in Input, got []byte) {
	t.Helper()
	n := len(VisibleCPUs(in))
	switch path {
	case "proc/meminfo":
		total, _ := meminfoKB(got, "MemTotal")
		hostTotal, _ := meminfoKB(in.Host.MemInfo, "MemTotal")
		free, _ := meminfoKB(got, "MemFree")
		avail, _ := meminfoKB(got, "MemAvailable")
		if total > hostTotal || total > in.Snap.Memory.Limit/1024 || free > total || avail > total || avail < free {
			t.Errorf("meminfo: total %d (host %d, limit %d B) free %d available %d", total, hostTotal, in.Snap.Memory.Limit, free, avail)
		}
		swap, _ := meminfoKB(got, "SwapTotal")
		swapFree, _ := meminfoKB(got, "SwapFree")
		hostSwap, _ := meminfoKB(in.Host.MemInfo, "SwapTotal")
		if swap > hostSwap || swapFree > swap || (!in.Snap.Memory.SwapAccounting && swap != 0) {
			t.Errorf("meminfo: SwapTotal %d SwapFree %d (host %d, accounting %v)", swap, swapFree, hostSwap, in.Snap.Memory.SwapAccounting)
		}
	case "proc/cpuinfo":
		if !cpuinfoKnown(in.Host.CPUInfo) {
			return
		}
		var nums []int
		for _, l := range strings.Split(string(got), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if k = strings.TrimSpace(k); ok && (k == "processor" || k == "cpu number") {
				x, _ := strconv.Atoi(strings.TrimSpace(v))
				nums = append(nums, x)
			}
		}
		for i, x := range nums {
			if x != i {
				t.Errorf("cpuinfo: processors numbered %v, want 0..%d", nums, n-1)
				break
			}
		}
		if len(nums) != n && bytes.Contains(in.Host.CPUInfo, []byte("processor\t:")) {
			t.Errorf("cpuinfo: %d processors, want %d", len(nums), n)
		}
	case "sys/devices/system/cpu/offline":
		if string(got) != "\n" {
			t.Errorf("offline = %q, want no CPU", got)
		}
	case "proc/slabinfo":
		if !strings.HasPrefix(string(got), slabinfoHeader) {
			t.Errorf("slabinfo starts %q, want the version 2.1 header", got[:min(len(got), 40)])
		}
		if in.Snap.Slabinfo == nil && string(got) != slabinfoHeader {
			t.Errorf("slabinfo without cgroup slab data = %q, want the header alone", got)
		}
	case "proc/stat":
		lines := strings.Split(string(got), "\n")
		if !strings.HasPrefix(lines[0], "cpu  ") {
			t.Errorf("stat starts %q", lines[0])
		}
		cpus := 0
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "cpu") {
				if !strings.HasPrefix(l, "cpu"+strconv.Itoa(cpus)+" ") {
					t.Errorf("stat: line %q, want cpu%d", l, cpus)
				}
				cpus++
			}
		}
		if cpus != n {
			t.Errorf("stat: %d cpuN lines, want %d", cpus, n)
		}
		// now − btime must be the container's uptime: btime = host boot + container start.
		hostBtime, _ := statValue(in.Host.Stat, "btime")
		if btime, ok := statValue(got, "btime"); ok && in.Snap.Start > 0 && in.Snap.Start <= in.Now && in.Now < 1<<50 {
			if want := hostBtime + uint64((in.Snap.Start+time.Second/2)/time.Second); btime != want {
				t.Errorf("stat: btime %d, want host btime %d + start %v = %d", btime, hostBtime, in.Snap.Start, want)
			}
		}
		tasks := in.Snap.Tasks
		if r, _ := statValue(got, "procs_running"); r != uint64(min(tasks.Running+1, max(tasks.Total, 1))) {
			t.Errorf("stat: procs_running %d, want the container's %d running + the reader", r, tasks.Running)
		}
		if b, _ := statValue(got, "procs_blocked"); b != uint64(tasks.Blocked) {
			t.Errorf("stat: procs_blocked %d, want the container's %d", b, tasks.Blocked)
		}
	case "proc/uptime":
		f := strings.Fields(string(got))
		up, err1 := strconv.ParseFloat(f[0], 64)
		idle, err2 := strconv.ParseFloat(f[1], 64)
		if len(f) != 2 || err1 != nil || err2 != nil || up < 0 || idle < 0 || idle > up*float64(n)+0.01 {
			t.Errorf("uptime %q with %d CPUs", got, n)
		}
		if in.Snap.Start > 0 && in.Snap.Start <= in.Now && in.Now-in.Snap.Start < 1<<50 {
			if want := (in.Now - in.Snap.Start).Seconds(); up > want+0.01 || up < want-0.01 {
				t.Errorf("uptime %v, want the container's age %.2f", up, want)
			}
		}
	case "proc/diskstats":
		// The host's devices, in its order and with its number of columns; the container's
		// counters on its devices, zeros on the others.
		hostLines := strings.Split(strings.TrimSpace(string(in.Host.DiskStats)), "\n")
		gotLines := strings.Split(strings.TrimSpace(string(got)), "\n")
		if len(gotLines) != len(hostLines) {
			t.Errorf("diskstats: %d devices, want the host's %d", len(gotLines), len(hostLines))
			return
		}
		for i, l := range gotLines {
			g, h := strings.Fields(l), strings.Fields(hostLines[i])
			if len(g) != len(h) || g[0] != h[0] || g[1] != h[1] || g[2] != h[2] {
				t.Errorf("diskstats: line %q, host has %q", l, hostLines[i])
				continue
			}
			var d cgroup.IODevice
			for _, c := range in.Snap.IO {
				if strconv.Itoa(int(c.Major)) == g[0] && strconv.Itoa(int(c.Minor)) == g[1] {
					d = c
				}
			}
			want := map[int]uint64{3: d.ReadIOs, 5: d.ReadBytes / 512, 7: d.WriteIOs, 9: d.WriteBytes / 512, 14: d.DiscardIOs, 16: d.DiscardBytes / 512}
			for col, w := range want {
				if col < len(g) {
					if v, _ := strconv.ParseUint(g[col], 10, 64); v != w {
						t.Errorf("diskstats: %s column %d = %d, want %d", g[2], col+1, v, w)
					}
				}
			}
		}
	case "proc/swaps":
		var sum uint64
		for _, l := range strings.Split(string(got), "\n")[1:] {
			if f := strings.Fields(l); len(f) >= 4 {
				size, _ := strconv.ParseUint(f[2], 10, 64)
				used, _ := strconv.ParseUint(f[3], 10, 64)
				if used > size {
					t.Errorf("swaps: line %q uses more than its size", l)
				}
				sum += size
			}
		}
		hostSwap, _ := meminfoKB(in.Host.MemInfo, "SwapTotal")
		if hostSwap == hostSwapsKB(in.Host.Swaps) {
			want, _ := swapValues(in.Snap.Memory, hostSwap)
			if sum != want {
				t.Errorf("swaps: sizes add up to %d kB, want the container's swap %d kB", sum, want)
			}
		}
	case "sys/devices/system/cpu/online", "sys/devices/system/cpu/possible", "sys/devices/system/cpu/present":
		want := "0\n"
		if n > 1 {
			want = "0-" + strconv.Itoa(n-1) + "\n"
		}
		if string(got) != want {
			t.Errorf("%s %q, want %q", path, got, want)
		}
	}
}

// statValue is the number after key in /proc/stat content b.
func statValue(b []byte, key string) (uint64, bool) {
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

func TestUptimeIdleNeverNegative(t *testing.T) {
	host := &Host{Online: []int{0, 1}, ClockTick: 100}
	// A busy container: more CPU time than its age on its one visible CPU.
	snap := &cgroup.Snapshot{CPU: cgroup.CPU{QuotaUS: 100000, PeriodUS: 100000, User: 50 * time.Second}, Start: 100 * time.Second}
	got, _ := renderUptime(nil, Input{Snap: snap, Host: host, Now: 110 * time.Second})
	if string(got) != "10.00 0.00\n" {
		t.Errorf("uptime %q, want 10.00 0.00", got)
	}
	snap.CPU.User = 4 * time.Second
	got, _ = renderUptime(nil, Input{Snap: snap, Host: host, Now: 110 * time.Second})
	if string(got) != "10.00 6.00\n" {
		t.Errorf("uptime %q, want 10.00 6.00", got)
	}
}

// Older kernels print fewer columns (11 before 4.18, 14 before 5.5): the view prints as many.
func TestDiskstatsKeepsTheHostsColumns(t *testing.T) {
	host := &Host{DiskStats: []byte("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14\n")}
	snap := &cgroup.Snapshot{IO: []cgroup.IODevice{{Major: 8, Minor: 1, ReadIOs: 5, DiscardIOs: 7}}}
	got, _ := renderDiskstats(nil, Input{Snap: snap, Host: host})
	want := "   8       0 sda 0 0 0 0 0 0 0 0 0 0 0\n   8       1 sda1 5 0 0 0 0 0 0 0 0 0 0 7 0 0\n"
	if string(got) != want {
		t.Errorf("diskstats:\n%s\nwant\n%s", got, want)
	}
}
