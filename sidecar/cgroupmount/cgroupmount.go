// Package cgroupmount finds a cgroup filesystem root that shows the host's cgroup paths.
// A privileged container has no cgroup namespace of its own (so /proc/<pid>/cgroup names full
// host paths), yet its /sys/fs/cgroup shows only its own cgroup: to read its pod's other
// containers the sidecar mounts the cgroup filesystems again, privately.
package cgroupmount

import (
	"bufio"
	"bytes"
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
	// The version comes from what the kernel says about us, not from sysRoot: sysRoot is the
	// thing in doubt (missing, a tmpfs, or another cgroup's view in a container).
	v2 := unifiedOnly(lines)
	if showsPaths(sysRoot, lines, v2) {
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
	if v2 {
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

type cgroupLine struct{ id, controllers, path string }

func selfCgroups(p string) ([]cgroupLine, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	out, err := parseCgroups(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return out, nil
}

// parseCgroups parses /proc/<pid>/cgroup: "id:controllers:path" lines.
func parseCgroups(b []byte) ([]cgroupLine, error) {
	var out []cgroupLine
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 {
			out = append(out, cgroupLine{id: parts[0], controllers: parts[1], path: parts[2]})
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroups listed")
	}
	return out, nil
}

// unifiedOnly reports whether the process is on a pure cgroup v2 node: its /proc/<pid>/cgroup
// is the single line "0::<path>". A hybrid node lists its v1 hierarchies too.
func unifiedOnly(lines []cgroupLine) bool {
	return len(lines) == 1 && lines[0].id == "0" && lines[0].controllers == ""
}

// showsPaths reports whether root holds this process's own cgroup directory, i.e. shows
// the same paths /proc/<pid>/cgroup names (the unified path for v2, memory's for v1), as a
// cgroup directory: a plain directory of that name proves nothing.
func showsPaths(root string, lines []cgroupLine, v2 bool) bool {
	for _, l := range lines {
		var dir string
		switch {
		case v2:
			dir = filepath.Join(root, l.path)
		case strings.Contains(","+l.controllers+",", ",memory,"):
			dir = filepath.Join(root, l.controllers, l.path)
		default:
			continue
		}
		_, err := os.Stat(filepath.Join(dir, "cgroup.procs"))
		return err == nil
	}
	return false
}
