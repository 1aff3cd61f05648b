package cgroup

import (
	"fmt"
	"path/filepath"
	"time"
)

// The cpu, cpuacct and cpuset controllers (v1), cpu and cpuset (v2): limits and usage.

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
