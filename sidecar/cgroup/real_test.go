package cgroup

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// TestReadRealCgroup reads a real cgroup of this machine (v1 here, v2 in test/vm) holding two real processes:
// a child that joined before it exec'd (so its memory is charged here) and a sleep moved in with AddPID.
func TestReadRealCgroup(t *testing.T) {
	cg := testcgroup.New(t, "reader", testcgroup.Limits{MemoryBytes: 256 << 20, CPUQuotaUS: 50000, CPUPeriodUS: 100000, Cpuset: "0"})
	// The child burns some CPU, allocates and touches 20 MiB inside the cgroup, then says so.
	cmd := cg.Command("python3", "-c", "sum(range(3_000_000)); b = bytearray(20 << 20); print('ready', flush=True); import time; time.sleep(60)")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	before := uptime(t)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := out.Read(make([]byte, 6)); err != nil {
		t.Fatalf("child did not start: %v", err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	if err := cg.AddPID(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	after := uptime(t)

	r, err := New(Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version() != cg.Version() {
		t.Errorf("Version = %d, want %d on this machine", r.Version(), cg.Version())
	}
	for _, pid := range []int{cmd.Process.Pid, sleep.Process.Pid} {
		if p, err := r.ContainerPath(pid); err != nil || p != cg.Path() {
			t.Errorf("ContainerPath(%d) = %q, %v; want %q", pid, p, err, cg.Path())
		}
	}
	s, err := r.Read(cmd.Process.Pid, NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	if s.Path != cg.Path() {
		t.Errorf("Path = %q, want %q", s.Path, cg.Path())
	}
	if s.Memory.Limit != 256<<20 {
		t.Errorf("Limit = %d, want %d", s.Memory.Limit, 256<<20)
	}
	if s.Memory.Usage < 20<<20 || s.Memory.Stat.Anon < 20<<20 {
		t.Errorf("Usage = %d, anon = %d, want >= 20 MiB the child allocated", s.Memory.Usage, s.Memory.Stat.Anon)
	}
	if s.Memory.SwapAccounting && s.Memory.SwapLimit != Unlimited {
		t.Errorf("SwapLimit = %d, want Unlimited (no memsw limit set)", s.Memory.SwapLimit)
	}
	if s.CPU.QuotaUS != 50000 || s.CPU.PeriodUS != 100000 {
		t.Errorf("quota = %d/%d, want 50000/100000", s.CPU.QuotaUS, s.CPU.PeriodUS)
	}
	if len(s.CPU.Cpuset) != 1 || s.CPU.Cpuset[0] != 0 {
		t.Errorf("Cpuset = %v, want [0]", s.CPU.Cpuset)
	}
	if s.CPU.User+s.CPU.System <= 0 {
		t.Errorf("CPU time user %v system %v, want > 0 after the child's busy loop", s.CPU.User, s.CPU.System)
	}
	var onCPU0 time.Duration
	for _, c := range s.CPU.PerCPU {
		if c.CPU == 0 {
			onCPU0 = c.User + c.System
		}
	}
	switch {
	case cg.Version() == 1 && onCPU0 <= 0:
		t.Errorf("PerCPU = %+v, want time on CPU 0, the cgroup's only CPU", s.CPU.PerCPU)
	case cg.Version() == 2 && len(s.CPU.PerCPU) != 0:
		t.Errorf("PerCPU = %+v, want none: cgroup v2 keeps no per-CPU time", s.CPU.PerCPU)
	}
	wantLast := max(cmd.Process.Pid, sleep.Process.Pid)
	if s.Tasks.Total != 2 || s.Tasks.LastPID != wantLast || s.Tasks.Running+s.Tasks.Blocked > 2 {
		t.Errorf("Tasks = %+v, want 2 threads, last PID %d", s.Tasks, wantLast)
	}
	// starttime has clock-tick (10 ms) resolution.
	if s.Start < before-10*time.Millisecond || s.Start > after {
		t.Errorf("Start = %v since boot, want between %v and %v, when the child started", s.Start, before, after)
	}
	// Another process outside the scope is refused; the scope's own processes are served.
	scoped, err := New(Options{Root: testcgroup.Root, ProcRoot: "/proc", Scope: cg.Path()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scoped.Read(os.Getpid(), NeedMemory); !errors.Is(err, ErrOutOfScope) {
		t.Errorf("the test process is outside the scope: err = %v, want ErrOutOfScope", err)
	}
	if _, err := scoped.Read(sleep.Process.Pid, NeedMemory); err != nil {
		t.Errorf("in-scope read: %v", err)
	}
}

func uptime(t *testing.T) time.Duration {
	var ts syscall.Timespec
	// CLOCK_BOOTTIME, the clock of /proc/uptime and /proc/<pid>/stat starttime.
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 7, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		t.Fatal(e)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkRead reads a real cgroup holding a sleep: the meminfo Need (what every /proc/meminfo
// open costs) and everything at once.
func BenchmarkRead(b *testing.B) {
	cg := testcgroup.New(b, "bench", testcgroup.Limits{MemoryBytes: 256 << 20, CPUQuotaUS: 50000, Cpuset: "0"})
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := cg.AddPID(cmd.Process.Pid); err != nil {
		b.Fatal(err)
	}
	r, err := New(Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		need Need
	}{{"meminfo", NeedMemory | NeedSwap}, {"all", NeedAll}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Read(cmd.Process.Pid, bc.need); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// /proc/<pid>/cgroup is kept open between reads: a process moved to another cgroup is seen in
// its new one at the next read, and a reaped process's number reads ErrNoProcess, not the
// cgroup it had.
func TestKeptProcFileFollowsTheProcess(t *testing.T) {
	first := testcgroup.New(t, "move-a", testcgroup.Limits{MemoryBytes: 128 << 20})
	second := testcgroup.New(t, "move-b", testcgroup.Limits{MemoryBytes: 192 << 20})
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	pid := sleep.Process.Pid
	if err := first.AddPID(pid); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	limit := map[*testcgroup.Cgroup]uint64{first: 128 << 20, second: 192 << 20}
	for _, cg := range []*testcgroup.Cgroup{first, second, first} {
		if err := cg.AddPID(pid); err != nil {
			t.Fatal(err)
		}
		s, err := r.Read(pid, NeedMemory)
		if err != nil {
			t.Fatal(err)
		}
		if s.Path != cg.Path() || s.Memory.Limit != limit[cg] {
			t.Errorf("after moving to %s: path %q, limit %d", cg.Path(), s.Path, s.Memory.Limit)
		}
	}
	if n := len(r.procs.files); n != 1 {
		t.Errorf("%d /proc files kept open, want 1 (the process's)", n)
	}
	sleep.Process.Kill()
	sleep.Wait()
	if _, err := r.Read(pid, NeedMemory); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Read of a reaped process: %v, want ErrNoProcess", err)
	}
}
