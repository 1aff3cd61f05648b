package fusefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"github.com/go-logr/logr"
	"github.com/jacobsa/fuse"
	"golang.org/x/sys/unix"

	"github.com/procview/procview/internal/mountinfo"
	"github.com/procview/procview/internal/podview"
)

// Mount mounts fs at dir with mount(2) (jacobsa/fuse does that itself as root; no fusermount)
// and returns once the kernel has finished the FUSE handshake and poll is refused (refusePoll).
func Mount(dir string, fs *FS) (*fuse.MountedFileSystem, error) {
	cfg := &fuse.MountConfig{
		FSName: "procview",
		// Nothing is ever written: 4 KiB writes make each request buffer 8 KiB instead of 1 MiB.
		MaxWrite: 4096,
		Subtype:  strings.TrimPrefix(podview.FSType, "fuse."),
		ReadOnly: true,
		// allow_other: non-root and user-namespace-remapped readers in app containers.
		Options:                map[string]string{"allow_other": ""},
		EnableNoOpendirSupport: true,
	}
	mfs, err := fuse.Mount(dir, server{fs: fs, log: fs.opts.Log}, cfg)
	if err != nil {
		return nil, fmt.Errorf("mount FUSE at %s: %w", dir, err)
	}
	if len(fs.opts.Files) == 0 {
		return mfs, nil
	}
	if err := refusePoll(filepath.Join(dir, fs.opts.Files[0].Path)); err != nil {
		Unmount(dir)
		return nil, fmt.Errorf("mount FUSE at %s: refuse poll: %w", dir, err)
	}
	return mfs, nil
}

// Unmount unmounts dir, lazily when the mount is busy or its server is gone.
func Unmount(dir string) error {
	err := syscall.Unmount(dir, 0)
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.ENOTCONN) {
		err = syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, syscall.EINVAL) { // EINVAL: not mounted
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// MountsAt lists this mount namespace's procview mounts at dir, bottom first. It reads only
// /proc/self/mountinfo: nothing here touches the mount, whose server may be wedged.
func MountsAt(dir string) ([]mountinfo.Mount, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// Resolve links above dir only: a stat of dir itself would ask its (maybe wedged) server.
	if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(parent, filepath.Base(abs))
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	mounts, err := mountinfo.Parse(b)
	if err != nil {
		return nil, err
	}
	var at []mountinfo.Mount
	for _, m := range mounts {
		if m.MountPoint == abs && m.FSType == podview.FSType {
			at = append(at, m)
		}
	}
	return at, nil
}

// Abort ends the FUSE connection of every procview mount at dir through the fusectl file
// system: each request waiting on it fails with ECONNABORTED, and so does every later one.
// It is the one way out for a process whose thread waits on a server that will not answer (a
// stopped or wedged loop; a dying server's own close): no signal frees a forced FUSE request.
// Where fusectl is not mounted (containers, most hosts) it is mounted privately for the call.
func Abort(dir string) error {
	mounts, err := MountsAt(dir)
	if err != nil || len(mounts) == 0 {
		return err
	}
	ctl := "/sys/fs/fuse/connections"
	if _, err := os.Stat(filepath.Join(ctl, minor(mounts[0].Dev))); err != nil {
		tmp := "/run/procview/fusectl"
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return fmt.Errorf("abort %s: %w", dir, err)
		}
		if err := unix.Mount("fusectl", tmp, "fusectl", 0, ""); err != nil {
			return fmt.Errorf("abort %s: mount fusectl: %w", dir, err)
		}
		defer unix.Unmount(tmp, unix.MNT_DETACH)
		ctl = tmp
	}
	var errs []error
	for _, m := range mounts {
		p := filepath.Join(ctl, minor(m.Dev), "abort")
		if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) { // gone: already ended
			errs = append(errs, fmt.Errorf("abort the FUSE connection of %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// minor is the minor number of a "major:minor" device: a FUSE connection's name in fusectl.
func minor(dev string) string {
	_, m, _ := strings.Cut(dev, ":")
	return m
}

// refusePoll makes the kernel stop asking this connection FUSE_POLL, before anything else
// reads the mount. Why: the first epoll registration of a view file (Go's os.File makes one for
// every open file) makes the kernel send FUSE_POLL and wait for the answer. Go issues that
// epoll_ctl as a raw system call, which keeps the thread's P: in a process that serves the
// mount itself with one P (the worker: GOMAXPROCS=1) the FUSE loop then never runs, and the
// process waits on itself for good. Our answer, ENOSYS, turns poll off for the connection
// (fc->no_poll), after which an epoll registration never asks. We ask once, here, through an
// ordinary system call, during which the runtime lets the loop run.
func refusePoll(file string) error {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer unix.Close(fd)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	defer unix.Close(ep)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	// Not unix.EpollCtl: it is a raw system call too.
	if _, _, e := syscall.Syscall6(unix.SYS_EPOLL_CTL, uintptr(ep), unix.EPOLL_CTL_ADD, uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0); e != 0 {
		return fmt.Errorf("epoll_ctl %s: %w", file, e)
	}
	return nil
}

// PrepareMountPoint detaches a dead previous instance's mounts at dir ("transport endpoint is
// not connected") and checks dir is an empty directory, creating it in an existing parent.
func PrepareMountPoint(dir string, log logr.Logger) error {
	// In a pod the mount point is a subdirectory of a fresh emptyDir: create it, but only
	// inside a directory that exists (a missing parent is a configuration error).
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTCONN) && !errors.Is(err, unix.ECONNABORTED) {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	if err := DetachStale(dir, log, "detaching a previous instance's mount"); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("mount point %s is not empty (%d entries, e.g. %q)", dir, len(entries), entries[0].Name())
	}
	return nil
}

// DetachStale detaches, logging msg, each stale mount at dir (see staleMount): the mounts of
// dead servers, stacked when several died.
func DetachStale(dir string, log logr.Logger, msg string) error {
	for i := 0; i < 8; i++ {
		stale, err := staleMount(dir)
		if err != nil || !stale {
			return err
		}
		log.Info(msg, "mountpoint", dir)
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach stale mount at %s: %w", dir, err)
		}
	}
	return nil
}

// staleMount reports whether dir has a procview mount on it (whose server is this process's
// predecessor, dead or not) or a FUSE mount whose server is gone. It looks at mountinfo before
// it touches dir: a stat would wait on a wedged server.
func staleMount(dir string) (bool, error) {
	ours, err := MountsAt(dir)
	if err != nil || len(ours) > 0 {
		return len(ours) > 0, err
	}
	var st unix.Stat_t
	err = unix.Stat(dir, &st)
	if errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ECONNABORTED) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("mount point %s: %w", dir, err)
	}
	return false, nil
}

// CheckMounted reports an error unless a FUSE file system is mounted at dir (not merely the
// empty directory under it).
func CheckMounted(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type != unix.FUSE_SUPER_MAGIC {
		return fmt.Errorf("%s is not mounted yet", dir)
	}
	return nil
}
