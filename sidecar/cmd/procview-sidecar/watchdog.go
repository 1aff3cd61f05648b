package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// The supervisor watches its worker's FUSE loop from outside. The worker never reads its own
// mount: such a read waits on the very loop that must answer it.
const (
	watchdogEvery   = 10 * time.Second // how often the supervisor reads the view
	watchdogTimeout = 10 * time.Second // a read still waiting after this: the loop is wedged
)

// watchdog reads file every period; a read that does not come back within timeout, or fails,
// is reported on wedged. It returns when ctx ends or after one report.
func watchdog(ctx context.Context, file string, every, timeout time.Duration, wedged chan<- error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		done := make(chan error, 1)
		go func() { done <- readView(file) }() // left waiting if wedged, until the connection is aborted
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				wedged <- fmt.Errorf("own view unreadable: %w", err)
				return
			}
		case <-time.After(timeout):
			wedged <- fmt.Errorf("own view did not answer in %v: FUSE loop wedged", timeout)
			return
		case <-ctx.Done():
			return
		}
	}
}

// readView reads the start of file with plain system calls. Go's os.File would register the
// file with epoll (a FUSE_POLL round trip, in a raw system call that keeps this thread's P);
// a plain read that waits in the kernel lets the runtime run the rest of the process.
func readView(file string) error {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var buf [512]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if n == 0 {
		return fmt.Errorf("read %s: empty", file)
	}
	return nil
}
