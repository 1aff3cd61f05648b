package cgroup

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	cgroups "github.com/containerd/cgroups/v3"
	"github.com/google/go-cmp/cmp"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"", nil, false},
		{"0\n", []int{0}, false},
		{"0-3,7", []int{0, 1, 2, 3, 7}, false},
		{"7,0-1,1", []int{0, 1, 7}, false},
		{"3-1", nil, true},
		{"a", nil, true},
		{"-1", nil, true},
		{"0-99999999", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseCPUList(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseCPUList(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseCPUList(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseCPUMax(t *testing.T) {
	tests := []struct {
		in      string
		quota   int64
		period  uint64
		wantErr bool
	}{
		{"max 100000\n", -1, 100000, false},
		{"50000 100000", 50000, 100000, false},
		{"max", -1, 100000, false},
		{"50000 0", 0, 0, true},
		{"", 0, 0, true},
		{"x 100000", 0, 0, true},
	}
	for _, tt := range tests {
		q, p, err := parseCPUMax([]byte(tt.in))
		if (err != nil) != tt.wantErr || (err == nil && (q != tt.quota || p != tt.period)) {
			t.Errorf("parseCPUMax(%q) = %d, %d, %v", tt.in, q, p, err)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]uint64{"max\n": Unlimited, "268435456\n": 268435456, "9223372036854771712": Unlimited, "-1": Unlimited} {
		if got, err := parseLimit([]byte(in)); err != nil || got != want {
			t.Errorf("parseLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseLimit([]byte("lots")); err == nil {
		t.Error("parseLimit(lots): no error")
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	b := []byte("42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 777 0 0\n")
	got, err := parseProcStat(b)
	if err != nil || got.State != 'R' || got.StartTime != 777 {
		t.Fatalf("parseProcStat = %+v, %v", got, err)
	}
	if _, err := parseProcStat([]byte("42 (x) R 1")); err == nil {
		t.Error("short stat: no error")
	}
}

// The fuzz targets check that no parser panics or loops on any input, and that results
// keep their invariants (sorted CPUs and devices).

func FuzzParseCPUList(f *testing.F) {
	for _, s := range []string{"0-3,7", "", "1", "0-0", "2-1", "1,,2", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUList(s)
		if err != nil {
			return
		}
		for i := 1; i < len(cpus); i++ {
			if cpus[i] <= cpus[i-1] {
				t.Fatalf("ParseCPUList(%q) not strictly sorted: %v", s, cpus)
			}
		}
	})
}

func FuzzParseFlatKeyed(f *testing.F) {
	f.Add([]byte("anon 1\nfile 2\nhierarchical_memory_limit 9223372036854771712\n"))
	f.Add([]byte("user_usec 5\nsystem_usec\n x y z\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m MemoryStat
		parseFlatKeyed(b, func(k string, v uint64) { setMemStat(memStatV2, &m, k, v); setMemStat(memStatV1, &m, k, v) })
	})
}

func FuzzParseIOStat(f *testing.F) {
	f.Add([]byte("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n253:1 rbytes=x\n"))
	f.Add([]byte("8:0 Read 1\n8:0 Write 2\nTotal 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		devs := parseIOStatV2(b)
		for i := 1; i < len(devs); i++ {
			if devs[i].Major < devs[i-1].Major {
				t.Fatalf("unsorted devices: %+v", devs)
			}
		}
		parseBlkioV1(b, func(maj, min uint32, op string, v uint64) {})
		parseUsageAll(b)
	})
}

func FuzzParseSmallFiles(f *testing.F) {
	f.Add([]byte("max 100000"))
	f.Add([]byte("9223372036854771712\n"))
	f.Add([]byte("1 (sh) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseCPUMax(b)
		parseLimit(b)
		parseUint(b)
		parseInt(b)
		parseProcStat(b)
		parsePIDs(b)
	})
}

func FuzzParseProcCgroup(f *testing.F) {
	f.Add([]byte("4:memory:/process_api/x\n2:cpu,cpuacct:/a\n0::/\n"))
	f.Add([]byte("0::/kubepods/pod1/ctr\n"))
	f.Add([]byte("garbage"))
	f.Add([]byte("12:name=systemd:/x:y\r\n1:a,,b:/p\n"))
	f.Add([]byte("1:cpu:/a\n\n0::/\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Ours must agree with containerd's, which it replaced (whose scanner gives up on
		// lines over 64 KiB; ours does not).
		v1, unified, err := parseProcCgroup(b)
		if len(b) >= 64<<10 {
			return
		}
		wantV1, wantUnified, wantErr := cgroups.ParseCgroupFromReaderUnified(bytes.NewReader(b))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("parseProcCgroup(%q) error %v, containerd's %v", b, err, wantErr)
		}
		if err != nil {
			return
		}
		if unified != wantUnified {
			t.Errorf("unified %q, containerd's %q", unified, wantUnified)
		}
		if diff := cmp.Diff(wantV1, v1); diff != "" {
			t.Errorf("v1 paths differ from containerd's (-containerd +ours):\n%s", diff)
		}
	})
}

// FuzzReadTree puts fuzzed bytes into every file a full Read opens, v1 and v2, so no
// combination of odd files (not just each parser alone) can panic the reader.
func FuzzReadTree(f *testing.F) {
	f.Add([]byte("max"), []byte("50000 100000"), []byte("0-3"), []byte("anon 1\nhierarchical_memory_limit 9\n"))
	f.Add([]byte("-1"), []byte(""), []byte("3-1"), []byte("8:0 rbytes=1\n8:0 Read 5\n"))
	f.Fuzz(func(t *testing.T, limit, cpu, cpus, stat []byte) {
		dir := t.TempDir()
		write := func(p string, b []byte) {
			full := filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		procStat := []byte("5 (x) R 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ")
		procStat = append(append(procStat, stat...), '\n')
		write("p/5/cgroup", []byte("4:memory:/c\n3:cpuset:/c\n2:cpu,cpuacct:/c\n1:blkio:/c\n0::/c\n"))
		write("p/5/stat", procStat)
		write("p/5/task/5/stat", procStat)
		for _, name := range []string{"memory.max", "memory.current", "memory.swap.current", "memory.swap.max"} {
			write("v2/c/"+name, limit)
		}
		write("v2/cgroup.controllers", []byte("cpu memory"))
		write("v2/c/cpu.max", cpu)
		write("v2/c/cpuset.cpus.effective", cpus)
		write("v2/c/memory.stat", stat)
		write("v2/c/cpu.stat", stat)
		write("v2/c/io.stat", stat)
		write("v2/c/cgroup.procs", stat)
		for _, name := range []string{"memory.usage_in_bytes", "memory.memsw.usage_in_bytes", "memory.limit_in_bytes"} {
			write("v1/memory/c/"+name, limit)
		}
		write("v1/memory/c/memory.stat", stat)
		write("v1/memory/c/cgroup.procs", []byte("5\n"))
		write("v1/cpu,cpuacct/c/cpu.cfs_quota_us", cpu)
		write("v1/cpu,cpuacct/c/cpu.cfs_period_us", limit)
		write("v1/cpu,cpuacct/c/cpuacct.stat", stat)
		write("v1/cpu,cpuacct/c/cpuacct.usage_all", stat)
		write("v1/cpuset/c/cpuset.effective_cpus", cpus)
		for _, name := range []string{"blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced", "blkio.io_queued_recursive"} {
			write("v1/blkio/c/"+name, stat)
		}
		for _, root := range []string{"v1", "v2"} {
			r, err := New(Options{Root: filepath.Join(dir, root), ProcRoot: filepath.Join(dir, "p")})
			if err != nil {
				t.Fatal(err)
			}
			s, err := r.Read(5, NeedAll)
			r.Close() // one reader per input: its kept-open files must not pile up
			if err != nil {
				continue
			}
			for i := 1; i < len(s.CPU.Cpuset); i++ {
				if s.CPU.Cpuset[i] <= s.CPU.Cpuset[i-1] {
					t.Fatalf("%s: cpuset not strictly sorted: %v", root, s.CPU.Cpuset)
				}
			}
		}
	})
}
