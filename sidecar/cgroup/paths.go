package cgroup

import (
	"path/filepath"
	"sync"
)

// joinedPaths memoizes filepath.Join(root, cgroup, file) for the files renders read: every
// read of a view file joins the same few paths, and each join allocates. Bounded like the
// other per-container caches: it is cleared when it holds maxJoined paths.
type joinedPaths struct {
	mu sync.Mutex
	m  map[[3]string]string
}

const maxJoined = 1024

func (j *joinedPaths) join(root, cgPath, name string) string {
	k := [3]string{root, cgPath, name}
	j.mu.Lock()
	defer j.mu.Unlock()
	if p, ok := j.m[k]; ok {
		return p
	}
	p := filepath.Join(root, cgPath, name)
	if len(j.m) >= maxJoined {
		clear(j.m)
	}
	if j.m == nil {
		j.m = map[[3]string]string{}
	}
	j.m[k] = p
	return p
}
