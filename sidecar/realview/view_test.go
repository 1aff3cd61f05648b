package realview

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/jacobsa/fuse"

	"golang.org/x/sys/unix"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/fusefs"
	"github.com/procview/procview/sidecar/internal/testcgroup"
	"github.com/procview/procview/sidecar/render"
)

// bootTime is CLOCK_BOOTTIME, the clock the sidecar renders with.
func bootTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// mountView serves every view file from this test process on a real FUSE mount, reading the
// real cgroups of each reader, and unmounts it when the test ends. As root a missing /dev/fuse
// is a failure, not a skip.
func mountView(t *testing.T, tweak func(*fusefs.Options)) string {
	t.Helper()
	testenv.RequireFUSE(t)
	reader, err := cgroup.New(cgroup.Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	return testenv.MountFUSE(t, func(dir string, log logr.Logger) (*fuse.MountedFileSystem, error) {
		opts := fusefs.Options{
			Reader: reader, Files: render.Files(), ProcRoot: "/proc", SysRoot: "/sys",
			CPUView: podview.CPUViewQuota, Now: bootTime, Log: log,
		}
		if tweak != nil {
			tweak(&opts)
		}
		return fusefs.Mount(dir, fusefs.New(opts))
	}, fusefs.Unmount)
}

// inView returns a command that runs script in cg, in a private mount namespace where the view
// files in paths (e.g. "proc/stat") are bind-mounted over the real ones.
func inView(cg *testcgroup.Cgroup, view string, paths []string, script string) *exec.Cmd {
	var binds []string
	for _, p := range paths {
		binds = append(binds, "mount --bind "+filepath.Join(view, p)+" /"+p)
	}
	cmd := cg.Command("unshare", "-m", "--propagation", "private", "sh", "-c", strings.Join(append(binds, script), " && "))
	cmd.WaitDelay = time.Second // a stray background child holding the output must not hang the test
	return cmd
}

// run runs cmd and returns its output split at "@" lines.
func run(t *testing.T, cmd *exec.Cmd, parts int) []string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	p := strings.Split(string(out), "@\n")
	if len(p) != parts {
		t.Fatalf("want %d parts, got %d:\n%s", parts, len(p), out)
	}
	return p
}
