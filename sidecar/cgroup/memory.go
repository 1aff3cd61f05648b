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
