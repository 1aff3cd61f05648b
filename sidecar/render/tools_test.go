package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procview/procview/internal/testenv"
)

// TestRealToolsReadTheView renders a 256 MiB / half-CPU container's files, bind-mounts them
// over the real ones in a private mount namespace and asserts what procps, glibc and python
// make of them: the formats are what the real consumers accept.
func TestRealToolsReadTheView(t *testing.T) {
	testenv.RequireRoot(t, "bind mounts over /proc")
	c := cases[0] // 256 MiB, 200 MiB used of which 50 MiB reclaimable cache; quota 0.5 CPU; 1000 s old
	in := Input{Snap: &c.snap, Host: loadHost(t, c.host, c.online), Now: c.now, CPUView: c.view, Load: c.load}
	dir := t.TempDir()
	var binds []string
	for _, f := range Files() {
		b, err := f.Render(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(f.Path, "/", "_"))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		binds = append(binds, "mount --bind "+p+" /"+f.Path)
	}
	python := "echo no-python"
	if _, err := exec.LookPath("python3"); err == nil {
		python = `python3 -c 'import os; print(os.cpu_count())'`
	}
	script := strings.Join(binds, " && ") + ` && free -m && echo @ && getconf _NPROCESSORS_ONLN && echo @ && ` + python +
		` && echo @ && uptime && echo @ && grep -c ^processor /proc/cpuinfo && echo @ && vmstat`
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("tools: %v\n%s", err, out)
	}
	parts := strings.Split(string(out), "@\n")
	if len(parts) != 6 {
		t.Fatalf("tool output:\n%s", out)
	}

	// free: total is the limit, used = total - available = 256 - (56 free + 50 cache) = 150.
	free := strings.Split(parts[0], "\n")
	if len(free) < 2 || len(strings.Fields(free[1])) < 3 || !strings.HasPrefix(free[1], "Mem:") {
		t.Fatalf("free -m:\n%s", parts[0])
	}
	if f := strings.Fields(free[1]); f[1] != "256" || f[2] != "150" {
		t.Errorf("free -m Mem: total %s used %s, want 256 and 150\n%s", f[1], f[2], parts[0])
	}
	if got := strings.TrimSpace(parts[1]); got != "1" {
		t.Errorf("getconf _NPROCESSORS_ONLN = %q, want 1", got)
	}
	if got := strings.TrimSpace(parts[2]); got != "1" && got != "no-python" {
		t.Errorf("python os.cpu_count() = %q, want 1", got)
	}
	if up := parts[3]; !strings.Contains(up, "up 16 min") || !strings.Contains(up, "load average: 1.50, 0.75, 0.25") {
		t.Errorf("uptime = %q, want up 16 min (1000 s) and the tracked load 1.50, 0.75, 0.25", up)
	}
	if got := strings.TrimSpace(parts[4]); got != "1" {
		t.Errorf("/proc/cpuinfo has %s processors, want 1", got)
	}
	// vmstat's CPU columns are since-boot shares from /proc/stat: 70 s user, 30 s system, 900 s idle.
	vm := strings.Split(strings.TrimSpace(parts[5]), "\n")
	head, vals := strings.Fields(vm[len(vm)-2]), strings.Fields(vm[len(vm)-1])
	got := map[string]string{}
	for i, h := range head {
		if i < len(vals) {
			got[h] = vals[i]
		}
	}
	if got["us"] != "7" || got["sy"] != "3" || got["id"] != "90" {
		t.Errorf("vmstat us/sy/id = %s/%s/%s, want 7/3/90\n%s", got["us"], got["sy"], got["id"], parts[5])
	}
}
