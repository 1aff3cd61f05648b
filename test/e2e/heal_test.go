//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
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

	corev1 "k8s.io/api/core/v1"

	"github.com/procview/procview/internal/testenv"
)

// healWithin is the promise: reads are correct again this long after the sidecar dies.
const healWithin = 2 * time.Second

// slowdown multiplies the recovery bounds on a node that runs this much slower than a real one:
// the cgroup v2 VM under software emulation sets PROCVIEW_E2E_SLOWDOWN (fork+exec there is 15x).
var slowdown = func() int {
	n, err := strconv.Atoi(os.Getenv("PROCVIEW_E2E_SLOWDOWN"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}()

// readerLoop is an app that opens and reads /proc/meminfo every 5 ms, as a monitoring agent
// would, and prints a line each time the outcome changes: "<unix ns> ok|fail <reads> <failed
// reads> <error>". A read is ok when it succeeds and shows the container's own MemTotal.
const readerLoop = `
import sys, time
want = int(sys.argv[1])
state, reads, fails = None, 0, 0
while True:
    try:
        with open("/proc/meminfo") as f:
            first = f.readline().split()
        ok, err = first[:1] == ["MemTotal:"] and int(first[1]) == want, "MemTotal " + " ".join(first[1:])
    except OSError as e:
        ok, err = False, e.strerror
    reads += 1
    fails += not ok
    if ok != state:
        print(time.time_ns(), "ok" if ok else "fail", reads, fails, "" if ok else err, flush=True)
        state = ok
    time.sleep(0.005)
`

// killSidecar SIGKILLs a sidecar process from inside the app container (the pod shares one
// PID namespace) and prints the kill's time in unix ns. Its argument picks the process by its
// command: "worker" is the FUSE server; "serve" its supervisor, the container's main process.
const killSidecar = `
import os, signal, sys, time
for p in os.listdir("/proc"):
    try:
        argv = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
    except (OSError, ValueError):
        continue
    if argv[0].endswith(b"procview-sidecar") and argv[1:2] == [sys.argv[1].encode()]:
        print(time.time_ns(), p, flush=True)
        os.kill(int(p), signal.SIGKILL)
        break
else:
    raise SystemExit("no procview-sidecar %s process in this PID namespace" % sys.argv[1])
`

type readEvent struct {
	at    time.Time
	ok    bool
	reads int
	fails int
	err   string
}

// readEvents parses the reader app's log.
func readEvents(t *testing.T, ns, pod string) []readEvent {
	t.Helper()
	var evs []readEvent
	for _, line := range strings.Split(strings.TrimSpace(kubectl(t, "logs", pod, "-n", ns, "-c", "app")), "\n") {
		f := strings.SplitN(line, " ", 5)
		if len(f) < 4 {
			t.Fatalf("reader log line %q", line)
		}
		e := readEvent{at: time.Unix(0, int64(atoi(t, "time", f[0]))), ok: f[1] == "ok",
			reads: atoi(t, "reads", f[2]), fails: atoi(t, "fails", f[3])}
		if len(f) == 5 {
			e.err = f[4]
		}
		evs = append(evs, e)
	}
	return evs
}

func readerPod(name string, opts ...podOpt) *corev1.Pod {
	app := appContainer("app", "256Mi", "500m", "python3", "-c", readerLoop, strconv.Itoa(256*1024))
	return newPod(name, []corev1.Container{app}, append([]podOpt{optIn}, opts...)...)
}

// sidecarStatus is the sidecar's status (a native sidecar: an init container).
func sidecarStatus(p *corev1.Pod) corev1.ContainerStatus {
	for _, s := range p.Status.InitContainerStatuses {
		if s.Name == sidecarName {
			return s
		}
	}
	return corev1.ContainerStatus{}
}

func appRestarts(p *corev1.Pod) int32 {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == "app" {
			return s.RestartCount
		}
	}
	return -1
}

// checkHealed waits until the reader app reads correctly again after the sidecar's server died
// at died, then watches it for a while: it returns the recovery time and fails the test when
// reads do not recover within within, fail again later, or the app restarted. containerDied
// says whether the sidecar container itself died (and the kubelet restarted it).
func checkHealed(t *testing.T, ns, pod string, died time.Time, within time.Duration, containerDied bool) time.Duration {
	t.Helper()
	var healed time.Time
	var failed []readEvent
	if err := testenv.Poll(60*time.Second, 200*time.Millisecond, func() error {
		failed = nil
		for _, e := range readEvents(t, ns, pod) {
			if e.at.Before(died) {
				continue
			}
			if !e.ok {
				failed = append(failed, e)
			} else if len(failed) > 0 {
				healed = e.at
				return nil
			}
		}
		return errors.New("not healed")
	}); err != nil {
		t.Fatalf("reads never recovered after the sidecar died; reader log: %+v\n%s", readEvents(t, ns, pod),
			podDiagnosis(ns, pod))
	}
	took := healed.Sub(died)
	t.Logf("reads recovered %v after the kill (first failure: %q)", took.Round(time.Millisecond), failed[0].err)
	within *= time.Duration(slowdown)
	if took > within {
		t.Errorf("reads recovered %v after the sidecar died, want within %v", took.Round(time.Millisecond), within)
	}

	time.Sleep(5 * time.Second) // then no read may fail
	for _, e := range readEvents(t, ns, pod) {
		if e.at.After(healed) && !e.ok {
			t.Errorf("a read failed %v after recovery: %q", e.at.Sub(healed).Round(time.Millisecond), e.err)
		}
	}
	p := getPod(t, ns, pod)
	if n := appRestarts(p); n != 0 {
		t.Errorf("the app container restarted %d times; the sidecar's death must not touch it", n)
	}
	if s := sidecarStatus(p); (s.RestartCount > 0) != containerDied || s.State.Running == nil {
		t.Errorf("sidecar container: %d restarts, state %+v; want running, restarted: %v", s.RestartCount, s.State, containerDied)
	}
	// Ready again: the restarted sidecar's exec startupProbe runs in its own filesystem (a
	// sidecar whose main thread stayed in an app's mount namespace fails every exec).
	if !podReady(p) {
		t.Errorf("pod not Ready 5 s after the view recovered: %+v", p.Status.Conditions)
	}
	return took
}

// SIGKILL the sidecar while the app reads /proc/meminfo in a loop: the reads come back, the
// app is not restarted, and no read fails after that. Killing the FUSE server, the supervisor
// replaces it within healWithin; killing the container's main process, the kubelet must
// notice (its PLEG relist runs every second) and start the container again.
func TestSidecarKilledHeals(t *testing.T) {
	for _, c := range []struct {
		process       string
		within        time.Duration
		containerDied bool
	}{
		{"worker", healWithin, false},
		{"serve", 5 * time.Second, true},
	} {
		t.Run(c.process, func(t *testing.T) {
			ns := newNamespace(t, nil)
			create(t, ns, readerPod("reader"))
			waitReady(t, ns, "reader")
			time.Sleep(time.Second) // a stretch of good reads first

			out := strings.Fields(execIn(t, ns, "reader", "app", "python3", "-c", killSidecar, c.process))
			if len(out) != 2 {
				t.Fatalf("kill printed %q", out)
			}
			died := time.Unix(0, int64(atoi(t, "kill time", out[0])))
			checkHealed(t, ns, "reader", died, c.within, c.containerDied)
		})
	}
}

// The sidecar's server is OOM-killed by the kernel (its memory cgroup's limit is reached): it is
// replaced and heals the view as after a SIGKILL, and the sidecar's log says what happened.
func TestSidecarOOMKilledHeals(t *testing.T) {
	ns := newNamespace(t, nil)
	create(t, ns, readerPod("oom"))
	pod := waitReady(t, ns, "oom")
	time.Sleep(time.Second)

	pid, memcg := sidecarProcess(t, string(pod.UID))
	start := time.Now()
	oomKill(t, pid, memcg)
	checkHealed(t, ns, "oom", firstFailure(t, ns, "oom", start), healWithin, false)
	if log := kubectl(t, "logs", "oom", "-n", ns, "-c", sidecarName); !strings.Contains(log, `"the server died; starting a new one" "status"="signal: killed"`) {
		t.Errorf("the sidecar's log does not tell of the killed server:\n%s", log)
	}
}

// sidecarProcess finds the host PID of the pod's FUSE server (procview-sidecar worker) and its
// memory cgroup directory.
func sidecarProcess(t *testing.T, uid string) (int, string) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if argv := strings.Split(string(b), "\x00"); err != nil || len(argv) < 2 ||
			filepath.Base(argv[0]) != "procview-sidecar" || argv[1] != "worker" {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(cg), uid) {
			continue
		}
		for _, line := range strings.Split(string(cg), "\n") {
			if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[1] == "memory" {
				return pid, filepath.Join("/sys/fs/cgroup/memory", f[2])
			}
		}
		t.Fatalf("pid %d has no memory cgroup: %s", pid, cg)
	}
	t.Fatalf("no procview-sidecar worker process of pod %s on the host", uid)
	return 0, ""
}

