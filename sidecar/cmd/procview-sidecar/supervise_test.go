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

	"github.com/procview/procview/internal/testenv"
)

// children lists the processes pid forked (each of its threads lists the ones it forked).
func children(pid int) []string {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []string
	for _, task := range tasks {
		b, _ := os.ReadFile(task) // a thread that ended meanwhile
		kids = append(kids, strings.Fields(string(b))...)
	}
	return kids
}

// workerOf returns the PID of the supervisor's one child, the FUSE server.
func workerOf(t *testing.T, supervisor int) int {
	t.Helper()
	f := children(supervisor)
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
	testenv.Eventually(t, startWithin, 5*time.Millisecond, func() error {
		b, err := os.ReadFile(filepath.Join(dir, "proc/meminfo"))
		if err == nil && !strings.HasPrefix(string(b), "MemTotal:") {
			err = fmt.Errorf("meminfo starts %.20q", b)
		}
		return err
	})
	return time.Since(since)
}

// A killed server is replaced at once by the supervisor, which itself keeps running: the
// view answers again in milliseconds, with no kubelet involved.
func TestSupervisorReplacesKilledServer(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
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
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	for i := 0; i <= restartBudget; i++ {
		syscall.Kill(workerOf(t, s.cmd.Process.Pid), syscall.SIGKILL)
		if i < restartBudget {
			waitServed(t, s.dir, time.Now())
			waitReported(t, s) // else the kill finds a worker that never served: a different exit
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
		// The last worker died with its mount in place: the supervisor detaches it, so that
		// the kubelet can remove the volume of a pod being deleted.
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), " "+s.dir+" ") {
			t.Errorf("the dead server's mount is still at %s after the supervisor exited\n%s", s.dir, s.log)
		}
		if err := os.Remove(s.dir); err != nil {
			t.Errorf("the mount point cannot be removed: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("supervisor still running after %d quick deaths\n%s", restartBudget+1, s.log)
	}
}

// Killing the supervisor (what the kubelet sees as the container) takes the worker with it,
// so the container's end is the server's end.
func TestWorkerDiesWithSupervisor(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	w := workerOf(t, s.cmd.Process.Pid)
	s.cmd.Process.Kill()
	s.cmd.Wait()
	testenv.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if err := syscall.Kill(w, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("worker %d outlived its supervisor", w)
		}
		return nil
	})
}

// The OOM killer passes over the supervisor (a killed supervisor would take its worker along and
// leave a dead mount), and the worker keeps the score the kubelet gave the container, so in the
// sidecar's memory cgroup the worker is the victim and is replaced. Lowering a score takes
// CAP_SYS_RESOURCE, which privileged containers usually have; where it is missing (these
// machines' root lacks it) both keep the container's score.
func TestSupervisorIsNotTheOOMVictim(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", []string{"sh", "-c", `echo 500 >/proc/self/oom_score_adj && exec "$@"`, "sh"})
	score := func(pid int) string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	want := "-1000"
	if !haveCapSysResource(t) {
		want = "500"
		t.Log("no CAP_SYS_RESOURCE here: checking that the supervisor keeps the container's score")
	}
	if got := score(s.cmd.Process.Pid); got != want {
		t.Errorf("supervisor's oom_score_adj = %s, want %s", got, want)
	}
	if got := score(workerOf(t, s.cmd.Process.Pid)); got != "500" {
		t.Errorf("worker's oom_score_adj = %s, want the container's 500", got)
	}
}

// haveCapSysResource reports whether this process's effective capabilities include
// CAP_SYS_RESOURCE (24).
func haveCapSysResource(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<24) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}
