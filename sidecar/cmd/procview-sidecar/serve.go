package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	reattach "github.com/procview/procview/initmount"
	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/cgroupmount"
	"github.com/procview/procview/sidecar/config"
	"github.com/procview/procview/sidecar/fusefs"
	"github.com/procview/procview/sidecar/loadsampler"
	"github.com/procview/procview/sidecar/render"
)

// serve mounts the view and serves it until a signal; ready is called once it answers (and
// stale mounts in app containers are re-attached).
func serve(cfg config.Serve, log logr.Logger, ready func()) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("no /dev/fuse (%v): the sidecar needs the FUSE device, e.g. a privileged container", err)
	}
	names, cpuDir := expandDirs(cfg.Files)
	files, err := selectFiles(names)
	if err != nil {
		return err
	}
	root := cfg.CgroupRoot
	if root == podview.CgroupRootAuto {
		var cleanup func()
		if root, cleanup, err = cgroupmount.Resolve("/sys/fs/cgroup", cfg.ProcRoot, cgroupmount.Private); err != nil {
			return fmt.Errorf("find the cgroup filesystems: %w", err)
		}
		defer cleanup()
	}
	scope := cfg.Scope
	if scope == podview.ScopePod {
		if scope, err = podScope(root, cfg.ProcRoot); err != nil {
			return err
		}
	}
	reader, err := cgroup.New(cgroup.Options{Root: root, ProcRoot: cfg.ProcRoot, Scope: scope})
	if err != nil {
		return err
	}
	tuneRuntime(reader, log)
	if err := fusefs.PrepareMountPoint(cfg.MountPoint, log); err != nil {
		return err
	}
	loads := render.NewLoadTracker()
	fs := fusefs.New(fusefs.Options{
		Reader: reader, Files: files, ProcRoot: cfg.ProcRoot, SysRoot: cfg.SysRoot,
		CPUView: podview.CPUView(cfg.CPUView), Now: bootTime, Log: log, Loads: loads, CPUDir: cpuDir,
	})
	mfs, err := fusefs.Mount(cfg.MountPoint, fs)
	if err != nil {
		return err
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if cpuDir {
		paths = append(paths, podview.CPUDir)
	}
	log.Info("serving", "mountpoint", cfg.MountPoint, "files", paths, "cgroupRoot", root,
		"cgroupVersion", reader.Version(), "scope", scope, "cpuView", cfg.CPUView)
	if cfg.Reattach {
		reattachView(cfg, paths, log)
	}
	ready()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if slices.ContainsFunc(files, func(f render.File) bool { return f.Load }) {
		go loadsampler.Run(ctx, loadsampler.Period, reader, loads, log) // costs CPU only when loadavg is served
	}
	loopDone := make(chan error, 1)
	go func() { loopDone <- mfs.Join(context.Background()) }()

	// This process never reads its own mount (a read would wait on the loop that must answer
	// it): the supervisor watches the loop from outside (watchdog).
	select {
	case <-ctx.Done():
		log.Info("signal received: unmounting", "mountpoint", cfg.MountPoint)
		if err := fusefs.Unmount(cfg.MountPoint); err != nil {
			return err
		}
		select {
		case <-loopDone:
		case <-time.After(loopGrace): // lazily detached with readers still inside
		}
		return nil
	case err := <-loopDone:
		return fmt.Errorf("FUSE loop ended without a signal (unmounted from outside?): %v", err)
	}
}

// loopGrace is how long a worker told to stop lets readers still inside a lazily detached
// mount finish. Exiting ends the connection; the supervisor's stopGrace is longer.
const loopGrace = 300 * time.Millisecond

// tuneRuntime keeps the sidecar small: it runs in every opted-in pod. The environment wins.
// The soft memory limit is 3/4 of our own cgroup's limit (room for the runtime's non-heap
// memory), at most maxMemLimit. Far below that the GC runs on nearly every render: measured
// here, a 12 MiB limit cost 3x the CPU and 6x the loadavg read latency of a 24 MiB one.
func tuneRuntime(reader *cgroup.FS, log logr.Logger) {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(min(2, runtime.NumCPU()))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25) // renders allocate ~1 KB: 25 vs 50 cost +5% CPU, saved 0.9 MiB RSS after 60k reads
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := memLimit(reader)
		debug.SetMemoryLimit(limit)
		log.V(1).Info("runtime tuned", "gomemlimit", limit, "gomaxprocs", runtime.GOMAXPROCS(0))
	}
}

const maxMemLimit = 32 << 20

func memLimit(reader *cgroup.FS) int64 {
	snap, err := reader.Read(os.Getpid(), cgroup.NeedMemory)
	if err != nil || snap.Memory.Limit/4*3 >= maxMemLimit { // out of scope, unlimited, or generous
		return maxMemLimit
	}
	return int64(snap.Memory.Limit / 4 * 3)
}

func selectFiles(names []string) ([]render.File, error) {
	if len(names) == 0 {
		return render.Files(), nil
	}
	var out []render.File
	for _, n := range names {
		f, ok := render.Lookup(n)
		if !ok {
			return nil, fmt.Errorf("%s: unknown view file %q (known: %v)", podview.EnvFiles, n, podview.Paths())
		}
		out = append(out, f)
	}
	return out, nil
}

// podScope is the parent of this process's own container cgroup: in a pod, the pod's cgroup.
func podScope(root, procRoot string) (string, error) {
	r, err := cgroup.New(cgroup.Options{Root: root, ProcRoot: procRoot})
	if err != nil {
		return "", err
	}
	own, err := r.ContainerPath(os.Getpid())
	if err != nil {
		return "", fmt.Errorf("find own cgroup: %w", err)
	}
	pod := filepath.Dir(own)
	if pod == "/" {
		return "", fmt.Errorf("%s=%s: own cgroup %s has no pod cgroup above it", podview.EnvScope, podview.ScopePod, own)
	}
	return pod, nil
}

// reattachView re-binds the view's paths (files and directories) over stale mounts of them.
func reattachView(cfg config.Serve, paths []string, log logr.Logger) {
	var fl []reattach.File
	for _, p := range paths {
		fl = append(fl, reattach.File{Source: filepath.Join(cfg.MountPoint, p), Target: podview.File{Path: p}.Target()})
	}
	self := os.Getpid()
	nss, err := reattach.Run(log, reattach.Options{
		ProcRoot: cfg.ProcRoot, FSType: podview.FSType, Files: fl,
		Skip: func(pid int) bool { return pid == self || pid == 1 },
	})
	if err != nil {
		log.Error(err, "re-attaching the view in app containers")
	}
	for _, ns := range nss {
		if len(ns.Reattached) > 0 {
			log.Info("re-attached the view", "pid", ns.PID, "files", ns.Reattached)
		}
	}
}

// bootTime is CLOCK_BOOTTIME, the clock of /proc/uptime and of process start times.
func bootTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
