package fusefs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/jacobsa/fuse"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/internal/testcgroup"
	"github.com/procview/procview/sidecar/render"
)

// mountView mounts a real view served by this test process and unmounts it when the test ends.
func mountView(t *testing.T, reader cgroup.Reader, files []render.File) string {
	t.Helper()
	return mountOpts(t, Options{Reader: reader, Files: files, SysRoot: "/sys"})
}

// mountOpts is mountView with more options (ProcRoot, CPUView, Now and Log are set here).
func mountOpts(t *testing.T, opts Options) string {
	t.Helper()
	return testenv.MountFUSE(t, func(dir string, log logr.Logger) (*fuse.MountedFileSystem, error) {
		opts.ProcRoot, opts.CPUView, opts.Log = "/proc", podview.CPUViewQuota, log
		opts.Now = func() time.Duration { return time.Duration(time.Now().UnixNano()) }
		return Mount(dir, New(opts))
	}, Unmount)
}

func realReader(t *testing.T) cgroup.Reader {
	r, err := cgroup.New(cgroup.Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestConcurrentReadersSeeTheirOwnCgroup runs readers in four cgroups with different memory
// limits against one mount at once; every read must show the reader's own limit.
func TestConcurrentReadersSeeTheirOwnCgroup(t *testing.T) {
	dir := mountView(t, realReader(t), render.Files())
	const reads = 150
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		limitMiB := 64 * (i + 1)
		cg := testcgroup.New(t, fmt.Sprintf("conc%d", i), testcgroup.Limits{MemoryBytes: int64(limitMiB) << 20})
		want := fmt.Sprintf("MemTotal:%15d kB", limitMiB*1024)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				script := fmt.Sprintf("for i in $(seq %d); do head -1 %s/proc/meminfo; done", reads, dir)
				out, err := cg.Command("sh", "-c", script).Output()
				if err != nil {
					errs <- fmt.Errorf("reader in %d MiB cgroup: %v", limitMiB, err)
					return
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if len(lines) != reads {
					errs <- fmt.Errorf("%d MiB: %d lines, want %d", limitMiB, len(lines), reads)
					return
				}
				for _, l := range lines {
					if l != want {
						errs <- fmt.Errorf("%d MiB reader saw %q, want %q", limitMiB, l, want)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A reader outside the scope gets the host's file, never a container's view.
func TestOutOfScopeReaderGetsHostFile(t *testing.T) {
	r, err := cgroup.New(cgroup.Options{Root: testcgroup.Root, ProcRoot: "/proc", Scope: "/procview-no-such-scope"})
	if err != nil {
		t.Fatal(err)
	}
	dir := mountView(t, r, render.Files())
	got, err := os.ReadFile(filepath.Join(dir, "proc/meminfo"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.ReadFile("/proc/meminfo")
	if first(got) != first(host) {
		t.Errorf("out-of-scope reader got %q, want the host's %q", first(got), first(host))
	}
}

type panicReader struct{}

func (panicReader) Read(int, cgroup.Need) (*cgroup.Snapshot, error) { panic("boom") }

type failReader struct{}

func (failReader) Read(int, cgroup.Need) (*cgroup.Snapshot, error) {
	return nil, errors.New("read /sys/fs/cgroup/x/memory.stat: no such file")
}

// A panic or an error while rendering is EIO for that open; the server keeps serving.
func TestRenderFailuresAreEIO(t *testing.T) {
	for name, r := range map[string]cgroup.Reader{"panic": panicReader{}, "error": failReader{}} {
		t.Run(name, func(t *testing.T) {
			dir := mountView(t, r, render.Files())
			for range 3 {
				_, err := os.ReadFile(filepath.Join(dir, "proc/meminfo"))
				if !errors.Is(err, errEIO) {
					t.Fatalf("read: %v, want EIO", err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "proc/cpuinfo")); err != nil {
				t.Fatalf("server gone after failures: %v", err)
			}
		})
	}
}

func TestTreeAndSubset(t *testing.T) {
	var files []render.File
	for _, p := range []string{"proc/uptime", "sys/devices/system/cpu/online"} {
		f, _ := render.Lookup(p)
		files = append(files, f)
	}
	dir := mountView(t, realReader(t), files)
	out, err := exec.Command("find", dir, "-mindepth", "1").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(strings.TrimSpace(string(out)), dir+"/", "")
	want := "proc\nproc/uptime\nsys\nsys/devices\nsys/devices/system\nsys/devices/system/cpu\nsys/devices/system/cpu/online"
	if got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "proc/meminfo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("meminfo not served but stat says %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proc/uptime"), []byte("1"), 0o644); err == nil {
		t.Error("write to the read-only view succeeded")
	}
}

func first(b []byte) string { l, _, _ := bytes.Cut(b, []byte("\n")); return string(l) }

var errEIO = syscallEIO()

// TestRereadFromZeroIsFresh: top and the procps library keep /proc/meminfo open and pread it
// from offset 0 on every refresh; each such read must render anew, not replay the first.
func TestRereadFromZeroIsFresh(t *testing.T) {
	dir := mountView(t, realReader(t), render.Files())
	cg := testcgroup.New(t, "reread", testcgroup.Limits{MemoryBytes: 64 << 20})
	script := `import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for _ in range(2):
    print(os.pread(fd, 65536, 0).split(b"\n")[0].decode(), flush=True)
    sys.stdin.readline()
`
	cmd := cg.Command("python3", "-c", script, filepath.Join(dir, "proc/meminfo"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("reader ended early: %v", lines.Err())
		}
		return lines.Text()
	}
	if got, want := next(), fmt.Sprintf("MemTotal:%15d kB", 64<<10); got != want {
		t.Fatalf("first read: %q, want %q", got, want)
	}
	limit := filepath.Join(testcgroup.Root, "memory", cg.Path(), "memory.limit_in_bytes")
	if _, err := os.Stat(filepath.Join(testcgroup.Root, "cgroup.controllers")); err == nil {
		limit = filepath.Join(testcgroup.Root, cg.Path(), "memory.max")
	}
	if err := os.WriteFile(limit, []byte(fmt.Sprint(128<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin)
	if got, want := next(), fmt.Sprintf("MemTotal:%15d kB", 128<<10); got != want {
		t.Errorf("re-read from 0 on the same open file: %q, want %q (a fresh render)", got, want)
	}
}
