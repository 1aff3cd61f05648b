package testcgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLifecycle creates a real cgroup, checks the limits the kernel holds and that AddPID moves
// a process in every hierarchy, then checks that cleanup removed the cgroup and left the process alive.
func TestLifecycle(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	pid := sleep.Process.Pid

	var c *Cgroup
	t.Run("create", func(t *testing.T) {
		c = New(t, "lifecycle", Limits{MemoryBytes: 256 << 20, CPUQuotaUS: 50000, CPUPeriodUS: 100000, Cpuset: "0"})
		if err := c.AddPID(pid); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		shown := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.SplitN(line, ":", 3)
			for _, ctl := range strings.Split(f[1], ",") {
				shown[ctl] = f[2]
			}
		}
		paths := c.Paths()
		if len(paths) == 0 {
			t.Fatal("no paths")
		}
		for ctl, p := range paths {
			if shown[ctl] != p {
				t.Errorf("/proc/%d/cgroup shows %s:%q, want %q", pid, ctl, shown[ctl], p)
			}
		}
		if c.v2 {
			return
		}
		if c.Path() != paths["memory"] {
			t.Errorf("Path() = %q, want the memory path %q", c.Path(), paths["memory"])
		}
		for _, f := range []struct{ ctl, file, want string }{
			{"memory", "memory.limit_in_bytes", "268435456"},
			{"cpu", "cpu.cfs_quota_us", "50000"},
			{"cpu", "cpu.cfs_period_us", "100000"},
			{"cpuset", "cpuset.cpus", "0"},
		} {
			got, err := os.ReadFile(filepath.Join(Root, f.ctl, paths[f.ctl], f.file))
			if err != nil || strings.TrimSpace(string(got)) != f.want {
				t.Errorf("%s/%s = %q, %v; want %q", f.ctl, f.file, got, err, f.want)
			}
		}
	})
	if c == nil {
		t.Fatal("not created")
	}
	for ctl, p := range c.Paths() {
		if _, err := os.Stat(filepath.Join(Root, ctl, p)); !os.IsNotExist(err) {
			t.Errorf("%s%s still there after cleanup (%v)", ctl, p, err)
		}
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		t.Errorf("cleanup killed the process it was given: %v", err)
	}
}
