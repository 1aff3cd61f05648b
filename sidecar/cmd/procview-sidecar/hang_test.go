package main

// The server never waits on itself, and every way out of it is bounded (issue 14, item 1).
// These tests read the view only through other processes that use plain read(2) (GNU cat):
// a read from this test process through Go's os.File would register the file with epoll and so
// make the kernel ask the server FUSE_POLL from outside, which hides the bug they look for (a
// server whose own first epoll registration waits on itself).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// startUnprobed runs `procview-sidecar serve` and waits for its mount with statfs only: no
// process reads a view file before the test does.
func startUnprobed(t *testing.T) *server {
	t.Helper()
	s := launch(t, "", nil)
	testenv.Eventually(t, startWithin, 20*time.Millisecond, func() error {
		if !mounted(s.dir) {
			return fmt.Errorf("no FUSE mount at %s", s.dir)
		}
		return nil
	})
	return s
}

func mounted(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.FUSE_SUPER_MAGIC
}

// catView reads file with cat within limit; a read that hangs is killed and reported.
func catView(file string, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "cat", file)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return "", fmt.Errorf("cat %s did not return within %v", file, limit)
	}
	if err != nil {
		return "", fmt.Errorf("cat %s: %v", file, err)
	}
	if !strings.HasPrefix(string(out), "MemTotal:") {
		return "", fmt.Errorf("cat %s gave %q", file, out)
	}
	return string(out), nil
}

// readEverySecond reads the view's meminfo with cat once a second for d; every read must come
// back within 5 s with content.
func readEverySecond(t *testing.T, s *server, d time.Duration, what string) {
	t.Helper()
	start := time.Now()
	for n := 1; time.Since(start) < d; n++ {
		if _, err := catView(filepath.Join(s.dir, "proc/meminfo"), 5*time.Second); err != nil {
			t.Fatalf("%s: read %d, %v after the start: %v", what, n, time.Since(start).Round(time.Second), err)
		}
		time.Sleep(time.Second)
	}
}

// stopWithin sends SIGTERM and requires the sidecar gone, and its mount with it, within limit.
func stopWithin(t *testing.T, s *server, limit time.Duration) {
	t.Helper()
	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
		t.Logf("exited %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(limit):
		t.Fatalf("still running %v after SIGTERM", limit)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), " "+s.dir+" ") {
		t.Errorf("%s still mounted after the sidecar exited", s.dir)
	}
}

// A server nobody probed kept answering for about 10 s, until its own watchdog's first read
// registered a view file with epoll and the kernel's FUSE_POLL waited on the server's only P.
func TestUnprobedServerKeepsAnswering(t *testing.T) {
	testenv.RequireFUSE(t)
	t.Parallel()
	s := startUnprobed(t)
	readEverySecond(t, s, 60*time.Second, "unprobed server")
	// A reader that registers the file with epoll (Python's select.epoll) is answered too.
	py := `import select,sys; f=open(sys.argv[1]); p=select.epoll(); p.register(f.fileno(), select.EPOLLIN); print(p.poll(5)); print(f.read()[:9])`
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "python3", "-c", py, filepath.Join(s.dir, "proc/meminfo")).CombinedOutput(); err != nil || !strings.Contains(string(out), "MemTotal:") {
		t.Fatalf("epoll reader: %v\n%s", err, out)
	}
	stopWithin(t, s, 2*time.Second)
}

// Every worker the supervisor starts after a kill is as sound as the first: the bug hit each
// successor about 10 s after it started.
func TestSuccessorsOfKilledWorkersKeepAnswering(t *testing.T) {
	testenv.RequireFUSE(t)
	t.Parallel()
	s := startUnprobed(t)
	for i := 1; i <= 5; i++ {
		w := workerOf(t, s.cmd.Process.Pid)
		if err := syscall.Kill(w, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, startWithin, 20*time.Millisecond, func() error {
			if !replaced(s, w) {
				return fmt.Errorf("kill %d: no new worker serving", i)
			}
			return nil
		})
		readEverySecond(t, s, 30*time.Second, fmt.Sprintf("successor %d", i))
	}
	stopWithin(t, s, 2*time.Second)
}

// replaced reports whether the supervisor's one child is a worker other than old, mounted.
func replaced(s *server, old int) bool {
	kids := children(s.cmd.Process.Pid)
	return len(kids) == 1 && kids[0] != strconv.Itoa(old) && mounted(s.dir)
}

// SIGTERM ends the sidecar within 2 s and leaves no mount, at any moment: while it starts,
// while it serves, right after its worker was killed, and with its worker stopped (a wedged
// loop) while a reader waits on it.
func TestSIGTERMAtAnyMoment(t *testing.T) {
	testenv.RequireFUSE(t)
	tests := []struct {
		name   string
		before func(t *testing.T, s *server)
	}{
		{"while serving", func(t *testing.T, s *server) {}},
		{"right after a worker kill", func(t *testing.T, s *server) {
			syscall.Kill(workerOf(t, s.cmd.Process.Pid), syscall.SIGKILL)
		}},
		{"worker stopped with a reader waiting", func(t *testing.T, s *server) {
			w := workerOf(t, s.cmd.Process.Pid)
			if err := syscall.Kill(w, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Kill(w, syscall.SIGCONT) })
			go catView(filepath.Join(s.dir, "proc/meminfo"), 10*time.Second)
			time.Sleep(300 * time.Millisecond) // the reader is waiting on the stopped loop
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startUnprobed(t)
			if _, err := catView(filepath.Join(s.dir, "proc/meminfo"), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			tt.before(t, s)
			stopWithin(t, s, 2*time.Second)
		})
	}
	t.Run("while starting", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command(binary, "serve", "--mountpoint", dir, "--cgroup-root", testcgroup.Root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); syscall.Unmount(dir, syscall.MNT_DETACH) })
		time.Sleep(30 * time.Millisecond)
		stopWithin(t, &server{dir: dir, cmd: cmd, log: &syncBuffer{}}, 2*time.Second)
	})
}

// A loop that stops answering (its worker stopped: every request waits) is found by the
// supervisor's watchdog, which aborts the connection, kills the worker and starts a new one;
// reads come back without anyone restarting the sidecar.
func TestWatchdogReplacesAWedgedWorker(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startUnprobed(t)
	w := workerOf(t, s.cmd.Process.Pid)
	waitReported(t, s) // the watchdog starts then (a worker that never serves is killed after startTimeout)
	if err := syscall.Kill(w, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	limit := watchdogEvery + watchdogTimeout + 10*time.Second
	for {
		if replaced(s, w) {
			if _, err := catView(filepath.Join(s.dir, "proc/meminfo"), 5*time.Second); err == nil {
				break
			}
		}
		if time.Since(stopped) > limit {
			t.Fatalf("the view did not come back within %v of its loop wedging", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("view answered again %v after its loop wedged", time.Since(stopped).Round(time.Millisecond))
	if !strings.Contains(s.log.String(), "wedged") {
		t.Errorf("the supervisor did not log a wedged loop:\n%s", s.log)
	}
	stopWithin(t, s, 2*time.Second)
}
