package fusefs

import (
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"

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
		CPUView: render.CPUViewQuota, Now: func() time.Duration { return time.Duration(time.Now().UnixNano()) }, Log: logr.Discard()})
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
