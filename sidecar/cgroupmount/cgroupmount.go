// Package cgroupmount finds a cgroup filesystem root that shows the host's cgroup paths.
// A privileged container has no cgroup namespace of its own (so /proc/<pid>/cgroup names full
// host paths), yet its /sys/fs/cgroup shows only its own cgroup: to read its pod's other
// containers the sidecar mounts the cgroup filesystems again, privately.
package cgroupmount

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Private is where the sidecar mounts the cgroup filesystems when it must.
const Private = "/run/procview/cgroup"

// Resolve returns a cgroup root in which this process's own cgroup (per procRoot/self/cgroup)
// exists: sysRoot (e.g. /sys/fs/cgroup) when it does, otherwise fresh mounts under dir.
// cleanup unmounts what Resolve mounted.
func Resolve(sysRoot, procRoot, dir string) (root string, cleanup func(), err error) {
	lines, err := selfCgroups(filepath.Join(procRoot, "self", "cgroup"))
	if err != nil {
		return "", nil, err
	}
	if showsPaths(sysRoot, lines) {
		return sysRoot, func() {}, nil
	}
	var mounted []string
	cleanup = func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			syscall.Unmount(mounted[i], syscall.MNT_DETACH)
		}
	}
	mount := func(target, fstype, data string) error {
		flags := uintptr(syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC)
		if fstype != "tmpfs" {
			flags |= syscall.MS_RDONLY // we only read cgroups
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", target, err)
		}
		if err := syscall.Mount(fstype, target, fstype, flags, data); err != nil {
			return fmt.Errorf("mount %s (%s) at %s: %w", fstype, data, target, err)
		}
		mounted = append(mounted, target)
		return nil
	}
	// A killed predecessor in this mount namespace (a restarted worker) left its mounts here.
	for i := 0; i < 16 && syscall.Unmount(dir, syscall.MNT_DETACH) == nil; i++ {
	}
	if _, err := os.Stat(filepath.Join(sysRoot, "cgroup.controllers")); err == nil {
		if err := mount(dir, "cgroup2", ""); err != nil {
			return "", nil, err
		}
		return dir, cleanup, nil
	}
	// v1: a tmpfs with one directory per hierarchy, named as /proc/self/cgroup names it.
	if err := mount(dir, "tmpfs", "mode=755,size=64k"); err != nil {
		return "", nil, err
	}
	for _, l := range lines {
		if l.controllers == "" || strings.HasPrefix(l.controllers, "name=") {
			continue
		}
		if err := mount(filepath.Join(dir, l.controllers), "cgroup", l.controllers); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	return dir, cleanup, nil
}

type cgroupLine struct{ controllers, path string }

func selfCgroups(p string) ([]cgroupLine, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	var out []cgroupLine
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 {
			out = append(out, cgroupLine{controllers: parts[1], path: parts[2]})
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read %s: no cgroups listed", p)
	}
	return out, nil
}

// showsPaths reports whether root holds this process's own cgroup directory, i.e. shows
// the same paths /proc/<pid>/cgroup names (memory for v1, the unified path for v2).
func showsPaths(root string, lines []cgroupLine) bool {
	v2 := false
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		v2 = true
	}
	for _, l := range lines {
		var dir string
		switch {
		case v2 && l.controllers == "":
			dir = filepath.Join(root, l.path)
		case !v2 && (l.controllers == "memory" || strings.Contains(","+l.controllers+",", ",memory,")):
			dir = filepath.Join(root, l.controllers, l.path)
		default:
			continue
		}
		// "/" is always there: it proves nothing about the paths.
		if l.path == "/" {
			return true
		}
		_, err := os.Stat(dir)
		return !errors.Is(err, os.ErrNotExist) && err == nil
	}
	return false
}
