package cgroup

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"syscall"
)

// taskDir is the directory whose cgroup.procs lists the container at cgroup path p (a
// Snapshot.Path): v2's, or v1's memory hierarchy (cpu where memory is not mounted).
func (r *FS) taskDir(p string) string {
	if r.version == 2 {
		return filepath.Join(r.opts.Root, p)
	}
	d := r.v1Dirs["memory"]
	if d == "" {
		d = r.v1Dirs["cpu"]
	}
	return filepath.Join(d, p)
}

// inode is the identity of cgroup directory dir: a cgroup removed and created again under the
// same path has a new one.
func inode(dir string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", dir, err)
	}
	return st.Ino, nil
}

// SampleTasks counts the threads of the container at cgroup path p by state, for the load
// average, and returns its cgroup's inode. Every thread counts (there is no reader to leave out).
func (r *FS) SampleTasks(p string) (Tasks, uint64, error) {
	dir := r.taskDir(p)
	ino, err := inode(dir)
	if err != nil {
		return Tasks{}, 0, err
	}
	var s Snapshot
	if err := r.readTasks(filepath.Join(dir, "cgroup.procs"), 0, NeedTasks, &s); err != nil {
		return Tasks{}, 0, err
	}
	return s.Tasks, ino, nil
}

// ScopeChildren lists the cgroup paths directly below the scope: with the pod scope, the pod's
// containers. The whole tree ("/" scope) is not listed: it would be every cgroup of the node.
func (r *FS) ScopeChildren() ([]string, error) {
	if r.opts.Scope == "/" {
		return nil, nil
	}
	entries, err := os.ReadDir(r.taskDir(r.opts.Scope))
	if err != nil {
		return nil, fmt.Errorf("list scope %s: %w", r.opts.Scope, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, path.Join(r.opts.Scope, e.Name()))
		}
	}
	return out, nil
}
