package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func fixture(t *testing.T, tree, scope string) *FS {
	t.Helper()
	r, err := New(Options{Root: filepath.Join("testdata", tree, "cgroup"), ProcRoot: filepath.Join("testdata", tree, "proc"), Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReadFixtures(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		tree    string
		pid     int
		need    Need
		want    *Snapshot
		wantErr string
	}{{
		name: "v2 busy container", tree: "v2", pid: 101, need: NeedAll,
		want: &Snapshot{
			Version: 2, Path: "/kubepods/podA/busy",
			Memory: Memory{
				Limit: 256 * mib, Usage: 209715200,
				Stat: MemoryStat{
					ActiveAnon: 140000000, InactiveAnon: 10000000, ActiveFile: 30000000, InactiveFile: 20000000,
					Anon: 150000000, File: 50000000, Shmem: 4096, Mapped: 8000000, Dirty: 12288,
					SlabReclaimable: 2000000, SlabUnreclaimable: 1000000, KernelStack: 327680, PageTables: 1200000,
				},
				SwapAccounting: true, SwapLimit: 64 * mib, SwapUsage: mib,
			},
			CPU: CPU{QuotaUS: 50000, PeriodUS: 100000, Cpuset: []int{0, 1, 2, 3}, User: 7 * time.Second, System: 3 * time.Second},
			IO: []IODevice{
				{Major: 8, Minor: 0, ReadBytes: 1048576, WriteBytes: 2097152, ReadIOs: 100, WriteIOs: 200, DiscardBytes: 8192, DiscardIOs: 2},
				{Major: 253, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, ReadIOs: 1, WriteIOs: 2},
			},
			Tasks: Tasks{Total: 4, Running: 2, Blocked: 1, LastPID: 104},
			Start: 4990 * time.Second,
		},
	}, {
		name: "v2 nested limit from the pod, no swap accounting, idle", tree: "v2", pid: 201, need: NeedAll,
		want: &Snapshot{
			Version: 2, Path: "/kubepods/podA/nested",
			Memory: Memory{Limit: 512 * mib, Usage: 10485760, Stat: MemoryStat{Anon: 4000000, File: 6000000, ActiveAnon: 4000000, InactiveFile: 6000000}},
			CPU:    CPU{QuotaUS: -1, PeriodUS: 100000, Cpuset: []int{0, 1, 2, 3}},
			IO:     nil,
			Tasks:  Tasks{Total: 1, LastPID: 201},
			Start:  7000 * time.Second,
		},
	}, {
		name: "v2 the reading thread is not counted as running", tree: "v2", pid: 102, need: NeedTasks,
		want: &Snapshot{Version: 2, Path: "/kubepods/podA/busy", Tasks: Tasks{Total: 4, Running: 1, Blocked: 1, LastPID: 104}},
	}, {
		name: "v2 cpuset narrower than the quota", tree: "v2", pid: 301, need: NeedCPULimit,
		want: &Snapshot{Version: 2, Path: "/kubepods/podB/narrow", CPU: CPU{QuotaUS: 300000, PeriodUS: 100000, Cpuset: []int{2}}},
	}, {
		name: "v2 only what is needed", tree: "v2", pid: 101, need: NeedMemory,
		want: &Snapshot{Version: 2, Path: "/kubepods/podA/busy", Memory: Memory{
			Limit: 256 * mib, Usage: 209715200,
			Stat: MemoryStat{
				ActiveAnon: 140000000, InactiveAnon: 10000000, ActiveFile: 30000000, InactiveFile: 20000000,
				Anon: 150000000, File: 50000000, Shmem: 4096, Mapped: 8000000, Dirty: 12288,
				SlabReclaimable: 2000000, SlabUnreclaimable: 1000000, KernelStack: 327680, PageTables: 1200000,
			},
		}},
	}, {
		name: "v2 missing memory controller names the file", tree: "v2", pid: 401, need: NeedMemory,
		wantErr: "kubepods/podB/nomem/memory.max",
	}, {
		name: "v2 missing controller is fine when not needed", tree: "v2", pid: 401, need: NeedCPULimit,
		want: &Snapshot{Version: 2, Path: "/kubepods/podB/nomem", CPU: CPU{QuotaUS: -1, PeriodUS: 100000, Cpuset: []int{2}}},
	}, {
		name: "v2 malformed /proc/pid/cgroup", tree: "v2", pid: 601, need: NeedMemory,
		wantErr: "invalid cgroup entry",
	}, {
		name: "v1 container", tree: "v1", pid: 11, need: NeedAll,
		want: &Snapshot{
			Version: 1, Path: "/kubepods/podX/ctr",
			Memory: Memory{
				Limit: 256 * mib, Usage: 209715200,
				Stat: MemoryStat{
					ActiveAnon: 140000000, InactiveAnon: 10000000, ActiveFile: 30000000, InactiveFile: 20000000,
					Anon: 150000000, File: 50000000, Shmem: 4096, Mapped: 8000000, Dirty: 12288,
				},
				SwapAccounting: true, SwapLimit: 64 * mib, SwapUsage: mib,
			},
			CPU: CPU{
				QuotaUS: 50000, PeriodUS: 100000, Cpuset: []int{1}, User: 7 * time.Second, System: 3 * time.Second,
				PerCPU: []CPUTime{{CPU: 0, User: 5 * time.Second, System: 2 * time.Second}, {CPU: 1, User: 2 * time.Second, System: time.Second}},
			},
			IO:       []IODevice{{Major: 8, Minor: 0, ReadBytes: 1048576, WriteBytes: 2097152, ReadIOs: 100, WriteIOs: 200, InFlight: 3}},
			Tasks:    Tasks{Total: 2, Running: 1, LastPID: 12},
			Start:    1234560 * time.Millisecond,
			Slabinfo: fixtureFile(t, "v1/cgroup/memory/kubepods/podX/ctr/memory.kmem.slabinfo"),
		},
	}, {
		name: "v1 without memory.kmem.slabinfo: no slab data", tree: "v1", pid: 21, need: NeedSlab,
		want: &Snapshot{Version: 1, Path: "/kubepods/podX/idle"},
	}, {
		name: "v2 has no per-cgroup slabinfo", tree: "v2", pid: 101, need: NeedSlab,
		want: &Snapshot{Version: 2, Path: "/kubepods/podA/busy"},
	}, {
		name: "v1 idle: unlimited, no memsw, quota and cpuset from ancestors", tree: "v1", pid: 21,
		need: NeedMemory | NeedSwap | NeedCPULimit | NeedCPUUsage | NeedTasks | NeedStart,
		want: &Snapshot{
			Version: 1, Path: "/kubepods/podX/idle",
			Memory: Memory{Limit: Unlimited, Usage: 10000000, Stat: MemoryStat{Anon: 4000000, File: 6000000}},
			CPU:    CPU{QuotaUS: 200000, PeriodUS: 100000, Cpuset: []int{0, 1, 2, 3}},
			Tasks:  Tasks{Total: 1, LastPID: 21},
			Start:  20 * time.Second,
		},
	}, {
		name: "v1 missing blkio cgroup names the file", tree: "v1", pid: 21, need: NeedIO,
		wantErr: "blkio/kubepods/podX/idle/blkio.throttle.io_service_bytes",
	}, {
		name: "v2 cgroup outside our cgroup namespace is out of scope", tree: "v2", pid: 701, need: NeedMemory,
		wantErr: ErrOutOfScope.Error(),
	}, {
		// The v2 root sets no limits and has no memory.max, cpu.max or memory.current: its
		// readers get the node's own files, as v1's root readers get the node's numbers.
		name: "v2 reader in the root cgroup is out of scope", tree: "v2", pid: 801, need: NeedAll,
		wantErr: ErrOutOfScope.Error(),
	}, {
		name: "v1 any controller outside our cgroup namespace is out of scope", tree: "v1", pid: 31, need: NeedMemory,
		wantErr: ErrOutOfScope.Error(),
	}, {
		name: "PID 0", tree: "v1", pid: 0, need: NeedMemory, wantErr: ErrNoProcess.Error(),
	}, {
		name: "vanished process", tree: "v2", pid: 999, need: NeedMemory, wantErr: ErrNoProcess.Error(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fixture(t, tt.tree, "/")
			got, err := r.Read(tt.pid, tt.need)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Read err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The identity is the fixture directory's inode, which differs per checkout.
			if tt.need&NeedTasks != 0 {
				if ino, err := inode(r.taskDir(got.Path)); err != nil || got.Inode != ino {
					t.Errorf("Inode %d, want %s's %d (%v)", got.Inode, r.taskDir(got.Path), ino, err)
				}
				got.Inode = 0
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScope(t *testing.T) {
	tests := []struct {
		scope string
		pid   int
		in    bool
	}{
		{"/kubepods/podA", 101, true},
		{"/kubepods/podA/", 201, true},
		{"/kubepods/podA/busy", 101, true},
		{"/kubepods/pod", 101, false}, // a prefix of a name is not a parent
		{"/kubepods/podB", 101, false},
		{"/kubepods", 501, false},
		{"", 501, true},
		{"/", 501, true},
	}
	for _, tt := range tests {
		r := fixture(t, "v2", tt.scope)
		_, err := r.Read(tt.pid, NeedCPULimit)
		if tt.in && err != nil && !strings.Contains(err.Error(), "cpu.max") {
			t.Errorf("scope %q pid %d: %v, want served", tt.scope, tt.pid, err)
		}
		if !tt.in && !errors.Is(err, ErrOutOfScope) {
			t.Errorf("scope %q pid %d: err %v, want ErrOutOfScope", tt.scope, tt.pid, err)
		}
	}
}

func TestNewRejectsNonCgroupRoot(t *testing.T) {
	_, err := New(Options{Root: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "not a cgroup filesystem") {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Options{Root: "/nonexistent/cgroup"}); err == nil {
		t.Fatal("missing root: no error")
	}
}

func TestContainerPath(t *testing.T) {
	for _, tc := range []struct {
		tree string
		pid  int
		want string
	}{{"v1", 11, "/kubepods/podX/ctr"}, {"v2", 301, "/kubepods/podB/narrow"}} {
		got, err := fixture(t, tc.tree, "/").ContainerPath(tc.pid)
		if err != nil || got != tc.want {
			t.Errorf("%s pid %d: %q, %v; want %q", tc.tree, tc.pid, got, err, tc.want)
		}
	}
}

// writeTree writes files (path -> content) under a new temporary directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestV1SeparateCPUHierarchies covers this machine's layout: cpu and cpuacct mounted as two
// hierarchies (not "cpu,cpuacct"), each with its own path in /proc/<pid>/cgroup.
func TestV1SeparateCPUHierarchies(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"proc/7/cgroup":                             "4:memory:/m/ctr\n3:cpuset:/\n2:cpuacct:/acct\n1:cpu:/quota\n0::/\n",
		"cgroup/memory/m/ctr/memory.stat":           "hierarchical_memory_limit 1048576\n",
		"cgroup/cpu/cpu.cfs_quota_us":               "-1\n",
		"cgroup/cpu/quota/cpu.cfs_quota_us":         "25000\n",
		"cgroup/cpu/quota/cpu.cfs_period_us":        "100000\n",
		"cgroup/cpuacct/acct/cpuacct.stat":          "user 150\nsystem 50\n",
		"cgroup/cpuacct/acct/cpuacct.usage_all":     "cpu user system\n0 1000 2000\n",
		"cgroup/cpuset/cpuset.cpus":                 "0-1\n",
		"cgroup/cpuset/cpuset.effective_cpus":       "0-1\n",
		"cgroup/cpuacct/cpuacct.stat":               "user 999\nsystem 999\n",
		"cgroup/memory/m/ctr/memory.usage_in_bytes": "4096\n",
	})
	r, err := New(Options{Root: filepath.Join(dir, "cgroup"), ProcRoot: filepath.Join(dir, "proc")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(7, NeedCPULimit|NeedCPUUsage)
	if err != nil {
		t.Fatal(err)
	}
	want := &Snapshot{Version: 1, Path: "/m/ctr", CPU: CPU{
		QuotaUS: 25000, PeriodUS: 100000, Cpuset: []int{0, 1}, User: 1500 * time.Millisecond, System: 500 * time.Millisecond,
		PerCPU: []CPUTime{{CPU: 0, User: 1000, System: 2000}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
}

// TestV1ControllerNotMounted: a Need whose controller has no hierarchy under Root is an error
// that says so, while Needs served by the mounted controllers still work.
func TestV1ControllerNotMounted(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"proc/7/cgroup":                           "4:memory:/ctr\n1:cpu:/ctr\n0::/\n",
		"cgroup/memory/ctr/memory.stat":           "hierarchical_memory_limit 1048576\ntotal_rss 4096\n",
		"cgroup/memory/ctr/memory.usage_in_bytes": "4096\n",
		"cgroup/cpu/ctr/cpu.cfs_quota_us":         "-1\n",
	})
	r, err := New(Options{Root: filepath.Join(dir, "cgroup"), ProcRoot: filepath.Join(dir, "proc")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		need Need
		want string
	}{
		{NeedCPUUsage, "controller cpuacct is not mounted"},
		{NeedIO, "controller blkio is not mounted"},
	} {
		if _, err := r.Read(7, tc.need); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("need %b: err = %v, want %q", tc.need, err, tc.want)
		}
	}
	got, err := r.Read(7, NeedMemory|NeedSwap)
	if err != nil {
		t.Fatal(err)
	}
	want := &Snapshot{Version: 1, Path: "/ctr", Memory: Memory{Limit: 1 << 20, Usage: 4096, Stat: MemoryStat{Anon: 4096}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("memory without memsw files (-want +got):\n%s", diff)
	}
}

// TestStartWhenListedProcessesExited: the start time falls back to the caller's own, and is an
// ErrNoProcess error (never a silent 0) when no process of the cgroup can be read.
func TestStartWhenListedProcessesExited(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"proc/7/cgroup":             "0::/ctr\n",
		"proc/7/stat":               "7 (sh) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4200 0 0\n",
		"proc/8/cgroup":             "0::/ctr\n",
		"cgroup/cgroup.controllers": "cpu memory\n",
		"cgroup/ctr/cgroup.procs":   "9\n",
	})
	r, err := New(Options{Root: filepath.Join(dir, "cgroup"), ProcRoot: filepath.Join(dir, "proc")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Read(7, NeedStart)
	if err != nil || s.Start != 42*time.Second {
		t.Errorf("Read(7) = %+v, %v; want Start 42s from the caller's own stat", s, err)
	}
	if _, err := r.Read(8, NeedStart); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Read(8): err = %v, want ErrNoProcess", err)
	}
}

// TestReadFile: files larger than the pooled buffer come back whole, and a missing file is
// fs.ErrNotExist with its path in the message.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 5000) // 85 000 bytes, several buffer growths
	p := filepath.Join(dir, "big")
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read reuses the grown pooled buffer
		got, err := readFile(p)
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("readFile: %d bytes, %v; want %d bytes", len(got), err, len(big))
		}
	}
	missing := filepath.Join(dir, "memory.max")
	_, err := readFile(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v, want ErrNotExist naming %s", err, missing)
	}
}

// TestConcurrentReads: one FS serves many callers at once (every FUSE op has its own goroutine);
// run with -race. Each caller must get its own cgroup's snapshot.
func TestConcurrentReads(t *testing.T) {
	r := fixture(t, "v2", "/")
	want := map[int]*Snapshot{}
	for _, pid := range []int{101, 201, 301} {
		s, err := r.Read(pid, NeedCPULimit|NeedTasks)
		if err != nil {
			t.Fatal(err)
		}
		want[pid] = s
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*8)
	for pid, w := range want {
		for range 8 {
			wg.Go(func() {
				for range 50 {
					got, err := r.Read(pid, NeedCPULimit|NeedTasks)
					if err != nil {
						errs <- err
						return
					}
					if diff := cmp.Diff(w, got); diff != "" {
						errs <- fmt.Errorf("pid %d (-want +got):\n%s", pid, diff)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestV2NamespaceRootIsServed: "/" in a cgroup namespace is the container's own cgroup, a real
// child with limits (it has cgroup.type, which only the true root lacks): it is read, not
// treated as the node's root.
func TestV2NamespaceRootIsServed(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"proc/7/cgroup":             "0::/\n",
		"cgroup/cgroup.controllers": "cpu memory\n",
		"cgroup/cgroup.type":        "domain\n",
		"cgroup/memory.max":         "268435456\n",
		"cgroup/memory.current":     "4096\n",
		"cgroup/memory.stat":        "anon 4096\n",
	})
	r, err := New(Options{Root: filepath.Join(dir, "cgroup"), ProcRoot: filepath.Join(dir, "proc")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Read(7, NeedMemory)
	if err != nil || s.Memory.Limit != 256<<20 {
		t.Fatalf("Read(7) = %+v, %v; want the namespace root's 256 MiB limit", s, err)
	}
}
