package cgroup

import "path/filepath"

func (r *FS) readV2(s *Snapshot, pid int, need Need) error {
	if need&NeedMemory != 0 {
		if err := r.memoryV2(s); err != nil {
			return err
		}
	}
	if need&NeedSwap != 0 {
		if err := r.swapV2(s); err != nil {
			return err
		}
	}
	if need&NeedCPULimit != 0 {
		if err := r.cpuLimitV2(s); err != nil {
			return err
		}
	}
	if need&NeedCPUUsage != 0 {
		if err := r.cpuUsageV2(s); err != nil {
			return err
		}
	}
	if need&NeedIO != 0 {
		if err := r.ioV2(s); err != nil {
			return err
		}
	}
	if need&(NeedTasks|NeedStart) != 0 {
		return r.readTasks(r.fileV2(s, "cgroup.procs"), pid, need, s)
	}
	return nil
}

// fileV2 is the path of file name in s's cgroup.

func (r *FS) fileV2(s *Snapshot, name string) string { return r.paths.join(r.opts.Root, s.Path, name) }

// cpuLimitV2 finds the most restrictive cpu.max on the path and the effective cpuset.

// cpusetUp sets s.CPU.Cpuset from the nearest cgroup on the path whose file lists CPUs.

// No cpuset anywhere (controller not enabled) leaves it empty: renderers then use the host's.

// minLimitUp returns the smallest limit in file name on the path from cgPath up to root.

// The container's own file must exist when mustOwn is set; parents without it set no limit.

func minLimitUp(root, cgPath, name string, mustOwn bool) (uint64, error) {
	lim := uint64(Unlimited)
	for i, dir := range ancestors(root, cgPath) {
		p := filepath.Join(dir, name)
		b, err := readFile(p)
		if isNotExist(err) && (i > 0 || !mustOwn) {
			continue
		}
		if err != nil {
			return 0, err
		}
		v, err := parseLimit(b)
		if err != nil {
			return 0, wrapPath(p, err)
		}
		lim = min(lim, v)
	}
	return lim, nil
}
