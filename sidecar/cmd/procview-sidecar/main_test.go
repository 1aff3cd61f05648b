package main

// Integration tests: the built binary serves a real FUSE mount; readers are real processes in
// real cgroups of this machine, in their own mount+PID namespaces with the view bind-mounted
// over /proc, running the real tools (procps free, getconf, python3).

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kelseyhightower/envconfig"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/config"
	"github.com/procview/procview/sidecar/fusefs"
	"github.com/procview/procview/sidecar/internal/testcgroup"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "procview-sidecar-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "procview-sidecar")
	// A test binary run where there is no Go toolchain (the cgroup v2 VM, test/vm) is given
	// the sidecar built on the host.
	if prebuilt := os.Getenv("PROCVIEW_TEST_SIDECAR"); prebuilt != "" {
		binary = prebuilt
	} else if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running procview-sidecar.
type server struct {
	dir string
	cmd *exec.Cmd
	log *syncBuffer
}

// syncBuffer collects the server's stderr; exec writes it from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `procview-sidecar serve` on a fresh dir (wrapped by prefix, e.g. unshare)
// and waits for probe to pass. Cleanup stops it and detaches the mount whatever happened.
func startServer(t *testing.T, dir string, prefix []string, args ...string) *server {
	t.Helper()
	s := launch(t, dir, prefix, args...)
	// Generous: in the cgroup v2 VM under software emulation on a busy host a start took >10 s.
	testenv.Eventually(t, startWithin, 50*time.Millisecond, func() error {
		if out, err := exec.Command(binary, "probe", "--mountpoint", s.dir).CombinedOutput(); err != nil {
			return fmt.Errorf("the view does not answer: %v: %s", err, out)
		}
		return nil
	})
	if len(prefix) == 0 && !slices.Contains(args, "--supervise=false") {
		waitReported(t, s)
	}
	return s
}

const startWithin = 30 * time.Second

// waitReported waits until the supervisor's worker has told it that it serves (the view can
// answer a moment earlier): only then does the supervisor count it as a server that served,
// restart it when it dies, and watch it. The worker closes its ready pipe, fd 3, once it wrote.
func waitReported(t *testing.T, s *server) {
	t.Helper()
	w := workerOf(t, s.cmd.Process.Pid)
	testenv.Eventually(t, startWithin, 20*time.Millisecond, func() error {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", w)); err == nil && strings.HasPrefix(l, "pipe:") {
			return fmt.Errorf("worker %d has not reported that it serves", w)
		}
		return nil
	})
}

// launch starts `procview-sidecar serve` on dir (a fresh one if ""), wrapped by prefix. Cleanup
// aborts its connection (a wedged server keeps its readers and itself waiting), kills it and
// detaches the mount, and shows its log if the test failed.
func launch(t *testing.T, dir string, prefix []string, args ...string) *server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	argv := append(append(prefix, binary, "serve", "--mountpoint", dir, "--cgroup-root", testcgroup.Root), args...)
	s := &server{dir: dir, cmd: exec.Command(argv[0], argv[1:]...), log: &syncBuffer{}}
	s.cmd.Stderr = s.log
	// Its own process group, so cleanup also stops a server that a wrapper (unshare) forked.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
		fusefs.Abort(dir)
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.cmd.Wait()
		syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	return s
}

// inContainer runs script as a "container": in cg, in new mount+PID namespaces with a fresh
// /proc, the view's files bound over /proc/* and /sys/devices/system/cpu/online.
func inContainer(t *testing.T, cg *testcgroup.Cgroup, view, script string) string {
	t.Helper()
	var binds strings.Builder
	for _, f := range podview.Files() {
		fmt.Fprintf(&binds, "mount --bind %s %s && ", filepath.Join(view, f.Path), f.Target())
	}
	cmd := cg.Command("unshare", "-m", "-p", "-f", "--mount-proc", "--propagation", "private",
		"sh", "-c", binds.String()+script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func freeMem(t *testing.T, out string) (total, used int) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "Mem:" {
			total, _ = strconv.Atoi(f[1])
			used, _ = strconv.Atoi(f[2])
			return total, used
		}
	}
	t.Fatalf("no Mem: line in\n%s", out)
	return 0, 0
}

