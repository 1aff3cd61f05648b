package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/procview/procview/sidecar/fusefs"
)

// A dead FUSE server leaves every app container's view mounts answering "transport endpoint is
// not connected" until a new server re-attaches them. Left to the kubelet, that takes its
// detection delay (a PLEG relist: up to a second) plus a container start. So `serve` runs the
// server as a child, `procview-sidecar worker`, and starts a new one the moment it dies.
// A worker that dies before it ever served (bad settings), or too often, ends the sidecar with
// its status and the kubelet takes over (with its back-off, and a restart count one can see).
const (
	restartBudget = 5 // restarts allowed within restartWindow
	restartWindow = time.Minute
	// readyFDEnv names the descriptor on which a worker reports that it serves.
	readyFDEnv = "PROCVIEW_WORKER_READY_FD"
)

// startTimeout is how long a worker may take to mount and re-attach the view before it is
// taken for wedged (the postStart probe gives up after 60 s too).
const startTimeout = 60 * time.Second

// stopGrace is how long a worker told to stop may take before its connection is aborted and it
// is killed: SIGTERM ends the sidecar within about this, whatever state the worker is in.
const stopGrace = 700 * time.Millisecond

// supervise runs workers serving the view at mountPoint, reading probeFile (a view file) to
// watch each one, until a signal or until workers die too often.
func supervise(mountPoint, probeFile string, args []string, stderr io.Writer, log logr.Logger) int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1) // it only waits
	}
	// Whatever ends us, the mount point is left without a dead server's mount on it: the kubelet
	// cannot remove the pod's volume past one ("transport endpoint is not connected"), and a pod
	// being deleted would stay Terminating.
	defer func() {
		if _, err := os.Lstat(mountPoint); errors.Is(err, os.ErrNotExist) {
			return // never mounted: the worker said why
		}
		if err := fusefs.DetachStale(mountPoint, log, "detaching a dead server's mount before exiting"); err != nil {
			log.Error(err, "leaving a dead server's mount behind")
		}
	}()
	workerOOMScore := protectFromOOMKiller(log)
	// Workers get SIGKILL when the thread that started them ends (Pdeathsig): keep this
	// goroutine, which starts them all, on one thread that lives as long as we do.
	runtime.LockOSThread()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var restarts []time.Time
	for {
		w, err := startWorker(args, workerOOMScore)
		if err != nil {
			fmt.Fprintf(stderr, "procview-sidecar serve: %v\n", err)
			return 1
		}
		state, stopping := watch(w, mountPoint, probeFile, sigs, log)
		if stopping {
			if state == nil {
				return 1
			}
			return status(state)
		}
		if !w.served() { // it said why on our stderr
			return max(status(state), 1)
		}
		now := time.Now()
		restarts = append(recent(restarts, now.Add(-restartWindow)), now)
		if len(restarts) > restartBudget {
			log.Info("the server died too often; exiting for the kubelet to restart the sidecar",
				"status", state.String(), "restarts", restartBudget, "within", restartWindow.String())
			return max(status(state), 1)
		}
		log.Info("the server died; starting a new one", "status", state.String(),
			"served", now.Sub(w.started).Round(time.Millisecond).String())
	}
}

// watch waits for worker w to exit, reading its view every watchdogEvery once it serves. A
// wedged loop, a worker that does not serve within startTimeout, or one still there stopGrace
// after it was told to stop, has its connection aborted (every reader waiting on it gets an
// error at once) and is killed. It returns the worker's exit state, or nil when the worker would
// not exit even then, and whether a signal told us to stop.
func watch(w *worker, mountPoint, probeFile string, sigs <-chan os.Signal, log logr.Logger) (*os.ProcessState, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wedged := make(chan error, 1)
	kill := func() {
		if err := fusefs.Abort(mountPoint); err != nil {
			log.Error(err, "aborting the server's FUSE connection")
		}
		w.cmd.Process.Kill()
	}
	stopping := false
	var deadline <-chan time.Time // after SIGTERM: first the kill, then giving up on the exit
	killed := false
	readEnd, startBy := w.readEnd, time.After(startTimeout)
	for {
		select {
		case <-w.exited:
			return w.cmd.ProcessState, stopping
		case <-readEnd:
			readEnd, startBy = nil, nil
			if w.ready { // it serves: watch it (ends with ctx, also when a signal came first)
				go watchdog(ctx, probeFile, watchdogEvery, watchdogTimeout, wedged)
			}
		case <-startBy:
			log.Info("the server did not start serving in time: aborting its connection and killing it", "after", startTimeout.String())
			kill()
		case sig := <-sigs:
			if !stopping {
				stopping = true
				cancel()
				w.cmd.Process.Signal(sig) // the worker unmounts and exits
				deadline = time.After(stopGrace)
			}
		case <-deadline:
			if killed {
				log.Info("the server did not exit after SIGKILL; exiting without it")
				return nil, true
			}
			log.Info("the server did not stop in time: aborting its connection and killing it", "after", stopGrace.String())
			kill()
			killed = true
			deadline = time.After(time.Second)
		case err := <-wedged:
			log.Error(err, "the FUSE loop is wedged: aborting its connection and killing the server")
			kill()
		}
	}
}

