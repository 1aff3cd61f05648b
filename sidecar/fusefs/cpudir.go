package fusefs

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jacobsa/fuse"
	"github.com/jacobsa/fuse/fuseops"
	"github.com/jacobsa/fuse/fuseutil"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/render"
)

// cpuDir serves podview.CPUDir, /sys/devices/system/cpu, as the reader's CPUs make it: the
// rendered files (online, possible, present, offline) are ordinary view files; beside them
// cpu0..cpuN-1 stand for the reader's visible host CPUs in VisibleCPUs order (the order
// /proc/cpuinfo and /proc/stat renumber in), and every file below cpuK is the host CPU's own,
// read on each open. The host's other entries (cpufreq, cpuidle, vulnerabilities, ...) pass
// through unchanged: the directory is mounted whole in the app containers, and whatever it
// did not show would be hidden from them.
//
// A reader we cannot place in a served container sees the host's directory as it is.
//
// Which names exist below the directory, and what each stands for, depends on the reader, while
// the kernel keeps one dentry and inode per name for every reader of the mount. So every entry
// and attribute under a cpuK answers with expiration 0: the kernel asks again on each path walk
// and each stat, and never serves one reader another reader's cpu3 (a name a reader does not
// have is ENOENT, which the kernel does not cache either). The host's other entries are the
// same for every reader and are cached for hostTTL (CPU hotplug may add or remove some).
// Directory listings are never cached by the kernel unless asked to.
type cpuDir struct {
	root    fuseops.InodeID // the static directory node
	hostDir string          // <SysRoot>/devices/system/cpu
	static  map[string]bool // names of the rendered files in it

	mu    sync.Mutex
	ids   map[dynKey]fuseops.InodeID
	nodes []dynKey // by InodeID - dynBase
}

// dynKey names a dynamic inode: a path relative to the directory, in the reader's numbering
// ("cpu0/topology/core_id"), and its type. The type is part of the identity so that a name
// that is a file for one reader and a directory for another can never share an inode.
type dynKey struct {
	path string
	mode os.FileMode // os.ModeDir, os.ModeSymlink or 0
}

// dynBase is above every static inode (a handful) and below jacobsa/fuse's reserved IDs.
const dynBase fuseops.InodeID = 1 << 40

// serveCPUDir turns the static node of podview.CPUDir, made for the rendered files in it,
// into the whole directory. Without such a node (no rendered file under it) nothing changes.
func (fs *FS) serveCPUDir() {
	id := fuseops.InodeID(fuseops.RootInodeID)
	for _, name := range strings.Split(podview.CPUDir, "/") {
		var ok bool
		if id, ok = fs.lookup[id][name]; !ok {
			return
		}
	}
	d := &cpuDir{root: id, hostDir: filepath.Join(fs.opts.SysRoot, "devices/system/cpu"),
		static: map[string]bool{}, ids: map[dynKey]fuseops.InodeID{}}
	for _, c := range fs.nodes[id].children {
		d.static[fs.nodes[c].name] = true
	}
	fs.cpu = d
}

func (d *cpuDir) intern(k dynKey) fuseops.InodeID {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.ids[k]; ok {
		return id
	}
	id := dynBase + fuseops.InodeID(len(d.nodes))
	d.ids[k] = id
	d.nodes = append(d.nodes, k)
	return id
}

