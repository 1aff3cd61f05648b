package cgroup

import (
	"fmt"
	"path/filepath"
)

// v1Root returns the hierarchy root directory of controller c and the pid's path in it.

func (r *FS) v1Root(c string, paths map[string]string) (root, cgPath string, err error) {
	d, ok := r.v1Dirs[c]
	if !ok {
		return "", "", fmt.Errorf("cgroup v1 controller %s is not mounted under %s", c, r.opts.Root)
	}
	p, ok := paths[c]
	if !ok {
		return "", "", fmt.Errorf("process has no cgroup v1 %s path", c)
	}
	return d, p, nil
}

func (r *FS) readV1(s *Snapshot, pid int, paths map[string]string, need Need) error {
	if need&(NeedMemory|NeedSwap) != 0 {
		if err := r.memoryV1(s, paths, need); err != nil {
			return err
		}
	}
	if need&NeedCPULimit != 0 {
		if err := r.cpuLimitV1(s, paths); err != nil {
			return err
		}
	}
	if need&NeedCPUUsage != 0 {
		if err := r.cpuUsageV1(s, paths); err != nil {
			return err
		}
	}
	if need&NeedIO != 0 {
		if err := r.ioV1(s, paths); err != nil {
			return err
		}
	}
	if need&NeedSlab != 0 {
		if err := r.slabV1(s, paths); err != nil {
			return err
		}
	}
	if need&(NeedTasks|NeedStart) != 0 {
		root, p, err := r.v1Root("memory", paths)
		if err != nil {
			if root, p, err = r.v1Root("cpu", paths); err != nil {
				return err
			}
		}
		return r.readTasks(filepath.Join(root, p, "cgroup.procs"), pid, need, s)
	}
	return nil
}

// parseUsageAll parses cpuacct.usage_all: a header line, then "cpu user_ns system_ns" lines.

func wrapPath(p string, err error) error { return fmt.Errorf("%s: %w", p, err) }
