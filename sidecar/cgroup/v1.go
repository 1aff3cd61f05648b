package cgroup

import (
	"fmt"
	"path/filepath"
	"time"
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

func (r *FS) memoryV1(s *Snapshot, paths map[string]string, need Need) error {
	root, p, err := r.v1Root("memory", paths)
	if err != nil {
		return err
	}
	statPath := r.paths.join(root, p, "memory.stat")
	// hierarchical_* are already the smallest limit on the path: one read instead of a walk.
	limit, memswLimit := uint64(Unlimited), uint64(Unlimited)
	haveLimit := false
	err = r.files.with(statPath, func(b []byte) error { // parsed in place: no copy of the file
		parseFlatKeyed(b, func(k string, v uint64) {
			if v >= v1Unlimited {
				v = Unlimited
			}
			switch k {
			case "hierarchical_memory_limit":
				limit, haveLimit = v, true
			case "hierarchical_memsw_limit":
				memswLimit = v
			default:
				setMemStatV1(&s.Memory.Stat, k, v)
			}
		})
		return nil
	})
	if err != nil {
		return err
	}
	if !haveLimit {
		if limit, err = minLimitUp(root, p, "memory.limit_in_bytes", true); err != nil {
			return err
		}
	}
	s.Memory.Limit = limit
	usagePath := r.paths.join(root, p, "memory.usage_in_bytes")
	err = r.files.with(usagePath, func(b []byte) (err error) {
		if s.Memory.Usage, err = parseUint(b); err != nil {
			return wrapPath(usagePath, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if need&NeedSwap == 0 {
		return nil
	}
	swPath := r.paths.join(root, p, "memory.memsw.usage_in_bytes")
	b, err := r.readCgroup(swPath)
	if isNotExist(err) {
		return nil // no swap accounting (swapaccount=0 or no CONFIG_MEMCG_SWAP)
	}
	if err != nil {
		return err
	}
	memsw, err := parseUint(b)
	if err != nil {
		return wrapPath(swPath, err)
	}
	s.Memory.SwapAccounting = true
	s.Memory.SwapUsage = memsw - min(memsw, s.Memory.Usage)
	s.Memory.SwapLimit = Unlimited
	if memswLimit != Unlimited && limit != Unlimited {
		s.Memory.SwapLimit = memswLimit - min(memswLimit, limit)
	}
	return nil
}

func setMemStatV1(m *MemoryStat, k string, v uint64) {
	switch k {
	case "total_rss":
		m.Anon = v
	case "total_cache":
		m.File = v
	case "total_active_anon":
		m.ActiveAnon = v
	case "total_inactive_anon":
		m.InactiveAnon = v
	case "total_active_file":
		m.ActiveFile = v
	case "total_inactive_file":
		m.InactiveFile = v
	case "total_unevictable":
		m.Unevictable = v
	case "total_shmem":
		m.Shmem = v
	case "total_mapped_file":
		m.Mapped = v
	case "total_dirty":
		m.Dirty = v
	case "total_writeback":
		m.Writeback = v
	}
}

func (r *FS) cpuLimitV1(s *Snapshot, paths map[string]string) error {
	root, p, err := r.v1Root("cpu", paths)
	if err != nil {
		return err
	}
	s.CPU.QuotaUS, s.CPU.PeriodUS = -1, 100000
	for i, dir := range ancestors(root, p) {
		qPath := filepath.Join(dir, "cpu.cfs_quota_us")
		b, err := r.readCgroup(qPath)
		if isNotExist(err) && i > 0 {
			continue
		}
		if err != nil {
			return err
		}
		q, err := parseInt(b)
		if err != nil {
			return wrapPath(qPath, err)
		}
		if q <= 0 {
			continue
		}
		pPath := filepath.Join(dir, "cpu.cfs_period_us")
		if b, err = r.readCgroup(pPath); err != nil {
			return err
		}
		period, err := parseUint(b)
		if err != nil || period == 0 {
			return wrapPath(pPath, fmt.Errorf("bad period %q", b))
		}
		if s.CPU.QuotaUS < 0 || float64(q)/float64(period) < float64(s.CPU.QuotaUS)/float64(s.CPU.PeriodUS) {
			s.CPU.QuotaUS, s.CPU.PeriodUS = q, period
		}
	}
	croot, cp, err := r.v1Root("cpuset", paths)
	if err != nil {
		return nil // no cpuset controller: every host CPU
	}
	if err := cpusetUp(s, croot, cp, "cpuset.effective_cpus"); err != nil || len(s.CPU.Cpuset) > 0 {
		return err
	}
	return cpusetUp(s, croot, cp, "cpuset.cpus")
}

func (r *FS) cpuUsageV1(s *Snapshot, paths map[string]string) error {
	root, p, err := r.v1Root("cpuacct", paths)
	if err != nil {
		return err
	}
	b, err := r.readCgroup(r.paths.join(root, p, "cpuacct.stat"))
	if err != nil {
		return err
	}
	parseFlatKeyed(b, func(k string, v uint64) {
		switch k {
		case "user":
			s.CPU.User = ticks(v)
		case "system":
			s.CPU.System = ticks(v)
		}
	})
	// usage_all gives per-CPU user/system time in ns (kernels >= 4.16); optional.
	if b, err = r.readCgroup(r.paths.join(root, p, "cpuacct.usage_all")); err == nil {
		s.CPU.PerCPU = parseUsageAll(b)
	} else if !isNotExist(err) {
		return err
	}
	return nil
}

// parseUsageAll parses cpuacct.usage_all: a header line, then "cpu user_ns system_ns" lines.
func parseUsageAll(b []byte) []CPUTime {
	var out []CPUTime
	parseLines(b, func(f []string) {
		if len(f) != 3 {
			return
		}
		c, ok1 := atoi(f[0])
		u, ok2 := atou(f[1])
		sy, ok3 := atou(f[2])
		if ok1 && ok2 && ok3 && c >= 0 {
			out = append(out, CPUTime{CPU: c, User: time.Duration(u), System: time.Duration(sy)})
		}
	})
	return out
}

func (r *FS) ioV1(s *Snapshot, paths map[string]string) error {
	root, p, err := r.v1Root("blkio", paths)
	if err != nil {
		return err
	}
	devs := map[[2]uint32]*IODevice{}
	dev := func(maj, min uint32) *IODevice {
		k := [2]uint32{maj, min}
		if devs[k] == nil {
			devs[k] = &IODevice{Major: maj, Minor: min}
		}
		return devs[k]
	}
	files := []struct {
		name     string
		required bool
		set      func(d *IODevice, op string, v uint64)
	}{
		{"blkio.throttle.io_service_bytes", true, func(d *IODevice, op string, v uint64) {
			switch op {
			case "Read":
				d.ReadBytes = v
			case "Write":
				d.WriteBytes = v
			}
		}},
		{"blkio.throttle.io_serviced", true, func(d *IODevice, op string, v uint64) {
			switch op {
			case "Read":
				d.ReadIOs = v
			case "Write":
				d.WriteIOs = v
			}
		}},
		// These exist only with the CFQ/BFQ schedulers.
		{"blkio.io_merged", false, func(d *IODevice, op string, v uint64) {
			switch op {
			case "Read":
				d.ReadMerged = v
			case "Write":
				d.WriteMerged = v
			}
		}},
		{"blkio.io_service_time", false, func(d *IODevice, op string, v uint64) {
			switch op {
			case "Read":
				d.ReadTime = time.Duration(v)
			case "Write":
				d.WriteTime = time.Duration(v)
			}
		}},
		{"blkio.io_queued", false, func(d *IODevice, op string, v uint64) {
			if op == "Total" {
				d.InFlight = v
			}
		}},
	}
	for _, f := range files {
		// Prefer the _recursive file: a container's I/O includes its children's.
		b, err := r.readCgroup(r.paths.join(root, p, f.name+"_recursive"))
		if isNotExist(err) {
			b, err = r.readCgroup(r.paths.join(root, p, f.name))
		}
		if isNotExist(err) && !f.required {
			continue
		}
		if err != nil {
			return err
		}
		parseBlkioV1(b, func(maj, min uint32, op string, v uint64) {
			if op == "Total" && f.name != "blkio.io_queued" {
				return
			}
			f.set(dev(maj, min), op, v)
		})
	}
	s.IO = make([]IODevice, 0, len(devs))
	for _, d := range devs {
		s.IO = append(s.IO, *d)
	}
	sortDevices(s.IO)
	return nil
}

func wrapPath(p string, err error) error { return fmt.Errorf("%s: %w", p, err) }
