package cgroup

import "path/filepath"

// slabV1 reads the memory cgroup's memory.kmem.slabinfo. A missing file (no kmem accounting,
// no memory controller path) or an empty one (kernels since 5.9 keep the file but print
// nothing) leaves Slabinfo nil: the view then shows no caches rather than the node's.
func (r *FS) slabV1(s *Snapshot, paths map[string]string) error {
	root, p, err := r.v1Root("memory", paths)
	if err != nil {
		return nil
	}
	b, err := readFile(filepath.Join(root, p, "memory.kmem.slabinfo"))
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(b) > 0 {
		s.Slabinfo = b
	}
	return nil
}