func TestRealToolsSeeTheContainer(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	half := testcgroup.New(t, "half", testcgroup.Limits{MemoryBytes: 256 << 20, CPUQuotaUS: 50000})
	pinned := testcgroup.New(t, "pinned", testcgroup.Limits{MemoryBytes: 512 << 20, Cpuset: "0"})

	begin := time.Now()
	out := inContainer(t, half, s.dir, `free -m; echo nproc=$(getconf _NPROCESSORS_ONLN);
		echo py=$(python3 -c 'import os; print(os.cpu_count())'); echo cpuinfo=$(grep -c ^processor /proc/cpuinfo);
		echo online=$(cat /sys/devices/system/cpu/online); echo uptime=$(cut -d' ' -f1 /proc/uptime)`)
	if total, _ := freeMem(t, out); total != 256 {
		t.Errorf("free -m total %d, want 256\n%s", total, out)
	}
	for _, want := range []string{"nproc=1\n", "py=1\n", "cpuinfo=1\n", "online=0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", strings.TrimSpace(want), out)
		}
	}
	// uptime is the age of the container (its first process started after begin), not the host's.
	up := field(t, out, "uptime=")
	if age := time.Since(begin).Seconds(); up < 0 || up > age+0.5 {
		t.Errorf("uptime %.2f s, want the container's age (at most %.2f s)", up, age)
	}

	// used grows with what the container allocates.
	out = inContainer(t, half, s.dir, `free -m; python3 -c '
import subprocess
b = bytearray(100 << 20)
subprocess.run(["free", "-m"])'`)
	parts := strings.SplitN(out, "Mem:", 3)
	if len(parts) != 3 {
		t.Fatalf("two free outputs expected:\n%s", out)
	}
	_, before := freeMem(t, "Mem:"+parts[1])
	_, after := freeMem(t, "Mem:"+parts[2])
	if after-before < 90 {
		t.Errorf("used went %d -> %d MiB after allocating 100 MiB", before, after)
	}

	// Another cgroup on the same mount sees its own numbers: cpuset {0}, 512 MiB.
	out = inContainer(t, pinned, s.dir, `free -m; echo nproc=$(getconf _NPROCESSORS_ONLN); echo cpuinfo=$(grep -c ^processor /proc/cpuinfo)`)
	if total, _ := freeMem(t, out); total != 512 {
		t.Errorf("pinned: free -m total %d, want 512\n%s", total, out)
	}
	if !strings.Contains(out, "nproc=1\n") || !strings.Contains(out, "cpuinfo=1\n") {
		t.Errorf("pinned: want 1 CPU\n%s", out)
	}
}

