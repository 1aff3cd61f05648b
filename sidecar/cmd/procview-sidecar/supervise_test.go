package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// workerOf returns the PID of the supervisor's one child, the FUSE server.
func workerOf(t *testing.T, supervisor int) int {
	t.Helper()
	// Each thread lists the children it forked.
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", supervisor))
	if err != nil {
		t.Fatal(err)
	}
	var f []string
	for _, task := range tasks {
		b, _ := os.ReadFile(task) // a thread that ended meanwhile
		f = append(f, strings.Fields(string(b))...)
	}
	if len(f) != 1 {
		t.Fatalf("supervisor %d has children %q, want one worker", supervisor, f)
	}
	pid, _ := strconv.Atoi(f[0])
	argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if a := strings.Split(string(argv), "\x00"); len(a) < 2 || a[1] != "worker" {
		t.Fatalf("supervisor's child %d runs %q, want procview-sidecar worker", pid, a)
	}
	return pid
}

// waitServed waits until a fresh read of the view works, and returns how long that took.
func waitServed(t *testing.T, dir string, since time.Time) time.Duration {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "proc/meminfo")); err == nil && strings.HasPrefix(string(b), "MemTotal:") {
			return time.Since(since)
		}
	}
	t.Fatal("the view did not answer again within 10 s")
	return 0
}

// A killed server is replaced at once by the supervisor, which itself keeps running: the
// view answers again in milliseconds, with no kubelet involved.
func TestSupervisorReplacesKilledServer(t *testing.T) {
	needRoot(t)
	s := startServer(t, "", nil)
	first := workerOf(t, s.cmd.Process.Pid)
	killed := time.Now()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := waitServed(t, s.dir, killed)
	t.Logf("view answered again %v after the server was killed", took.Round(time.Millisecond))
	if second := workerOf(t, s.cmd.Process.Pid); second == first {
		t.Errorf("worker %d still the same after being killed", first)
	}
	if !strings.Contains(s.log.String(), "the server died; starting a new one") {
		t.Errorf("supervisor did not log the restart:\n%s", s.log)
	}
	// SIGTERM still ends both cleanly, the new worker unmounting.
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, s.log)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), " "+s.dir+" ") {
		t.Errorf("%s still mounted after SIGTERM", s.dir)
	}
}

// A server that keeps dying is not restarted forever: after restartBudget restarts within
// restartWindow the sidecar exits non-zero and the kubelet (with its back-off) takes over.
func TestSupervisorGivesUpOnARestartLoop(t *testing.T) {
	needRoot(t)
	s := startServer(t, "", nil)
	for i := 0; i <= restartBudget; i++ {
		syscall.Kill(workerOf(t, s.cmd.Process.Pid), syscall.SIGKILL)
		if i < restartBudget {
			waitServed(t, s.dir, time.Now())
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 128+int(syscall.SIGKILL) {
			t.Errorf("exit %v, want the last worker's status 137\n%s", err, s.log)
		}
		if !strings.Contains(s.log.String(), "the server died too often") {
			t.Errorf("log does not say why:\n%s", s.log)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("supervisor still running after %d quick deaths\n%s", restartBudget+1, s.log)
	}
}

// Killing the supervisor (what the kubelet sees as the container) takes the worker with it,
// so the container's end is the server's end.
func TestWorkerDiesWithSupervisor(t *testing.T) {
	needRoot(t)
	s := startServer(t, "", nil)
	w := workerOf(t, s.cmd.Process.Pid)
	s.cmd.Process.Kill()
	s.cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(w, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d outlived its supervisor", w)
		}
	}
}
