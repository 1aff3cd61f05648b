package cgroup

// The memory controller (v1 memory, v2 memory and swap).

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
				setMemStat(memStatV1, &s.Memory.Stat, k, v)
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
	parseFlatKeyed(b, func(k string, v uint64) { setMemStat(memStatV2, &s.Memory.Stat, k, v) })
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

// memStatKeys names each MemoryStat field's memory.stat key on v1 (the hierarchical total_*,
// which count the children's pages as every v2 key does) and on v2; "" where a version has none.
var memStatKeys = []struct {
	v1, v2 string
	field  func(*MemoryStat) *uint64
}{
	{"total_rss", "anon", func(m *MemoryStat) *uint64 { return &m.Anon }},
	{"total_cache", "file", func(m *MemoryStat) *uint64 { return &m.File }},
	{"total_active_anon", "active_anon", func(m *MemoryStat) *uint64 { return &m.ActiveAnon }},
	{"total_inactive_anon", "inactive_anon", func(m *MemoryStat) *uint64 { return &m.InactiveAnon }},
	{"total_active_file", "active_file", func(m *MemoryStat) *uint64 { return &m.ActiveFile }},
	{"total_inactive_file", "inactive_file", func(m *MemoryStat) *uint64 { return &m.InactiveFile }},
	{"total_unevictable", "unevictable", func(m *MemoryStat) *uint64 { return &m.Unevictable }},
	{"total_shmem", "shmem", func(m *MemoryStat) *uint64 { return &m.Shmem }},
	{"total_mapped_file", "file_mapped", func(m *MemoryStat) *uint64 { return &m.Mapped }},
	{"total_dirty", "file_dirty", func(m *MemoryStat) *uint64 { return &m.Dirty }},
	{"total_writeback", "file_writeback", func(m *MemoryStat) *uint64 { return &m.Writeback }},
	{"", "slab_reclaimable", func(m *MemoryStat) *uint64 { return &m.SlabReclaimable }},
	{"", "slab_unreclaimable", func(m *MemoryStat) *uint64 { return &m.SlabUnreclaimable }},
	{"", "kernel_stack", func(m *MemoryStat) *uint64 { return &m.KernelStack }},
	{"", "pagetables", func(m *MemoryStat) *uint64 { return &m.PageTables }},
}

// memStatV1 and memStatV2 find a memory.stat key's field, by cgroup version.
var memStatV1, memStatV2 = func() (v1, v2 map[string]func(*MemoryStat) *uint64) {
	v1, v2 = map[string]func(*MemoryStat) *uint64{}, map[string]func(*MemoryStat) *uint64{}
	for _, k := range memStatKeys {
		if k.v1 != "" {
			v1[k.v1] = k.field
		}
		v2[k.v2] = k.field
	}
	return v1, v2
}()

// setMemStat stores memory.stat's value v of key k in m, when keys (memStatV1 or memStatV2)
// has a field for it.
func setMemStat(keys map[string]func(*MemoryStat) *uint64, m *MemoryStat, k string, v uint64) {
	if field, ok := keys[k]; ok {
		*field(m) = v
	}
}
