package cgroup

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// TestReadRealCgroup reads a real cgroup of this machine (v1 here) holding a real process.
func TestReadRealCgroup(t *testing.T) {
	cg := testcgroup.New(t, "reader", testcgroup.Limits{MemoryBytes: 256 << 20, CPUQuotaUS: 50000, Cpuset: "0"})
	// The child allocates and touches 20 MiB inside the cgroup, then says so.
	cmd := cg.Command("python3", "-c", "b = bytearray(20 << 20); print('ready', flush=True); import time; time.sleep(60)")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := out.Read(make([]byte, 6)); err != nil {
		t.Fatalf("child did not start: %v", err)
	}
	r, err := New(Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Read(cmd.Process.Pid, NeedAll&^NeedIO)
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
	if s.CPU.QuotaUS != 50000 || s.CPU.PeriodUS != 100000 {
		t.Errorf("quota = %d/%d, want 50000/100000", s.CPU.QuotaUS, s.CPU.PeriodUS)
	}
	if len(s.CPU.Cpuset) != 1 || s.CPU.Cpuset[0] != 0 {
		t.Errorf("Cpuset = %v, want [0]", s.CPU.Cpuset)
	}
	if s.Tasks.Total != 1 || s.Tasks.LastPID != cmd.Process.Pid {
		t.Errorf("Tasks = %+v, want 1 task, last PID %d", s.Tasks, cmd.Process.Pid)
	}
	if up := uptime(t); s.Start <= 0 || s.Start > up || up-s.Start > 30*time.Second {
		t.Errorf("Start = %v since boot, uptime %v: the process started just now", s.Start, up)
	}
	// Another process outside the scope is refused.
	scoped, err := New(Options{Root: testcgroup.Root, ProcRoot: "/proc", Scope: cg.Path()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scoped.Read(os.Getpid(), NeedMemory); err == nil {
		t.Error("the test process is outside the scope but was served")
	}
	if _, err := scoped.Read(cmd.Process.Pid, NeedMemory); err != nil {
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

func BenchmarkReadMeminfoNeed(b *testing.B) {
	cg := testcgroup.New(b, "bench", testcgroup.Limits{MemoryBytes: 256 << 20})
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
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Read(cmd.Process.Pid, NeedMemory|NeedSwap); err != nil {
			b.Fatal(err)
		}
	}
}