// oomHog allocates (and touches) a page at a time until the kernel has OOM-killed something in
// the cgroup (the oom_kill count of memory.oom_control grows; oomKill makes the server the
// preferred victim): it stops right there and exits at once, before the supervisor's new
// server needs memory, or the OOM killer would take the next sidecar process. (Waiting for the
// server's /proc entry to go is too late: it stays until the supervisor has reaped it.) It is
// exec'd after joining the cgroup (oomJoin), so all its memory counts there.
const oomJoin = `echo $$ >"$1/cgroup.procs" && exec python3 -c "$2" "$1" "$3"`

const oomHog = `
import os, sys
memcg, victim = sys.argv[1], sys.argv[2]
def kills():
    for line in open(os.path.join(memcg, "memory.oom_control")):
        k, v = line.split()
        if k == "oom_kill":
            return int(v)
    sys.exit("no oom_kill count in memory.oom_control")
limit = int(open(os.path.join(memcg, "memory.limit_in_bytes")).read())
before = kills()
hog, page = [], 4096  # a name, not a literal: the compiler would fold b"\x01" * 4096 into one object
for _ in range(limit // page + 16384):
    if kills() > before or not os.path.exists("/proc/" + victim):
        break
    hog.append(b"\x01" * page)
print("allocated", len(hog) * page >> 20, "MiB", flush=True)
os._exit(0)  # give the memory back at once: an orderly exit frees it object by object
`

