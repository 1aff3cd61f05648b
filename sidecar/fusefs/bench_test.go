package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/internal/testcgroup"
	"github.com/procview/procview/sidecar/render"
)

// BenchmarkRender measures one open's work (cgroup read, host facts, render) per file, for this
// process in its real cgroup: the server-side cost of a read, without the FUSE round trips.
func BenchmarkRender(b *testing.B) {
	r, err := cgroup.New(cgroup.Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		b.Fatal(err)
	}
	fs := New(Options{Reader: r, Files: render.Files(), ProcRoot: "/proc", SysRoot: "/sys",
		CPUView: podview.CPUViewQuota, Now: func() time.Duration { return time.Duration(time.Now().UnixNano()) }, Log: logr.Discard()})
	pid := os.Getpid()
	for _, f := range render.Files() {
		b.Run(f.Path, func(b *testing.B) {
			buf := make([]byte, 0, 16<<10)
			for b.Loop() {
				if _, err := fs.render(buf[:0], pid, &f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadThroughMount is what a reader pays: open, read to EOF and close of each view
// file on a real mount served by this process, for this process's own cgroup.
func BenchmarkReadThroughMount(b *testing.B) {
	testenv.RequireFUSE(b)
	r, err := cgroup.New(cgroup.Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	fs := New(Options{Reader: r, Files: render.Files(), ProcRoot: "/proc", SysRoot: "/sys",
		CPUView: podview.CPUViewQuota, Now: func() time.Duration { return time.Duration(time.Now().UnixNano()) }, Log: logr.Discard()})
	mfs, err := Mount(dir, fs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { Unmount(dir); mfs.Join(context.Background()) })
	buf := make([]byte, 64<<10)
	for _, f := range render.Files() {
		b.Run(f.Path, func(b *testing.B) {
			for b.Loop() {
				fd, err := unix.Open(filepath.Join(dir, f.Path), unix.O_RDONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				for {
					n, err := unix.Read(fd, buf)
					if err != nil {
						b.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				unix.Close(fd)
			}
		})
	}
}
