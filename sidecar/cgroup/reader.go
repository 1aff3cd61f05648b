package cgroup

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// We read the controller files ourselves rather than through containerd/cgroups: its
// cgroup1/cgroup2 Stat() reads every file of every controller (tens of reads per call, and
// protobuf types that would triple the sidecar's size), while a render needs a few files.
// /proc/<pid>/cgroup is parsed by parseProcCgroup, which a fuzz test holds to containerd's
// ParseCgroupFromReaderUnified (that one allocated a 4 KiB scanner on every open).

// Options says where the cgroup and proc filesystems are and which cgroups we serve.
type Options struct {
	Root     string // cgroup fs root: v1 = a dir per controller (memory, cpu, "cpu,cpuacct", ...); v2 = unified
	ProcRoot string // procfs of the readers' PID namespace, e.g. /proc
	Scope    string // cgroup path prefix served; "" or "/" = all
}

// FS reads Snapshots from a cgroup filesystem tree. It is safe for concurrent use.
type FS struct {
	opts    Options
	version int
	v1Dirs  map[string]string // v1 controller -> its hierarchy's directory (Root/name)
	// v2TrueRoot: Root is the node's root cgroup (not a cgroup namespace's root).
	v2TrueRoot bool
	files      openFiles   // cgroup files kept open for re-reading
	procs      openFiles   // /proc/<pid>/cgroup of recent readers, kept open likewise
	paths      joinedPaths // file paths a render reads, joined once

	parsedMu sync.Mutex
	parsed   map[string]pidCgroups // /proc/<pid>/cgroup content -> its parse (shared, read-only)
}

var _ Reader = (*FS)(nil)

// New checks the tree at opts.Root and says whether it is cgroup v1 or v2.
func New(opts Options) (*FS, error) {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	opts.Scope = path.Clean("/" + opts.Scope)
	// A reader that polls (top, an agent) reuses its file; one-shot readers (free, cat) come
	// and go, so fewer are kept, and not for long.
	r := &FS{opts: opts, procs: openFiles{max: 64, idle: 10 * time.Second}}
	if _, err := os.Stat(filepath.Join(opts.Root, "cgroup.controllers")); err == nil {
		r.version = 2
		// Only the true root lacks cgroup.type; a cgroup namespace's root (a container's own
		// cgroup, mounted as this root) has it, and its limits.
		_, err := os.Stat(filepath.Join(opts.Root, "cgroup.type"))
		r.v2TrueRoot = isNotExist(err)
		return r, nil
	}
	entries, err := os.ReadDir(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("cgroup root %s: %w", opts.Root, err)
	}
	r.v1Dirs = map[string]string{}
	for _, e := range entries {
		for _, c := range strings.Split(e.Name(), ",") {
			// An exact name ("cpu") wins over a combined one ("cpu,cpuacct") it also appears in.
			if _, seen := r.v1Dirs[c]; !seen || c == e.Name() {
				r.v1Dirs[c] = filepath.Join(opts.Root, e.Name())
			}
		}
	}
	if r.v1Dirs["memory"] == "" && r.v1Dirs["cpu"] == "" {
		return nil, fmt.Errorf("cgroup root %s is not a cgroup filesystem: no cgroup.controllers (v2) and no memory or cpu controller directory (v1)", opts.Root)
	}
	r.version = 1
	return r, nil
}

// Close closes the cgroup files the reader keeps open. A long-lived reader need not call it;
// one made per request or per test should. The reader stays usable (files are opened again).
func (r *FS) Close() error {
	r.files.close()
	r.procs.close()
	return nil
}

// Version is 1 or 2.
func (r *FS) Version() int { return r.version }

// ContainerPath is the cgroup path of pid that scope and Snapshot.Path refer to:
// the v2 path, or the v1 memory hierarchy's path.
func (r *FS) ContainerPath(pid int) (string, error) {
	paths, err := r.procCgroups(pid)
	if err != nil {
		return "", err
	}
	return paths.main, nil
}

type pidCgroups struct {
	main string            // v2 path or v1 memory path
	v1   map[string]string // v1 controller -> path
}