func (d *cpuDir) node(id fuseops.InodeID) (dynKey, bool) {
	if d == nil || id < dynBase {
		return dynKey{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := int(id - dynBase)
	if i >= len(d.nodes) {
		return dynKey{}, false
	}
	return d.nodes[i], true
}

// cpus is what a reader's cpuN names stand for: host = true for a reader we cannot place
// (the host's own names), else the visible host CPUs, view CPU k being visible[k].
type cpus struct {
	host    bool
	visible []int
}

// readerCPUs finds pid's visible CPUs, as the rendered CPU files do.
func (fs *FS) readerCPUs(pid int) (cpus, error) {
	snap, err := fs.opts.Reader.Read(pid, cgroup.NeedCPULimit)
	if errors.Is(err, cgroup.ErrNoProcess) || errors.Is(err, cgroup.ErrOutOfScope) {
		return cpus{host: true}, nil
	}
	if err != nil {
		return cpus{}, err
	}
	host, err := fs.host.get(render.HostOnline)
	if err != nil {
		return cpus{}, err
	}
	return cpus{visible: render.VisibleCPUs(render.Input{Snap: snap, Host: host, CPUView: fs.opts.CPUView})}, nil
}

// cpuNumber reads N from a "cpuN" name.
func cpuNumber(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "cpu")
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n >= 0
}

// hostPath maps a path relative to the directory, in the reader's numbering, to the host file
// it stands for; ok = false when the reader has no such CPU.
func (d *cpuDir) hostPath(rel string, c cpus) (string, bool) {
	first, rest, _ := strings.Cut(rel, "/")
	if n, isCPU := cpuNumber(first); isCPU && !c.host {
		if n >= len(c.visible) {
			return "", false
		}
		first = "cpu" + strconv.Itoa(c.visible[n])
	}
	return filepath.Join(d.hostDir, first, rest), true
}

// perReader reports whether rel's existence or content depends on the reader: a cpuN and
// everything below it.
func perReader(rel string) bool {
	first, _, _ := strings.Cut(rel, "/")
	_, ok := cpuNumber(first)
	return ok
}

func expiry(rel string) time.Time {
	if perReader(rel) {
		return time.Time{} // 0: ask again on every use
	}
	return time.Now().Add(hostTTL)
}

// stat resolves rel for pid and lstats the host file.
func (fs *FS) cpuStat(rel string, pid int) (os.FileInfo, string, error) {
	c, err := fs.readerCPUs(pid)
	if err != nil {
		fs.opts.Log.Error(err, "CPU directory: reading the reader's CPUs", "pid", pid)
		return nil, "", fuse.EIO
	}
	p, ok := fs.cpu.hostPath(rel, c)
	if !ok {
		return nil, "", fuse.ENOENT
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, "", fuse.ENOENT
	}
	return fi, p, nil
}

func typeOf(fi os.FileInfo) os.FileMode { return fi.Mode() & (os.ModeDir | os.ModeSymlink) }

// dynAttrs describes a host file as the view serves it: read-only, files sized 4096 as sysfs
// reports them (reads are direct), the host's read permissions kept (some cpufreq files are
// root-only).
func (fs *FS) dynAttrs(fi os.FileInfo) fuseops.InodeAttributes {
	a := fuseops.InodeAttributes{Nlink: 1, Atime: fs.started, Mtime: fs.started, Ctime: fs.started}
	switch typeOf(fi) {
	case os.ModeDir:
		a.Mode, a.Nlink = 0o555|os.ModeDir, 2
	case os.ModeSymlink:
		a.Mode = 0o777 | os.ModeSymlink
	default:
		a.Mode, a.Size = fi.Mode().Perm()&^0o222, reportedSize
	}
	return a
}

// isCPUDir reports whether id is the CPU directory or below it (and the directory is served).
func (fs *FS) isCPUDir(id fuseops.InodeID) bool {
	if fs.cpu == nil {
		return false
	}
	_, dyn := fs.cpu.node(id)
	return dyn || id == fs.cpu.root
}

// relOf is id's path relative to the directory ("" for the directory itself).
func (fs *FS) relOf(id fuseops.InodeID) (string, bool) {
	if id == fs.cpu.root {
		return "", true
	}
	k, ok := fs.cpu.node(id)
	return k.path, ok && k.mode == os.ModeDir
}

// cpuLookUp answers a LOOKUP below the CPU directory that the static tree did not.
func (fs *FS) cpuLookUp(op *fuseops.LookUpInodeOp) error {
	parent, ok := fs.relOf(op.Parent)
	if !ok {
		return fuse.ENOTDIR
	}
	rel := path.Join(parent, op.Name)
	fi, _, err := fs.cpuStat(rel, int(op.OpContext.Pid))
	if err != nil {
		return err
	}
	exp := expiry(rel)
	op.Entry = fuseops.ChildInodeEntry{
		Child:      fs.cpu.intern(dynKey{rel, typeOf(fi)}),
		Attributes: fs.dynAttrs(fi), AttributesExpiration: exp, EntryExpiration: exp,
	}
	return nil
}

func (fs *FS) cpuGetAttributes(op *fuseops.GetInodeAttributesOp) error {
	k, _ := fs.cpu.node(op.Inode)
	fi, _, err := fs.cpuStat(k.path, int(op.OpContext.Pid))
	if err != nil {
		return err
	}
	if typeOf(fi) != k.mode {
		return fuse.ENOENT // this reader's file of that name is another kind: a different inode
	}
	op.Attributes, op.AttributesExpiration = fs.dynAttrs(fi), expiry(k.path)
	return nil
}

// cpuReadDir lists a directory of the CPU tree for the reader: the rendered files, the host's
// other entries, and cpu0..cpuN-1 for the reader's N CPUs. The listing is sorted, so an offset
// means the same entry in the reader's next READDIR call.
func (fs *FS) cpuReadDir(op *fuseops.ReadDirOp) error {
	rel, ok := fs.relOf(op.Inode)
	if !ok {
		return fuse.ENOTDIR
	}
	pid := int(op.OpContext.Pid)
	c, err := fs.readerCPUs(pid)
	if err != nil {
		fs.opts.Log.Error(err, "CPU directory: reading the reader's CPUs", "pid", pid)
		return fuse.EIO
	}
	hostDir, ok := fs.cpu.hostPath(rel, c)
	if !ok {
		return fuse.ENOENT
	}
	entries, err := os.ReadDir(hostDir)
	if err != nil {
		return fuse.ENOENT
	}
	var ents []fuseutil.Dirent
	add := func(name string, id fuseops.InodeID, t fuseutil.DirentType) {
		ents = append(ents, fuseutil.Dirent{Inode: id, Name: name, Type: t})
	}
	if rel == "" {
		for _, id := range fs.nodes[fs.cpu.root].children {
			add(fs.nodes[id].name, id, fuseutil.DT_File)
		}
		if !c.host {
			for k := range c.visible {
				name := "cpu" + strconv.Itoa(k)
				add(name, fs.cpu.intern(dynKey{name, os.ModeDir}), fuseutil.DT_Directory)
			}
		}
	}
	for _, e := range entries {
		name := e.Name()
		if rel == "" && fs.cpu.static[name] {
			continue // rendered
		}
		if _, isCPU := cpuNumber(name); rel == "" && isCPU && !c.host {
			continue // the reader's own cpuN are listed above
		}
		mode, t := os.FileMode(0), fuseutil.DT_File
		switch {
		case e.Type()&os.ModeSymlink != 0:
			mode, t = os.ModeSymlink, fuseutil.DT_Link
		case e.IsDir():
			mode, t = os.ModeDir, fuseutil.DT_Directory
		}
		add(name, fs.cpu.intern(dynKey{path.Join(rel, name), mode}), t)
	}
	slices.SortFunc(ents, func(a, b fuseutil.Dirent) int { return strings.Compare(a.Name, b.Name) })
	for i := int(op.Offset); i < len(ents); i++ {
		ents[i].Offset = fuseops.DirOffset(i + 1)
		w := fuseutil.WriteDirent(op.Dst[op.BytesRead:], ents[i])
		if w == 0 {
			break
		}
		op.BytesRead += w
	}
	return nil
}

// cpuOpen resolves a file below the CPU directory for the reader that opens it: the handle
// reads that host file, whoever reads through it later.
func (fs *FS) cpuOpen(op *fuseops.OpenFileOp, k dynKey) error {
	if k.mode != 0 {
		return fuse.EIO
	}
	fi, p, err := fs.cpuStat(k.path, int(op.OpContext.Pid))
	if err != nil {
		return err
	}
	if typeOf(fi) != 0 {
		return fuse.ENOENT
	}
	op.Handle = fuseops.HandleID(fs.nextID.Add(1))
	op.UseDirectIO = true // sysfs files change (cpufreq) and are sized 4096
	fs.mu.Lock()
	fs.handles[op.Handle] = &handle{host: p, size: -1}
	fs.mu.Unlock()
	return nil
}

// ReadSymlink serves the host's link target (e.g. cpu0/cpufreq -> ../cpufreq/policy0, which
// then resolves inside the view to the policy of the host CPU cpu0 stands for).
func (fs *FS) ReadSymlink(ctx context.Context, op *fuseops.ReadSymlinkOp) error {
	k, ok := fs.cpu.node(op.Inode)
	if !ok || k.mode != os.ModeSymlink {
		return fuse.EINVAL
	}
	_, p, err := fs.cpuStat(k.path, int(op.OpContext.Pid))
	if err != nil {
		return err
	}
	t, err := os.Readlink(p)
	if err != nil {
		return fuse.ENOENT
	}
	op.Target = t
	return nil
}

// appendHostFile appends the host file at p. A sysfs file that refuses reads (EIO, ENODATA,
// EACCES) gives the reader the same error.
func appendHostFile(dst []byte, p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return nil, errno
		}
		return nil, err
	}
	return append(dst, b...), nil
}
