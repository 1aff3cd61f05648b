package cgroup

import (
	"path/filepath"
	"time"
)

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

func (r *FS) memoryV2(s *Snapshot) error {
	lim, err := minLimitUp(r.opts.Root, s.Path, "memory.max", true)
	if err != nil {
		return err
	}
	s.Memory.Limit = lim
	b, err := r.readCgroup(r.fileV2(s, "memory.current"))
	if err != nil {
		return err
	}
	if s.Memory.Usage, err = parseUint(b); err != nil {
		return wrapPath(r.fileV2(s, "memory.current"), err)
	}
	if b, err = r.readCgroup(r.fileV2(s, "memory.stat")); err != nil {
		return err
	}
	parseFlatKeyed(b, func(k string, v uint64) { setMemStatV2(&s.Memory.Stat, k, v) })
	return nil
}

func (r *FS) swapV2(s *Snapshot) error {
	b, err := r.readCgroup(r.fileV2(s, "memory.swap.current"))
	switch {
	case isNotExist(err):
		// No swap accounting (kernel without CONFIG_MEMCG_SWAP, or swapaccount=0).
	case err != nil:
		return err
	default:
		s.Memory.SwapAccounting = true
		if s.Memory.SwapUsage, err = parseUint(b); err != nil {
			return wrapPath(r.fileV2(s, "memory.swap.current"), err)
		}
		if s.Memory.SwapLimit, err = minLimitUp(r.opts.Root, s.Path, "memory.swap.max", true); err != nil {
			return err
		}
	}
	return nil
}

func (r *FS) cpuUsageV2(s *Snapshot) error {
	b, err := r.readCgroup(r.fileV2(s, "cpu.stat"))
	if err != nil {
		return err
	}
	parseFlatKeyed(b, func(k string, v uint64) {
		switch k {
		case "user_usec":
			s.CPU.User = time.Duration(v) * time.Microsecond
		case "system_usec":
			s.CPU.System = time.Duration(v) * time.Microsecond
		}
	})
	return nil
}

func (r *FS) ioV2(s *Snapshot) error {
	b, err := r.readCgroup(r.fileV2(s, "io.stat"))
	if err != nil {
		return err
	}
	s.IO = parseIOStatV2(b)
	return nil
}

// cpuLimitV2 finds the most restrictive cpu.max on the path and the effective cpuset.
func (r *FS) cpuLimitV2(s *Snapshot) error {
	s.CPU.QuotaUS, s.CPU.PeriodUS = -1, 100000
	for i, dir := range ancestors(r.opts.Root, s.Path) {
		p := filepath.Join(dir, "cpu.max")
		b, err := r.readCgroup(p)
		if isNotExist(err) && i > 0 {
			continue // the root cgroup and parents without the controller set no limit
		}
		if err != nil {
			return err
		}
		q, period, err := parseCPUMax(b)
		if err != nil {
			return wrapPath(p, err)
		}
		if q > 0 && (s.CPU.QuotaUS < 0 || float64(q)/float64(period) < float64(s.CPU.QuotaUS)/float64(s.CPU.PeriodUS)) {
			s.CPU.QuotaUS, s.CPU.PeriodUS = q, period
		}
	}
	return cpusetUp(s, r.opts.Root, s.Path, "cpuset.cpus.effective")
}

// cpusetUp sets s.CPU.Cpuset from the nearest cgroup on the path whose file lists CPUs.
// No cpuset anywhere (controller not enabled) leaves it empty: renderers then use the host's.
func cpusetUp(s *Snapshot, root, cgPath, name string) error {
	for _, dir := range ancestors(root, cgPath) {
		p := filepath.Join(dir, name)
		b, err := readFile(p)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		cpus, err := ParseCPUList(string(b))
		if err != nil {
			return wrapPath(p, err)
		}
		if len(cpus) > 0 {
			s.CPU.Cpuset = cpus
			return nil
		}
	}
	return nil
}

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

func setMemStatV2(m *MemoryStat, k string, v uint64) {
	switch k {
	case "anon":
		m.Anon = v
	case "file":
		m.File = v
	case "active_anon":
		m.ActiveAnon = v
	case "inactive_anon":
		m.InactiveAnon = v
	case "active_file":
		m.ActiveFile = v
	case "inactive_file":
		m.InactiveFile = v
	case "unevictable":
		m.Unevictable = v
	case "shmem":
		m.Shmem = v
	case "file_mapped":
		m.Mapped = v
	case "file_dirty":
		m.Dirty = v
	case "file_writeback":
		m.Writeback = v
	case "slab_reclaimable":
		m.SlabReclaimable = v
	case "slab_unreclaimable":
		m.SlabUnreclaimable = v
	case "kernel_stack":
		m.KernelStack = v
	case "pagetables":
		m.PageTables = v
	}
}
