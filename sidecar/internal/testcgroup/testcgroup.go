// Package testcgroup makes real, limited cgroups for tests on this machine (v1 or v2)
// and removes them when the test ends, even when it fails.
package testcgroup

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procview/procview/internal/testenv"
)

// Root is where the cgroup filesystems are mounted.
const Root = "/sys/fs/cgroup"

// Limits are what the cgroup enforces; zero values leave a limit unset.
type Limits struct {
	MemoryBytes int64
	CPUQuotaUS  int64 // with CPUPeriodUS (default 100000)
	CPUPeriodUS int64
	Cpuset      string // e.g. "0"
}

// Cgroup is a cgroup created for one test.
type Cgroup struct {
	v2    bool
	paths map[string]string // controller (v1) or "" (v2) -> path as /proc/<pid>/cgroup shows it
}

// New creates a cgroup named name (made unique per process) with limits l: on v1 in the memory,
// cpu, cpuacct, cpuset, pids and blkio hierarchies that are mounted (memory under the caller's own
// memory cgroup, where this machine lets us create children; the others at their root), on v2
// beside the caller. t.Cleanup moves any processes left in it to the parent and removes it; it
// kills nothing.
func New(t testing.TB, name string, l Limits) *Cgroup {
	t.Helper()
	testenv.RequireRoot(t, "creating cgroups")
	name = fmt.Sprintf("procview-test-%s-%d", name, os.Getpid())
	own, err := ownPaths()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cgroup{paths: map[string]string{}}
	t.Cleanup(func() { c.remove(t) })
	if _, err := os.Stat(filepath.Join(Root, "cgroup.controllers")); err == nil {
		c.v2 = true
		c.paths[""] = filepath.Join(filepath.Dir(own[""]), name)
	} else {
		c.paths["memory"] = filepath.Join(own["memory"], name)
		for _, ctl := range []string{"cpu", "cpuacct", "cpuset", "pids", "blkio"} {
			if _, err := os.Stat(filepath.Join(Root, ctl)); err == nil {
				c.paths[ctl] = "/" + name
			}
		}
	}
	for _, ctl := range c.hierarchies() {
		if err := os.Mkdir(c.dir(ctl, c.paths[ctl]), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatalf("create cgroup: %v", err)
		}
	}
	if err := c.apply(l); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Cgroup) dir(ctl, p string) string { return filepath.Join(Root, ctl, p) }

// hierarchies returns one controller per distinct hierarchy in c.paths, sorted: cpu and cpuacct
// may be one co-mounted "cpu,cpuacct" hierarchy behind symlinks, to be created and removed once.
func (c *Cgroup) hierarchies() []string {
	seen := map[string]bool{}
	var out []string
	for _, ctl := range slices.Sorted(maps.Keys(c.paths)) {
		root, err := filepath.EvalSymlinks(filepath.Join(Root, ctl))
		if err != nil {
			root = filepath.Join(Root, ctl)
		}
		if !seen[root] {
			seen[root] = true
			out = append(out, ctl)
		}
	}
	return out
}

func (c *Cgroup) write(ctl, file, value string) error {
	p := filepath.Join(c.dir(ctl, c.paths[ctl]), file)
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

func (c *Cgroup) apply(l Limits) error {
	period := l.CPUPeriodUS
	if period == 0 {
		period = 100000
	}
	if c.v2 {
		parent := filepath.Dir(c.dir("", c.paths[""]))
		_ = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory +cpu +cpuset +io"), 0o644)
		if l.MemoryBytes > 0 {
			if err := c.write("", "memory.max", strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
				return err
			}
		}
		if l.CPUQuotaUS > 0 {
			if err := c.write("", "cpu.max", fmt.Sprintf("%d %d", l.CPUQuotaUS, period)); err != nil {
				return err
			}
		}
		if l.Cpuset != "" {
			return c.write("", "cpuset.cpus", l.Cpuset)
		}
		return nil
	}
	if l.MemoryBytes > 0 {
		if err := c.write("memory", "memory.limit_in_bytes", strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
	}
	if l.CPUQuotaUS > 0 {
		if err := c.write("cpu", "cpu.cfs_period_us", strconv.FormatInt(period, 10)); err != nil {
			return err
		}
		if err := c.write("cpu", "cpu.cfs_quota_us", strconv.FormatInt(l.CPUQuotaUS, 10)); err != nil {
			return err
		}
	}
	// A v1 cpuset cgroup takes no task until cpus and mems are set.
	for _, f := range []string{"cpuset.mems", "cpuset.cpus"} {
		v, err := os.ReadFile(filepath.Join(Root, "cpuset", f))
		if err != nil {
			return fmt.Errorf("read parent %s: %w", f, err)
		}
		val := strings.TrimSpace(string(v))
		if f == "cpuset.cpus" && l.Cpuset != "" {
			val = l.Cpuset
		}
		if err := c.write("cpuset", f, val); err != nil {
			return err
		}
	}
	return nil
}

// AddPID moves pid into the cgroup in every hierarchy.
func (c *Cgroup) AddPID(pid int) error {
	for _, ctl := range c.hierarchies() {
		if err := c.write(ctl, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Command returns a command that joins the cgroup before it execs name, so everything it
// allocates is charged here (v1 does not move existing charges with a task).
func (c *Cgroup) Command(name string, args ...string) *exec.Cmd {
	var join strings.Builder
	for _, ctl := range c.hierarchies() {
		p := c.paths[ctl]
		fmt.Fprintf(&join, "echo $$ > %s/cgroup.procs && ", c.dir(ctl, p))
	}
	return exec.Command("sh", append([]string{"-c", join.String() + `exec "$@"`, "sh", name}, args...)...)
}

// Path is the cgroup's path as /proc/<pid>/cgroup shows it (v2, or v1's memory hierarchy).
func (c *Cgroup) Path() string {
	if c.v2 {
		return c.paths[""]
	}
	return c.paths["memory"]
}

// Version is the cgroup version of this machine's hierarchy the cgroup lives in: 1 or 2.
func (c *Cgroup) Version() int {
	if c.v2 {
		return 2
	}
	return 1
}

// Paths maps each controller (v1) or "" (v2) to the cgroup's path.
func (c *Cgroup) Paths() map[string]string { return maps.Clone(c.paths) }

// remove moves leftover processes to the parent cgroup and removes the directories.
// A cgroup dir can be busy for a moment after its last task exits, hence the retries.
func (c *Cgroup) remove(t testing.TB) {
	for _, ctl := range c.hierarchies() {
		dir := c.dir(ctl, c.paths[ctl])
		if procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil {
			for _, pid := range strings.Fields(string(procs)) {
				_ = os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.procs"), []byte(pid), 0o644)
			}
		}
		var err error
		for i := 0; i < 50; i++ {
			if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("remove cgroup %s: %v", dir, err)
		}
	}
}

// ownPaths reads this process's cgroup paths (v1 controller -> path, "" -> v2 path).
func ownPaths() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			out[ctl] = parts[2]
		}
	}
	return out, s.Err()
}
