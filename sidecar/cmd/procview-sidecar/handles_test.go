package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procview/procview/internal/testenv"
)

// A reader that holds 50,000 open view files (an fd leak, a poller per thread) leaves the
// server well under the sidecar's default 32 MiB memory limit: a handle read to the end keeps no
// buffer, and buffers of handles stopped mid-file are bounded (maxKeptBytes). Each handle kept
// its ~8 KiB buffer before: the server grew by about 4 KiB an fd and was OOM-killed near 6,500.
func TestManyOpenHandlesStayCheap(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	w := workerOf(t, s.cmd.Process.Pid)
	before := rssKiB(t, w)
	const total = 50000
	cmd := exec.Command("python3", "testdata/hold.py", filepath.Join(s.dir, "proc/meminfo"), strconv.Itoa(total))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	if l, err := bufio.NewReader(out).ReadString('\n'); err != nil || l != "ready\n" {
		t.Fatalf("holder: %q %v", l, err)
	}
	after := rssKiB(t, w)
	t.Logf("server RSS %d KiB idle, %d KiB with %d view files open", before, after, total)
	if after > 24<<10 { // the default limit is 32 MiB; the Go runtime is told 3/4 of it
		t.Errorf("server RSS %d KiB with %d open handles, want under 24 MiB", after, total)
	}
	if got, err := catView(filepath.Join(s.dir, "proc/meminfo"), 5*time.Second); err != nil {
		t.Errorf("the view after that: %v (%q)", err, got)
	}
}

// rssKiB is the resident set size of pid.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
