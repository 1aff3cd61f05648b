package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The watchdog reports a view whose reads hang (the process then exits non-zero and is
// restarted). The hanging file is a FIFO without a writer: serving a wedged FUSE file from this
// test process instead could deadlock the process's own exit on its open files.
func TestWatchdogSeesWedgedLoop(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "f")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a writer that comes and goes frees the hung reader
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wedged := make(chan error, 1)
	go watchdog(ctx, fifo, 50*time.Millisecond, 300*time.Millisecond, wedged)
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
	needRoot(t)
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
