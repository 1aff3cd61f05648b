// Package reattach (directory initmount, a fixed path) re-attaches the view inside the pod's app containers after the sidecar
// restarts. The kubelet binds each view file into an app container once, at container start
// (subPath mounts); when the FUSE server dies those binds point at a dead connection
// ("transport endpoint is not connected") until something re-binds them. Through the shared
// PID namespace we find each app container's mount namespace, enter it, and bind the fresh
// file (visible there through the volume's HostToContainer mount) over the stale one.
package reattach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	"github.com/procview/procview/internal/mountinfo"
)

// File is one view file as an app container sees it.
type File struct {
	Source string // the live view file through the volume mount, e.g. /var/lib/procview/view/proc/meminfo
	Target string // where the app reads it, e.g. /proc/meminfo
}

// Options says where to look and what to re-attach.
type Options struct {
	ProcRoot string // procfs of the pod's shared PID namespace, e.g. /proc
	FSType   string // the view's filesystem type in mountinfo, e.g. "fuse.procview"
	Files    []File
	// Skip, if set, excludes processes (e.g. ones outside the served cgroup scope).
	Skip func(pid int) bool
}

// Namespace is one app container's mount namespace that had view mounts.
type Namespace struct {
	PID        int      // the process through which it was entered
	Reattached []string // targets bound afresh
	Live       []string // targets already served by the live view
}

// Run finds every mount namespace (other than our own) that has view files mounted at
// their targets, and re-binds the ones that no longer reach the live view. Only targets that
// hold a view mount are touched: a container that opted out of a file gets nothing new.
// It returns what it did per namespace; an error in one namespace does not stop the others.
func Run(log logr.Logger, opts Options) ([]Namespace, error) {
	self, err := ownMountNS(opts.ProcRoot)
	if err != nil {
		return nil, err
	}
	pids, err := listPIDs(opts.ProcRoot)
	if err != nil {
		return nil, err
	}
	var done []Namespace
	var errs []error
	seen := map[string]bool{self: true}
	for _, pid := range pids {
		if opts.Skip != nil && opts.Skip(pid) {
			continue
		}
		ns, err := os.Readlink(filepath.Join(opts.ProcRoot, strconv.Itoa(pid), "ns/mnt"))
		if err != nil || seen[ns] {
			continue // gone, a kernel thread, or a namespace already handled
		}
		seen[ns] = true
		targets, err := viewTargets(opts, pid)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if len(targets) == 0 {
			continue
		}
		res, err := rebindIn(opts.ProcRoot, pid, targets)
		if err != nil {
			errs = append(errs, fmt.Errorf("pid %d: %w", pid, err))
		}
		if len(res.Reattached) > 0 || len(res.Live) > 0 {
			log.Info("view checked in container", "pid", pid, "reattached", res.Reattached, "live", res.Live)
			done = append(done, res)
		}
	}
	return done, errors.Join(errs...)
}

// viewTargets returns the files whose target is, on top, a mount of the view's filesystem.
func viewTargets(opts Options, pid int) ([]File, error) {
	path := filepath.Join(opts.ProcRoot, strconv.Itoa(pid), "mountinfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	mounts, err := mountinfo.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	top := mountinfo.Top(mounts)
	var files []File
	for _, f := range opts.Files {
		if m, ok := top[f.Target]; ok && m.FSType == opts.FSType {
			files = append(files, f)
		}
	}
	return files, nil
}

// rebindIn enters pid's mount namespace on a throw-away OS thread and re-binds targets.
// setns(CLONE_NEWNS) refuses a thread that shares its filesystem attributes with others, so the
// thread first unshares CLONE_FS.
func rebindIn(procRoot string, pid int, files []File) (Namespace, error) {
	nsPath := filepath.Join(procRoot, strconv.Itoa(pid), "ns/mnt")
	ns := Namespace{PID: pid}
	var err error
	onThrowawayThread(func() {
		fd, openErr := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if openErr != nil {
			err = fmt.Errorf("open %s: %w", nsPath, openErr)
			return
		}
		defer unix.Close(fd)
		if e := unix.Unshare(unix.CLONE_FS); e != nil {
			err = fmt.Errorf("unshare CLONE_FS: %w", e)
			return
		}
		if e := unix.Setns(fd, unix.CLONE_NEWNS); e != nil {
			err = fmt.Errorf("setns %s: %w", nsPath, e)
			return
		}
		var errs []error
		for _, f := range files {
			live, e := rebind(f)
			switch {
			case e != nil:
				errs = append(errs, e)
			case live:
				ns.Live = append(ns.Live, f.Target)
			default:
				ns.Reattached = append(ns.Reattached, f.Target)
			}
		}
		err = errors.Join(errs...)
	})
	sort.Strings(ns.Reattached)
	sort.Strings(ns.Live)
	return ns, err
}

// onThrowawayThread runs fn on an OS thread that ends with it, so no other goroutine ever runs
// in the namespace fn enters. Never on the main thread: the runtime does not end it, and
// /proc/<pid>/ns/* (what `kubectl exec` and exec probes join through the runtime) name the main
// thread's namespaces, so a main thread left in an app container's mount namespace makes every
// later exec into this container run in the wrong filesystem.
func onThrowawayThread(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		runLocked(fn)
	}()
	<-done
}

// runLocked runs fn on the calling goroutine's locked thread unless that is the main thread.
func runLocked(fn func()) {
	if onMainThread() {
		// Hold the main thread (locked, so no one else gets it) while another thread works.
		onThrowawayThread(fn)
		runtime.UnlockOSThread()
		return
	}
	fn() // never unlocked: the runtime ends the thread when its goroutine returns
}

func onMainThread() bool { return unix.Gettid() == unix.Getpid() }

// rebind binds f.Source over f.Target unless the target already is the live file.
// It reports live=true when nothing had to be done.
func rebind(f File) (live bool, err error) {
	var src, dst unix.Stat_t
	if err := unix.Stat(f.Source, &src); err != nil {
		return false, fmt.Errorf("stat view file %s: %w", f.Source, err)
	}
	if err := unix.Stat(f.Target, &dst); err == nil && dst.Dev == src.Dev && dst.Ino == src.Ino {
		return true, nil
	}
	// The stale bind (ENOTCONN on stat) comes off first so the new one is not stacked on a dead one.
	if err := unix.Unmount(f.Target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return false, fmt.Errorf("detach stale %s: %w", f.Target, err)
	}
	if err := unix.Mount(f.Source, f.Target, "", unix.MS_BIND, ""); err != nil {
		return false, fmt.Errorf("bind %s over %s: %w", f.Source, f.Target, err)
	}
	if err := unix.Mount("", f.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return false, fmt.Errorf("remount %s read-only: %w", f.Target, err)
	}
	return false, nil
}

// ownMountNS names this thread's mount namespace. Not /proc/self: that is the main thread's,
// and a main thread that once ran rebindIn's goroutine stays in a foreign namespace.
func ownMountNS(procRoot string) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := os.Readlink(filepath.Join(procRoot, "thread-self/ns/mnt"))
	if err != nil {
		return "", fmt.Errorf("read own mount namespace: %w", err)
	}
	return ns, nil
}

func listPIDs(procRoot string) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", procRoot, err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}