func (r *FS) procCgroups(pid int) (pidCgroups, error) {
	if pid <= 0 {
		return pidCgroups{}, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	p := filepath.Join(r.opts.ProcRoot, strconv.Itoa(pid), "cgroup")
	var pc pidCgroups
	var parseErr error
	err := r.procs.with(p, func(b []byte) error {
		pc, parseErr = r.parsedProcCgroups(p, b)
		return nil
	})
	if err != nil {
		return pidCgroups{}, fmt.Errorf("%w: %w", ErrNoProcess, err)
	}
	return pc, parseErr
}

// parsedProcCgroups parses /proc/<pid>/cgroup content b. Every process of a container has the
// same file: each distinct content is parsed once. The key is the file's bytes, so this is
// exactly as fresh as parsing it every time.
func (r *FS) parsedProcCgroups(p string, b []byte) (pidCgroups, error) {
	r.parsedMu.Lock()
	pc, ok := r.parsed[string(b)]
	r.parsedMu.Unlock()
	if ok {
		return pc, nil
	}
	pc, err := r.parseProcCgroups(p, b)
	if err != nil {
		return pidCgroups{}, err
	}
	r.parsedMu.Lock()
	if len(r.parsed) >= maxParsed {
		clear(r.parsed)
	}
	if r.parsed == nil {
		r.parsed = map[string]pidCgroups{}
	}
	r.parsed[string(b)] = pc
	r.parsedMu.Unlock()
	return pc, nil
}

// maxParsed bounds the parsed /proc/<pid>/cgroup cache: one entry per distinct container.
const maxParsed = 128

// parseProcCgroups parses /proc/<pid>/cgroup (at p, content b) into the paths we use.
func (r *FS) parseProcCgroups(p string, b []byte) (pidCgroups, error) {
	v1, unified, err := parseProcCgroup(b)
	if err != nil {
		return pidCgroups{}, fmt.Errorf("parse %s: %w", p, err)
	}
	out := pidCgroups{v1: v1}
	if r.version == 2 {
		out.main = unified
	} else {
		out.main = v1["memory"]
		if out.main == "" {
			out.main = v1["cpu"]
		}
	}
	if out.main == "" {
		return pidCgroups{}, fmt.Errorf("%s: no cgroup v%d path", p, r.version)
	}
	// A cgroup outside our cgroup namespace shows as "/../x"; cleaning that would name some
	// other cgroup "/x" of ours, so it is refused (out of anything we can serve).
	for _, cp := range v1 {
		if hasDotDot(cp) {
			return pidCgroups{}, fmt.Errorf("%s: cgroup path %q is outside this cgroup namespace: %w", p, cp, ErrOutOfScope)
		}
	}
	if hasDotDot(out.main) {
		return pidCgroups{}, fmt.Errorf("%s: cgroup path %q is outside this cgroup namespace: %w", p, out.main, ErrOutOfScope)
	}
	out.main = path.Clean(out.main)
	return out, nil
}

// hasDotDot reports whether cgroup path p has a ".." segment.
func hasDotDot(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "/../")
}

// inScope reports whether cgroup path p is the scope or below it.
func (r *FS) inScope(p string) bool {
	s := r.opts.Scope
	return s == "/" || p == s || strings.HasPrefix(p, s+"/")
}

// Read implements Reader.
func (r *FS) Read(pid int, need Need) (*Snapshot, error) {
	paths, err := r.procCgroups(pid)
	if err != nil {
		return nil, err
	}
	if !r.inScope(paths.main) {
		return nil, fmt.Errorf("pid %d in %s: %w", pid, paths.main, ErrOutOfScope)
	}
	if r.version == 2 && r.v2TrueRoot && paths.main == "/" {
		// The v2 root cgroup sets no limits and has no memory.max, cpu.max or memory.current:
		// its readers (node daemons, a `0::/` shell) get the node's own files, as on v1.
		return nil, fmt.Errorf("pid %d in the root cgroup: %w", pid, ErrOutOfScope)
	}
	s := &Snapshot{Version: r.version, Path: paths.main}
	if r.version == 2 {
		err = r.readV2(s, pid, need)
	} else {
		err = r.readV1(s, pid, paths.v1, need)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ancestors returns dir and each parent up to and including root, nearest first.
func ancestors(root, cgPath string) []string {
	var out []string
	for p := path.Clean(cgPath); ; p = path.Dir(p) {
		out = append(out, filepath.Join(root, p))
		if p == "/" || p == "." {
			return out
		}
	}
}
