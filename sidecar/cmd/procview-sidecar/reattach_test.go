package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// reattachScript plays a pod in a private PID+mount namespace (so nothing outside it is
// scanned or touched): a shared volume (tmpfs) holds the mount point, the "app" has its own
// mount namespace that is a slave of it (HostToContainer) with the view bound over /proc/meminfo,
// and reads in a loop. The first server is SIGKILLed; the second, with --reattach, must detach
// the dead mount and re-bind the live view inside the app's namespace.
const reattachScript = `
set -eu
B=$1 VOL=$2 LOG=$3 CG=$4
mount -t tmpfs procview-test "$VOL"
mount --make-shared "$VOL"
mkdir "$VOL/view"
V=$VOL/view
probe() { for i in $(seq 200); do "$B" probe --mountpoint "$V" 2>/dev/null && return 0; sleep 0.05; done; echo "probe timed out"; return 1; }
waitfor() { for i in $(seq 200); do [ "$(tail -1 "$LOG/app.log")" = "$1" ] && return 0; sleep 0.02; done; echo "app never read $1"; return 1; }
"$B" serve --mountpoint "$V" --cgroup-root "$CG" 2>"$LOG/s1.log" &
S1=$!
probe
unshare -m --propagation slave sh -c '
  mount --bind "$0/proc/meminfo" /proc/meminfo
  while :; do if head -1 /proc/meminfo | grep -q ^MemTotal:; then echo ok; else echo fail; fi; sleep 0.01; done' "$V" >>"$LOG/app.log" 2>/dev/null &
waitfor ok
kill -KILL $S1
waitfor fail
echo killed >>"$LOG/app.log"
T0=$(date +%s%N)
"$B" serve --mountpoint "$V" --cgroup-root "$CG" --reattach 2>"$LOG/s2.log" &
S2=$!
probe
waitfor ok
echo healed >>"$LOG/app.log"
echo "recovered in $(( ($(date +%s%N) - T0) / 1000000 )) ms (server start, detach, mount, re-attach)"
# At least 5 more reads (the test wants them all good): counted, not timed, since a slow
# machine (the TCG VM of test/vm) reads a few times a second only.
N0=$(wc -l <"$LOG/app.log")
for i in $(seq 600); do [ $(($(wc -l <"$LOG/app.log") - N0)) -ge 6 ] && break; sleep 0.05; done
echo stopping >>"$LOG/app.log" # reads fail once the server has unmounted: not counted
kill -TERM $S2
wait $S2
`

func TestReattachAfterServerKill(t *testing.T) {
	testenv.RequireFUSE(t)
	vol, logs := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	// --kill-child: if the test gives up, the namespace's init and so everything in it dies.
	cmd := exec.CommandContext(ctx, "unshare", "--kill-child", "-p", "-f", "-m", "--mount-proc", "--propagation", "private",
		"sh", "-c", reattachScript, "sh", binary, vol, logs, testcgroup.Root)
	out, err := cmd.CombinedOutput()
	app, _ := os.ReadFile(filepath.Join(logs, "app.log"))
	s2, _ := os.ReadFile(filepath.Join(logs, "s2.log"))
	if err != nil {
		t.Fatalf("%v\n%s\nserver 2 log:\n%s\napp reads:\n%s", err, out, s2, tail(string(app)))
	}
	t.Log(strings.TrimSpace(string(out)))
	if !strings.Contains(string(s2), "re-attached the view") || !strings.Contains(string(s2), "detaching a previous instance's mount") {
		t.Errorf("server 2 log does not show detach + re-attach:\n%s", s2)
	}
	// The app's reads: ok before the kill, failing after it, and never failing again once healed.
	before, rest, _ := strings.Cut(string(app), "killed\n")
	_, after, ok := strings.Cut(rest, "healed\n")
	after, _, stopped := strings.Cut(after, "stopping\n")
	if !ok || !stopped || strings.Contains(before, "fail") && !strings.HasSuffix(before, "fail\n") {
		t.Fatalf("unexpected app log:\n%s", tail(string(app)))
	}
	if n := strings.Count(after, "fail"); n > 0 || strings.Count(after, "ok") < 5 {
		t.Errorf("after re-attach: %d failed reads, %d good, want only good ones\nserver 2 log:\n%s", n, strings.Count(after, "ok"), s2)
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