func field(t *testing.T, out, key string) float64 {
	t.Helper()
	i := strings.Index(out, key)
	if i < 0 {
		t.Fatalf("no %s in\n%s", key, out)
	}
	v, err := strconv.ParseFloat(strings.Fields(out[i+len(key):])[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The kernel gives the server PID 0 for a reader outside the server's PID namespace. Here the
// server runs in a child PID namespace and this test process reads: it gets the host's file.
func TestPIDZeroReaderGetsHostFile(t *testing.T) {
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	procDir := t.TempDir()
	t.Cleanup(func() { syscall.Unmount(procDir, syscall.MNT_DETACH) })
	// The server needs a procfs of its own PID namespace to resolve its readers.
	s := startServer(t, dir, []string{"unshare", "-p", "-f", "sh", "-c", `mount -t proc proc "$0" && exec "$@"`, procDir}, "--proc-root", procDir)
	cg := testcgroup.New(t, "pid0", testcgroup.Limits{MemoryBytes: 128 << 20})
	// This process is outside the server's namespace, and in no limited cgroup: host values.
	got, err := os.ReadFile(filepath.Join(s.dir, "proc/meminfo"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.ReadFile("/proc/meminfo")
	if line(got) != line(host) {
		t.Errorf("PID-0 reader got %q, want the host's %q", line(got), line(host))
	}
	// Even a process in a limited cgroup, when outside the namespace, gets nothing of its cgroup.
	out, err := cg.Command("head", "-1", filepath.Join(s.dir, "proc/meminfo")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != line(host) {
		t.Errorf("PID-0 reader in a 128 MiB cgroup got %q, want the host's line", out)
	}
	// A reader in a sibling PID namespace of the server's is PID 0 to it as well.
	out, err = cg.Command("unshare", "-p", "-f", "head", "-1", filepath.Join(s.dir, "proc/meminfo")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != line(host) {
		t.Errorf("reader in a sibling PID namespace got %q, want the host's line", out)
	}
}

func line(b []byte) string { l, _, _ := bytes.Cut(b, []byte("\n")); return string(l) }

// SIGTERM unmounts and exits 0; a SIGKILLed server leaves a dead mount that the next one replaces.
func TestRestartAndShutdown(t *testing.T) {
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	s1 := startServer(t, dir, nil)
	s1.cmd.Process.Kill()
	s1.cmd.Wait()
	_, err := os.ReadFile(filepath.Join(dir, "proc/meminfo"))
	if !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		t.Fatalf("after SIGKILL read gave %v, want ENOTCONN", err)
	}
	s2 := startServer(t, dir, nil)
	if !strings.Contains(s2.log.String(), "detaching a previous instance's mount") {
		t.Errorf("log does not say the stale mount was detached:\n%s", s2.log)
	}
	if err := s2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s2.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, s2.log)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(" "+dir+" ")) {
		t.Errorf("%s still mounted after SIGTERM", dir)
	}
}

func TestClearErrors(t *testing.T) {
	testenv.RequireFUSE(t)
	nonEmpty := t.TempDir()
	os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing mount point", []string{"serve", "--mountpoint", "/nonexistent/view"}, "mount point /nonexistent/view"},
		{"non-empty mount point", []string{"serve", "--mountpoint", nonEmpty}, "is not empty"},
		{"not a cgroup root", []string{"serve", "--mountpoint", t.TempDir(), "--cgroup-root", t.TempDir()}, "not a cgroup filesystem"},
		{"bad cpu view", []string{"serve", "--mountpoint", t.TempDir(), "--cpu-view", "cores"}, "want quota or cpuset"},
		{"unknown file", []string{"serve", "--mountpoint", t.TempDir(), "--files", "proc/vmstat"}, `unknown view file "proc/vmstat"`},
		{"probe on nothing", []string{"probe", "--mountpoint", t.TempDir()}, "is not mounted yet"},
		// An empty /dev in a private mount namespace, as in a container without the device.
		{"no /dev/fuse", []string{"unshare", "-m", "--propagation", "private", "sh", "-c",
			`mount -t tmpfs nodev /dev && exec "$0" serve --mountpoint "$1"`, binary, t.TempDir()}, "no /dev/fuse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append([]string{binary}, tt.args...)
			if tt.args[0] == "unshare" {
				argv = tt.args
			}
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err == nil {
				t.Fatalf("exit 0, want failure; output:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
				t.Errorf("output %q, want one line containing %q", out, tt.want)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite settings.txt")

// The settings table in --help is envconfig's, for the current config.Serve.
func TestSettingsTableIsCurrent(t *testing.T) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0) // align envconfig's tab-separated table
	if err := envconfig.Usagef(podview.EnvPrefix, &config.Serve{}, tw, envconfig.DefaultTableFormat); err != nil {
		t.Fatal(err)
	}
	tw.Flush()
	if *update { // the binary embeds the old file until it is built again
		if err := os.WriteFile("settings.txt", b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(b.String(), settingsTable); d != "" {
		t.Errorf("settings.txt is not envconfig's table for config.Serve (go test -run SettingsTable -update rewrites it; -want +got):\n%s", d)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{podview.EnvMountPoint, podview.EnvCgroupRoot, podview.EnvProcRoot, podview.EnvScope, podview.EnvCPUView, podview.EnvFiles, podview.EnvReattach} {
		if !strings.Contains(string(out), env) {
			t.Errorf("--help does not mention %s", env)
		}
	}
}

// As in a privileged container: /proc/self/cgroup names host paths but /sys/fs/cgroup shows
// none of them. With the default cgroup root "auto" the server mounts the cgroup filesystems
// privately and still serves the reader's own limit.
func TestAutoCgroupRootMountsPrivately(t *testing.T) {
	testenv.RequireFUSE(t)
	if _, err := os.Stat("/run/procview"); errors.Is(err, os.ErrNotExist) {
		t.Cleanup(func() { os.RemoveAll("/run/procview") }) // the empty directories it leaves
	}
	cg := testcgroup.New(t, "auto", testcgroup.Limits{MemoryBytes: 192 << 20})
	script := `set -eu
mount -t tmpfs hidden /sys/fs/cgroup
"$0" serve --mountpoint "$1" 2>"$2" &
S=$!
for i in $(seq 200); do "$0" probe --mountpoint "$1" 2>/dev/null && break; sleep 0.05; done
head -1 "$1/proc/meminfo"
kill -TERM $S
wait $S`
	logf := filepath.Join(t.TempDir(), "server.log")
	out, err := cg.Command("unshare", "--kill-child", "-m", "--propagation", "private", "sh", "-c", script,
		binary, t.TempDir(), logf).CombinedOutput()
	log, _ := os.ReadFile(logf)
	if err != nil {
		t.Fatalf("%v\n%s\nserver log:\n%s", err, out, log)
	}
	if want := fmt.Sprintf("MemTotal:%15d kB", 192<<10); strings.TrimSpace(string(out)) != want {
		t.Errorf("got %q, want %q\nserver log:\n%s", out, want, log)
	}
	if !strings.Contains(string(log), `"cgroupRoot"="/run/procview/cgroup"`) {
		t.Errorf("server did not use the private cgroup mounts:\n%s", log)
	}
}

// When the FUSE loop ends without a signal (here: unmounted from outside), an unsupervised
// server exits non-zero so the kubelet restarts it.
func TestLoopEndExitsNonZero(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil, "--supervise=false")
	if err := syscall.Unmount(s.dir, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("exit %v, want a non-zero exit code\n%s", err, s.log)
		}
		if !strings.Contains(s.log.String(), "FUSE loop ended") {
			t.Errorf("log does not say why:\n%s", s.log)
		}
	case <-time.After(20 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done // one Wait at a time; cleanup's later Wait returns at once
		t.Fatalf("server still running 20 s after its mount went away\n%s", s.log)
	}
}

// In a pod the mount point is a subdirectory of a fresh emptyDir that nobody has created.
func TestCreatesMountPointInExistingParent(t *testing.T) {
	testenv.RequireFUSE(t)
	dir := filepath.Join(t.TempDir(), "view")
	s := startServer(t, dir, nil)
	if _, err := os.ReadFile(filepath.Join(s.dir, "proc/meminfo")); err != nil {
		t.Fatal(err)
	}
}

// probe --wait (the sidecar's postStart hook) returns as soon as a server starting later
// answers, and fails when none does in time.
func TestProbeWaitsForTheView(t *testing.T) {
	testenv.RequireFUSE(t)
	dir := filepath.Join(t.TempDir(), "view")
	waiting := exec.Command(binary, "probe", "--mountpoint", dir, "--wait", "20s")
	out := &syncBuffer{}
	waiting.Stdout, waiting.Stderr = out, out
	if err := waiting.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the probe is polling a directory that does not exist yet
	startServer(t, dir, nil)
	if err := waiting.Wait(); err != nil {
		t.Errorf("probe --wait: %v\n%s", err, out)
	}

	start := time.Now()
	err := exec.Command(binary, "probe", "--mountpoint", t.TempDir(), "--wait", "300ms").Run()
	if err == nil {
		t.Error("probe --wait 300ms on nothing succeeded")
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("probe --wait 300ms gave up after %v", took)
	}
}