type worker struct {
	cmd     *exec.Cmd
	started time.Time
	ready   bool          // it reported that it serves; read only after readEnd
	readEnd chan struct{} // closed when its ready pipe is closed (it reported, or it exited)
	exited  chan struct{} // closed when it has exited (cmd.ProcessState is set)
}

// served reports whether the worker ever served. Call it after the worker exited.
func (w *worker) served() bool {
	<-w.readEnd
	return w.ready
}

// startWorker runs `procview-sidecar worker ARGS` with our environment and output, at OOM score
// adjustment oomScore (empty: ours); the worker writes one byte to its ready pipe once it serves.
func startWorker(args []string, oomScore string) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("ready pipe: %w", err)
	}
	defer wr.Close()
	cmd := exec.Command(exe, append([]string{"worker"}, args...)...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{wr} // fd 3
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	if os.Getenv("GOMAXPROCS") == "" {
		// One loop serves every request (fusefs.server), so one P is enough, and set from the
		// start it is cheaper than the runtime call: measured here, 0.2 MiB less RSS idle than
		// two Ps (the call to 1 saved nothing), latency and server CPU per read no worse.
		cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive us
	if err := cmd.Start(); err != nil {
		r.Close()
		return nil, fmt.Errorf("start the server: %w", err)
	}
	if oomScore != "" {
		// Until this write the worker has our protection; it is still starting, using little.
		os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", cmd.Process.Pid), []byte(oomScore), 0)
	}
	w := &worker{cmd: cmd, started: time.Now(), readEnd: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		n, _ := r.Read(make([]byte, 1))
		w.ready = n == 1
		r.Close()
		close(w.readEnd)
	}()
	go func() {
		cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

// protectFromOOMKiller makes the kernel's OOM killer pass over this process, and returns the
// score adjustment it had (which the kubelet set for the pod's QoS class) for the workers.
// In the sidecar's memory cgroup the worker is then the victim, and is replaced; a killed
// supervisor would take its worker with it and leave a dead mount. Without the privilege to
// lower a score (CAP_SYS_RESOURCE, which privileged containers usually have, though not on every
// node) everything stays as it was.
func protectFromOOMKiller(log logr.Logger) string {
	const self = "/proc/self/oom_score_adj"
	old, err := os.ReadFile(self)
	if err != nil {
		return ""
	}
	if err := os.WriteFile(self, []byte("-1000"), 0); err != nil {
		log.V(1).Info("cannot protect the supervisor from the OOM killer", "error", err.Error())
		return ""
	}
	return strings.TrimSpace(string(old))
}

// workerReady returns what a worker calls once it serves: it tells the supervisor, if any.
func workerReady(log logr.Logger) func() {
	return func() {
		fd, err := strconv.Atoi(os.Getenv(readyFDEnv))
		if err != nil {
			return // run by hand, not by serve
		}
		f := os.NewFile(uintptr(fd), "ready")
		if _, err := f.Write([]byte{1}); err != nil && !errors.Is(err, os.ErrClosed) {
			log.Error(err, "telling the supervisor the view is served")
		}
		f.Close()
	}
}

// status is a process's exit status as a shell reports it (128+n for a signal).
func status(s *os.ProcessState) int {
	if ws, ok := s.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return s.ExitCode()
}

// recent keeps the times after since.
func recent(ts []time.Time, since time.Time) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if t.After(since) {
			out = append(out, t)
		}
	}
	return out
}
