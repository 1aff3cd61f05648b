package cgroupmount

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ownMemoryPath(t *testing.T) (controllers, path string) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		p := strings.SplitN(l, ":", 3)
		if len(p) == 3 && strings.Contains(","+p[1]+",", ",memory,") {
			return p[1], p[2]
		}
	}
	t.Fatal("no memory cgroup in /proc/self/cgroup")
	return "", ""
}

func TestResolveUsesSysWhenItShowsOurPaths(t *testing.T) {
	root, cleanup, err := Resolve("/sys/fs/cgroup", "/proc", filepath.Join(t.TempDir(), "cg"))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if root != "/sys/fs/cgroup" {
		t.Errorf("root = %s, want /sys/fs/cgroup", root)
	}
}

// A directory that does not show our cgroup (like a container's own /sys/fs/cgroup) makes
// Resolve mount the real hierarchies privately; cleanup unmounts them.
func TestResolveMountsWhenSysHidesOurPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting cgroups needs root")
	}
	ctrls, path := ownMemoryPath(t)
	dir := filepath.Join(t.TempDir(), "cg")
	root, cleanup, err := Resolve(t.TempDir(), "/proc", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	if root != dir {
		t.Fatalf("root = %s, want %s", root, dir)
	}
	if _, err := os.Stat(filepath.Join(root, ctrls, path, "memory.stat")); err != nil {
		t.Errorf("own memory cgroup not visible under the private mount: %v", err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Join(root, ctrls, path, "memory.stat")); err == nil {
		t.Error("still mounted after cleanup")
	}
}
