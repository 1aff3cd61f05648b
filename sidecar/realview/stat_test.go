package realview

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// vmstat's r and b columns are the container's own threads, and Python's now − btime is the
// container's uptime from /proc/uptime (not the node's boot).
func TestStatBtimeAndProcsAreTheContainers(t *testing.T) {
	view := mountView(t, nil)
	cg := testcgroup.New(t, "stat", testcgroup.Limits{})
	// Three busy threads in the container for the moment vmstat looks; the shell waits (S).
	// The loops end by themselves should the test die before it kills them.
	script := `pids=; for i in 1 2 3; do timeout 20 sh -c 'while :; do :; done' & pids="$pids $!"; done; sleep 1; vmstat; echo @; ` +
		`python3 -c 'import time; b=int(open("/proc/stat").read().split("btime ")[1].split()[0]); u=float(open("/proc/uptime").read().split()[0]); print(time.time()-b, u)'; ` +
		`kill $pids`
	start := time.Now()
	parts := run(t, inView(cg, view, []string{"proc/stat", "proc/uptime"}, script), 2)
	vm := strings.Split(strings.TrimSpace(parts[0]), "\n")
	head, vals := strings.Fields(vm[len(vm)-2]), strings.Fields(vm[len(vm)-1])
	col := map[string]string{}
	for i, h := range head {
		if i < len(vals) {
			col[h] = vals[i]
		}
	}
	// procs_running counts the reader too, as the kernel does: 3 loops + vmstat.
	if col["r"] != "4" || col["b"] != "0" {
		t.Errorf("vmstat r=%s b=%s, want the container's 4 running (3 loops and vmstat) and 0 blocked\n%s", col["r"], col["b"], parts[0])
	}
	f := strings.Fields(parts[1])
	sinceBtime, err1 := strconv.ParseFloat(f[0], 64)
	uptime, err2 := strconv.ParseFloat(f[1], 64)
	if len(f) != 2 || err1 != nil || err2 != nil {
		t.Fatalf("python: %q", parts[1])
	}
	// btime has whole seconds and the host's is already truncated: with the start rounded to
	// the nearest second, now − btime is within −0.5..+1.5 s of the uptime (plus scheduling).
	if d := sinceBtime - uptime; d < -0.7 || d > 2 {
		t.Errorf("now − btime = %.2f s but uptime = %.2f s: they must agree", sinceBtime, uptime)
	}
	if limit := time.Since(start).Seconds() + 1; uptime > limit {
		t.Errorf("uptime %.2f s, want the container's age (under %.0f s)", uptime, limit)
	}
}