// parentPID is the parent of pid (field 4 of /proc/pid/stat, after the parenthesised name).
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		t.Fatalf("no parent in /proc/%d/stat: %q", pid, b)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("no parent in /proc/%d/stat: %q", pid, b)
	}
	return ppid
}

// oomKill has the kernel OOM-kill pid in memcg.
func oomKill(t *testing.T, pid int, memcg string) {
	t.Helper()
	// The server, not the hog, is the victim: its score gains the whole limit, more than the
	// hog can hold in it. (Lowering the hog's score instead needs CAP_SYS_RESOURCE, which these
	// machines do not grant.)
	adj := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
	if err := os.WriteFile(adj, []byte("1000"), 0); err != nil {
		t.Fatal(err)
	}
	// The supervisor is stopped while the hog holds the cgroup full: a new server started in
	// that window is itself short of memory, and the next OOM kill takes the supervisor (its
	// score is the container's, 999 on a burstable pod: seen under load, dmesg showed the
	// hog's second OOM kill take it). Lowering the supervisor's own score would prevent that
	// but needs CAP_SYS_RESOURCE (serve does it where it has it); in a pod the server that
	// grew is the one that dies and takes its pressure with it, so the window is the test's.
	sup := parentPID(t, pid)
	if err := syscall.Kill(sup, syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping the supervisor %d: %v", sup, err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(sup, syscall.SIGCONT); err != nil {
				t.Errorf("resuming the supervisor %d: %v", sup, err)
			}
		}
	}
	defer resume()
	out, err := exec.Command("sh", "-c", oomJoin, "sh", memcg, oomHog, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		t.Fatalf("OOM hog in %s: %v\n%s", memcg, err, out)
	}
	resume()
	// The killed server's /proc entry goes when the supervisor reaps it.
	if err := testenv.Poll(5*time.Second, 10*time.Millisecond, func() error {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		if err == nil {
			return errors.New("still there")
		}
		return nil
	}); err != nil {
		t.Fatalf("the sidecar's server (pid %d) survived the hog filling %s: %s", pid, memcg, out)
	}
	t.Logf("the server was killed while a hog filled its memory cgroup %s (hog: %s)", memcg, strings.TrimSpace(string(out)))
}

// firstFailure waits for the reader app's first failed read after since: the moment the view
// died, seen from the app.
func firstFailure(t *testing.T, ns, pod string, since time.Time) time.Time {
	t.Helper()
	var failed time.Time
	err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		for _, e := range readEvents(t, ns, pod) {
			if !e.ok && !e.at.Before(since) {
				failed = e.at
				return nil
			}
		}
		return errors.New("no failed read yet")
	})
	if err != nil {
		t.Fatalf("the app saw no failed read after the sidecar died: %+v", readEvents(t, ns, pod))
	}
	return failed
}

