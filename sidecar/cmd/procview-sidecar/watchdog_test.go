package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/fusefs"
	"github.com/procview/procview/sidecar/render"
)

// blockingReader is a cgroup reader whose every Read waits until release is closed: a
// deliberately wedged handler, which holds the server's one FUSE loop.
type blockingReader struct{ release chan struct{} }

func (r blockingReader) Read(int, cgroup.Need) (*cgroup.Snapshot, error) {
	<-r.release
	return nil, cgroup.ErrNoProcess
}

// The watchdog reports a view whose reads hang: here a real FUSE mount whose handler never
// returns (the supervisor then aborts the connection and replaces the worker).
func TestWatchdogSeesWedgedHandler(t *testing.T) {
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	r := blockingReader{release: make(chan struct{})}
	files := []render.File{{Path: "proc/meminfo", Render: func(dst []byte, _ render.Input) ([]byte, error) { return dst, nil }}}
	mfs, err := fusefs.Mount(dir, fusefs.New(fusefs.Options{Reader: r, Files: files, ProcRoot: "/proc", SysRoot: "/sys",
		Now: func() time.Duration { return 0 }, Log: logr.Discard()}))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	unwedge := func() { once.Do(func() { close(r.release) }) }
	t.Cleanup(func() {
		unwedge()
		fusefs.Unmount(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		mfs.Join(ctx)
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wedged := make(chan error, 1)
	go watchdog(ctx, filepath.Join(dir, "proc/meminfo"), 50*time.Millisecond, 300*time.Millisecond, wedged)
	select {
	case err := <-wedged:
		if !strings.Contains(err.Error(), "wedged") {
			t.Errorf("watchdog said %q, want it to name a wedged loop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watchdog did not notice reads that never answer")
	}
}

// A live view keeps the watchdog quiet.
func TestWatchdogQuietWhileViewAnswers(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	ctx, cancel := context.WithCancel(t.Context())
	wedged := make(chan error, 1)
	go watchdog(ctx, filepath.Join(s.dir, "proc/meminfo"), 20*time.Millisecond, 5*time.Second, wedged)
	select {
	case err := <-wedged:
		t.Errorf("watchdog reported a live view: %v", err)
	case <-time.After(time.Second):
	}
	cancel()
}
