package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"
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

func supervise(args []string, stderr io.Writer, log logr.Logger) int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1) // it only waits
	}
	// Workers get SIGKILL when the thread that started them ends (Pdeathsig): keep this
	// goroutine, which starts them all, on one thread that lives as long as we do.
	runtime.LockOSThread()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var restarts []time.Time
	for {
		w, err := startWorker(args)
		if err != nil {
			fmt.Fprintf(stderr, "procview-sidecar serve: %v\n", err)
			return 1
		}
		stopping := false
		var state *os.ProcessState
		for state == nil {
			select {
			case sig := <-sigs:
				stopping = true
				w.cmd.Process.Signal(sig) // the worker unmounts and exits
			case <-w.exited:
				state = w.cmd.ProcessState
			}
		}
		if stopping {
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

// startWorker runs `procview-sidecar worker ARGS` with our environment and output; the worker
// writes one byte to its ready pipe once it serves.
func startWorker(args []string) (*worker, error) {
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
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive us
	if err := cmd.Start(); err != nil {
		r.Close()
		return nil, fmt.Errorf("start the server: %w", err)
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