// Many injected pods come and go, some with the sidecar killed mid-life and some with an app
// that ignores SIGTERM: every pod deletes, and afterwards the host holds no FUSE mount, no
// pod volume directory and no process of any of them. E2E_CYCLES sets the count (default 100).
func TestCreateDeleteCycles(t *testing.T) {
	cycles := 100
	if s := os.Getenv("E2E_CYCLES"); s != "" {
		cycles = atoi(t, "E2E_CYCLES", s)
	}
	const parallel = 10
	ns := newNamespace(t, nil)
	start := time.Now()
	type outcome struct {
		uid string
		err error
	}
	work, done := make(chan int), make(chan outcome)
	for w := 0; w < parallel; w++ {
		go func() {
			for i := range work {
				uid, err := cycle(ns, i)
				done <- outcome{uid, err}
			}
		}()
	}
	go func() {
		for i := 0; i < cycles; i++ {
			work <- i
		}
		close(work)
	}()
	var uids []string
	for i := 0; i < cycles; i++ {
		o := <-done
		if o.err != nil {
			t.Error(o.err)
		}
		if o.uid != "" {
			uids = append(uids, o.uid)
		}
	}
	t.Logf("%d create/delete cycles, %d at a time, in %v", cycles, parallel, time.Since(start).Round(time.Second))

	// The kubelet removes a deleted pod's directory in its housekeeping, within seconds.
	var left []string
	testenv.Poll(60*time.Second, time.Second, func() error {
		if left = leftovers(t, uids); len(left) > 0 {
			return errors.New("leftovers")
		}
		return nil
	})
	for _, l := range left {
		t.Error(l)
	}
}

// cycle creates pod number i, waits until it is Ready, then deletes it. Pods with i%4 >= 2
// ignore SIGTERM; with i%4 == 1 the FUSE server is killed first, with i%4 == 3 the sidecar
// container's main process, and the view must answer again before the pod goes.
func cycle(ns string, i int) (uid string, err error) {
	name := fmt.Sprintf("cycle-%03d", i)
	kill, stubborn := map[int]string{1: "worker", 3: "serve"}[i%4], i%4 >= 2
	var cmd []string
	if stubborn {
		cmd = []string{"sh", "-c", `trap "" TERM; while :; do sleep 1; done`}
	}
	grace := int64(2)
	b, err := json.Marshal(newPod(name, []corev1.Container{appContainer("app", "64Mi", "100m", cmd...)}, optIn,
		func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = &grace }))
	if err != nil {
		return "", err
	}
	r := kubectlStdin(b, "create", "-f", "-", "-n", ns, "-o", "jsonpath={.metadata.uid}")
	if r.err != nil {
		return "", r.err
	}
	uid = strings.TrimSpace(r.stdout)
	defer func() {
		if derr := deletePod(ns, name); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	if r := kubectlStdin(nil, "wait", "pod", name, "-n", ns, "--for=condition=Ready", "--timeout=120s"); r.err != nil {
		return uid, r.err
	}
	if kill == "" {
		return uid, nil
	}
	if r := kubectlStdin(nil, "exec", name, "-n", ns, "-c", "app", "--", "python3", "-c", killSidecar, kill); r.err != nil {
		return uid, r.err
	}
	wantRestarts := map[string]string{"worker": "0", "serve": "1"}[kill]
	err = testenv.Poll(60*time.Second, 300*time.Millisecond, func() error {
		out, err := kubectlOut("get", "pod", name, "-n", ns, "-o",
			`jsonpath={.status.initContainerStatuses[?(@.name=="`+sidecarName+`")].restartCount} {.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return err
		}
		if out != wantRestarts+" True" {
			return fmt.Errorf("sidecar restarts, pod ready: %q", out)
		}
		if view, _ := kubectlOut("exec", name, "-n", ns, "-c", "app", "--", "head", "-c", "9", "/proc/meminfo"); view != "MemTotal:" {
			return fmt.Errorf("/proc/meminfo starts with %q", view)
		}
		return nil
	})
	if err != nil {
		return uid, fmt.Errorf("pod %s: %s killed, view not back within 60s: %w", name, kill, err)
	}
	return uid, nil
}

// leftovers lists what remains on the host of the deleted pods: FUSE mounts, pod directories,
// processes in their cgroups.
func leftovers(t *testing.T, uids []string) []string {
	t.Helper()
	var left []string
	for _, uid := range uids {
		for _, m := range fuseMountsOf(t, uid) {
			left = append(left, fmt.Sprintf("pod %s: FUSE mount left: %s", uid, m))
		}
		dir := filepath.Join(nodeDir, "kubelet", "root", "pods", uid)
		if _, err := os.Stat(dir); err == nil {
			left = append(left, fmt.Sprintf("pod %s: directory left: %s", uid, dir))
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil {
			continue
		}
		for _, uid := range uids {
			if strings.Contains(string(cg), uid) {
				cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
				left = append(left, fmt.Sprintf("pod %s: process %s left: %q", uid, e.Name(), strings.ReplaceAll(string(cmd), "\x00", " ")))
			}
		}
	}
	return left
}
