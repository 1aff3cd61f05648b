package cgroupmount

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/procview/procview/internal/testenv"
)

// ownCgroupDir is this process's cgroup directory relative to a cgroup root: the unified path
// on a pure v2 machine, the memory hierarchy's on v1 or hybrid.
func ownCgroupDir(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) == 1 && strings.HasPrefix(lines[0], "0::") {
		return strings.TrimPrefix(lines[0], "0::")
	}
	for _, l := range lines {
		p := strings.SplitN(l, ":", 3)
		if len(p) == 3 && strings.Contains(","+p[1]+",", ",memory,") {
			return filepath.Join(p[1], p[2])
		}
	}
	t.Fatalf("no v2 path and no memory cgroup in /proc/self/cgroup:\n%s", b)
	return ""
}

func TestUnifiedOnly(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          bool
	}{
		{"pure v2", "0::/kubepods/pod1/ctr\n", true},
		{"pure v2, root", "0::/\n", true},
		{"hybrid (this machine kind)", "4:memory:/x\n1:cpu:/\n0::/\n", false},
		{"v1 only", "2:cpu,cpuacct:/a\n1:memory:/a\n", false},
		{"v1 named hierarchy only", "1:name=systemd:/\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := parseCgroups([]byte(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if got := unifiedOnly(lines); got != tc.want {
				t.Errorf("unifiedOnly(%q) = %v, want %v", tc.content, got, tc.want)
			}
		})
	}
}

// On a pure v2 node /proc/self/cgroup has the single line `0::<path>`, and a privileged
// container's /sys/fs/cgroup may be missing or hide our cgroup (no cgroup.controllers there):
// Resolve must mount cgroup2, not a v1 tmpfs with nothing in it.
func TestResolveMountsCgroup2ForUnifiedOnlyProc(t *testing.T) {
	testenv.RequireRoot(t, "mounting cgroups")
	proc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "self", "cgroup"), []byte("0::/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cg")
	root, cleanup, err := Resolve(t.TempDir(), proc, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	if root != dir {
		t.Fatalf("root = %s, want %s", root, dir)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		t.Fatal(err)
	}
	const cgroup2Magic = 0x63677270
	if st.Type != cgroup2Magic {
		t.Errorf("%s is filesystem type %#x, want cgroup2 (%#x)", root, st.Type, cgroup2Magic)
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		t.Errorf("no cgroup.controllers under the private mount: %v", err)
	}
}

// A directory with our cgroup's path but no cgroup files is not a cgroup root.
func TestResolveIgnoresPlainDirectory(t *testing.T) {
	testenv.RequireRoot(t, "mounting cgroups")
	own := ownCgroupDir(t)
	fake := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fake, own), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cg")
	root, cleanup, err := Resolve(fake, "/proc", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	if root != dir {
		t.Errorf("root = %s, want the private mount %s", root, dir)
	}
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
	testenv.RequireRoot(t, "mounting cgroups")
	own := ownCgroupDir(t)
	dir := filepath.Join(t.TempDir(), "cg")
	root, cleanup, err := Resolve(t.TempDir(), "/proc", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	if root != dir {
		t.Fatalf("root = %s, want %s", root, dir)
	}
	if _, err := os.Stat(filepath.Join(root, own, "cgroup.procs")); err != nil {
		t.Errorf("own cgroup not visible under the private mount: %v", err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Join(root, own, "cgroup.procs")); err == nil {
		t.Error("still mounted after cleanup")
	}
}
