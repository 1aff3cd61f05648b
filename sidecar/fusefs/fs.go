// Package fusefs serves the view as a read-only FUSE file system. A read at offset 0 renders the
// file for the process that reads (the PID the kernel puts in the request) into a buffer that
// belongs to that file handle; later reads are served from it, with direct I/O, so sizes never
// truncate. The kernel's page cache is never filled (pagecache.go).
package fusefs

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/jacobsa/fuse"
	"github.com/jacobsa/fuse/fuseops"
	"github.com/jacobsa/fuse/fuseutil"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/hostfacts"
	"github.com/procview/procview/sidecar/render"
)

// Options configure the file system.
type Options struct {
	Reader   cgroup.Reader
	Files    []render.File // the files to serve
	ProcRoot string        // host procfs, for host facts and the safe answer
	SysRoot  string        // host sysfs
	CPUView  podview.CPUView
	Now      func() time.Duration // time since boot (CLOCK_BOOTTIME)
	// Loads holds the containers' load averages, stepped by a loadsampler every 5 s; nil = an
	// empty tracker nobody steps (every load reads 0).
	Loads *render.LoadTracker
	Log   logr.Logger
	// CPUDir serves podview.CPUDir whole, cpuN directories per reader (cpudir.go), around the
	// rendered files under it.
	CPUDir bool
}

// The tree never changes, so the kernel may cache names and attributes for as long as it likes:
// every cached lookup is a FUSE round trip saved.
const cacheFor = 365 * 24 * time.Hour

type node struct {
	name     string
	dir      bool
	children []fuseops.InodeID // sorted by name, for ReadDir
	file     *render.File
}

// FS implements fuseutil.FileSystem. Our server answers one operation at a time (server.go);
// FS is safe for concurrent use all the same.
type FS struct {
	fuseutil.NotImplementedFileSystem
	opts   Options
	nodes  map[fuseops.InodeID]*node
	lookup map[fuseops.InodeID]map[string]fuseops.InodeID
	loads  *render.LoadTracker
	host   *hostCache
	nextID atomic.Uint64
	bufs   sync.Pool
	layout sync.Once // logs once that the request's read flags were not where expected

	mu        sync.Mutex // guards handles and every handle's fields, kept and keptBytes
	handles   map[fuseops.HandleID]*handle
	kept      list.List // handles holding a rendered buffer, least recently read first
	keptBytes int

	started time.Time // shown as every inode's times

	cpu *cpuDir // nil unless Options.CPUDir
}

// maxKeptBytes bounds the rendered buffers kept for readers in the middle of a file, whatever
// readers do (an fd leak, a poller per thread): past it the least recently read handle's buffer
// is dropped and rendered again if that reader goes on. A reader that reached the end of a file
// holds none: 50,000 open, read handles cost only their entries.
const maxKeptBytes = 1 << 20

// New builds the tree of opts.Files.
func New(opts Options) *FS {
	fs := &FS{
		opts:    opts,
		nodes:   map[fuseops.InodeID]*node{fuseops.RootInodeID: {dir: true}},
		lookup:  map[fuseops.InodeID]map[string]fuseops.InodeID{},
		loads:   opts.Loads,
		host:    &hostCache{procRoot: opts.ProcRoot, sysRoot: opts.SysRoot},
		handles: map[fuseops.HandleID]*handle{},
		started: time.Now(),
	}
	fs.kept.Init()
	if fs.loads == nil {
		fs.loads = render.NewLoadTracker()
	}
	fs.bufs.New = func() any { b := make([]byte, 0, 8<<10); return &b }
	next := fuseops.InodeID(fuseops.RootInodeID + 1)
	for i := range opts.Files {
		f := &opts.Files[i]
		parent := fuseops.InodeID(fuseops.RootInodeID)
		parts := strings.Split(f.Path, "/")
		for j, name := range parts {
			id, ok := fs.lookup[parent][name]
			if !ok {
				id = next
				next++
				n := &node{name: name, dir: j < len(parts)-1}
				if !n.dir {
					n.file = f
				}
				fs.nodes[id] = n
				if fs.lookup[parent] == nil {
					fs.lookup[parent] = map[string]fuseops.InodeID{}
				}
				fs.lookup[parent][name] = id
				fs.nodes[parent].children = append(fs.nodes[parent].children, id)
			}
			parent = id
		}
	}
	if opts.CPUDir {
		fs.serveCPUDir()
	}
	return fs
}

func (fs *FS) attrs(id fuseops.InodeID) fuseops.InodeAttributes {
	n := fs.nodes[id]
	a := fuseops.InodeAttributes{Nlink: 1, Mode: 0o444, Atime: fs.started, Mtime: fs.started, Ctime: fs.started}
	if n.dir {
		a.Mode, a.Nlink = 0o555|os.ModeDir, 2
	} else {
		a.Size = reportedSize // direct reads ignore it; see pagecache.go for why it is not 0
		if n.file.Private {
			a.Mode = 0o400
		}
	}
	return a
}

func (fs *FS) StatFS(ctx context.Context, op *fuseops.StatFSOp) error { return nil }

func (fs *FS) LookUpInode(ctx context.Context, op *fuseops.LookUpInodeOp) error {
	id, ok := fs.lookup[op.Parent][op.Name]
	if !ok && fs.isCPUDir(op.Parent) {
		return fs.cpuLookUp(op)
	}
	if !ok {
		return fuse.ENOENT
	}
	op.Entry = fuseops.ChildInodeEntry{
		Child: id, Attributes: fs.attrs(id),
		AttributesExpiration: time.Now().Add(cacheFor), EntryExpiration: time.Now().Add(cacheFor),
	}
	return nil
}

func (fs *FS) GetInodeAttributes(ctx context.Context, op *fuseops.GetInodeAttributesOp) error {
	if _, dyn := fs.cpu.node(op.Inode); dyn {
		return fs.cpuGetAttributes(op)
	}
	if _, ok := fs.nodes[op.Inode]; !ok {
		return fuse.ENOENT
	}
	op.Attributes = fs.attrs(op.Inode)
	op.AttributesExpiration = time.Now().Add(cacheFor)
	return nil
}

func (fs *FS) OpenDir(ctx context.Context, op *fuseops.OpenDirOp) error {
	if k, dyn := fs.cpu.node(op.Inode); dyn && k.mode == os.ModeDir {
		return nil
	}
	if n, ok := fs.nodes[op.Inode]; !ok || !n.dir {
		return fuse.ENOTDIR
	}
	return nil
}

func (fs *FS) ReadDir(ctx context.Context, op *fuseops.ReadDirOp) error {
	if fs.isCPUDir(op.Inode) {
		return fs.cpuReadDir(op)
	}
	n, ok := fs.nodes[op.Inode]
	if !ok || !n.dir {
		return fuse.ENOTDIR
	}
	for i := int(op.Offset); i < len(n.children); i++ {
		c := fs.nodes[n.children[i]]
		t := fuseutil.DT_File
		if c.dir {
			t = fuseutil.DT_Directory
		}
		w := fuseutil.WriteDirent(op.Dst[op.BytesRead:], fuseutil.Dirent{
			Offset: fuseops.DirOffset(i + 1), Inode: n.children[i], Name: c.name, Type: t,
		})
		if w == 0 {
			break
		}
		op.BytesRead += w
	}
	return nil
}

func (fs *FS) ReleaseDirHandle(ctx context.Context, op *fuseops.ReleaseDirHandleOp) error {
	return nil
}

func (fs *FS) OpenFile(ctx context.Context, op *fuseops.OpenFileOp) error {
	if k, dyn := fs.cpu.node(op.Inode); dyn {
		return fs.cpuOpen(op, k)
	}
	n, ok := fs.nodes[op.Inode]
	if !ok || n.dir {
		return fuse.EIO
	}
	op.Handle = fuseops.HandleID(fs.nextID.Add(1))
	op.UseDirectIO = true // the content changes on every read from 0: never cache, never trust a size
	fs.mu.Lock()
	fs.handles[op.Handle] = &handle{file: n.file, size: -1}
	fs.mu.Unlock()
	return nil
}

// handle is one open file. Its content is rendered by a read at offset 0 (for the process
// that reads) and kept for the reads after it, so a reader going through in pieces sees one
// consistent file. A read at 0 renders afresh: top and the procps library keep /proc/meminfo
// and friends open and pread them from 0 on every refresh, as lxcfs allows for the same reason.
// Rendering on read rather than open also saves the work for opens that never read. Once the
// reader has read to the end the buffer is dropped; its size stays, so the read at EOF that
// follows needs no render.
type handle struct {
	file *render.File
	host string        // instead of file: a host file read through (cpudir.go)
	buf  *[]byte       // the rendered file while kept, else nil
	size int           // len of the last rendering, -1 before the first
	elem *list.Element // in FS.kept while buf is kept
}

func (fs *FS) ReadFile(ctx context.Context, op *fuseops.ReadFileOp) error {
	if fill, ok := pageCacheFill(op); fill {
		return syscall.EINVAL
	} else if !ok {
		fs.layout.Do(func() {
			fs.opts.Log.Info("cannot tell page-cache fills from reads: this jacobsa/fuse keeps the request elsewhere; serving every read")
		})
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	h, ok := fs.handles[op.Handle]
	if !ok {
		return fuse.EIO
	}
	if h.buf == nil && h.size >= 0 && op.Offset >= int64(h.size) {
		return nil // EOF after the reader read it all
	}
	if op.Offset == 0 || h.buf == nil {
		// A re-render gets a new buffer: a reply may still point into the old one (op.Data
		// below), which the garbage collector frees once the reply is written.
		fs.drop(h)
		buf := fs.bufs.Get().(*[]byte)
		var b []byte
		var err error
		if h.host != "" {
			if b, err = appendHostFile((*buf)[:0], h.host); err != nil {
				fs.bufs.Put(buf)
				return err
			}
		} else if b, err = fs.render((*buf)[:0], int(op.OpContext.Pid), h.file); err != nil {
			fs.bufs.Put(buf)
			fs.opts.Log.Error(err, "render failed", "file", h.file.Path, "pid", op.OpContext.Pid)
			return fuse.EIO
		}
		*buf = b
		h.buf, h.size = buf, len(b)
		h.elem = fs.kept.PushBack(h)
		fs.keptBytes += cap(b)
		for fs.keptBytes > maxKeptBytes && fs.kept.Front() != h.elem {
			fs.drop(fs.kept.Front().Value.(*handle))
		}
	} else {
		fs.kept.MoveToBack(h.elem)
	}
	b := *h.buf
	if op.Offset < int64(len(b)) {
		b = b[op.Offset:]
		if op.Dst != nil {
			op.BytesRead = copy(op.Dst, b)
		} else {
			b = b[:min(int64(len(b)), op.Size)]
			op.Data = [][]byte{b}
			op.BytesRead = len(b)
		}
	}
	if op.Offset+int64(op.BytesRead) >= int64(h.size) { // read to the end
		if op.Dst != nil {
			fs.recycle(h) // copied out: no reply points into the buffer
		} else {
			fs.drop(h)
		}
	}
	return nil
}

// recycle drops h's buffer and returns it to the pool, unless it is unusually large. Only for a
// buffer no reply points into.
func (fs *FS) recycle(h *handle) {
	buf := h.buf
	fs.drop(h)
	if buf != nil && cap(*buf) <= 64<<10 {
		fs.bufs.Put(buf)
	}
}

// drop lets go of h's buffer, if any. It never returns it to the pool: a reply being written
// may point into it.
func (fs *FS) drop(h *handle) {
	if h.buf == nil {
		return
	}
	fs.keptBytes -= cap(*h.buf)
	fs.kept.Remove(h.elem)
	h.buf, h.elem = nil, nil
}

func (fs *FS) ReleaseFileHandle(ctx context.Context, op *fuseops.ReleaseFileHandleOp) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	h, ok := fs.handles[op.Handle]
	if !ok {
		return nil
	}
	delete(fs.handles, op.Handle)
	fs.recycle(h) // the kernel releases a file after its last read returned
	return nil
}

// render appends file f as seen by pid. A caller we cannot place in a served container (PID 0:
// the kubelet or anyone outside our PID namespace; a process that exited; a cgroup outside the
// scope) gets the host's own file: exactly what it would read without procview, and nothing of
// any container's. A panic in a renderer becomes an error; the server keeps running.
func (fs *FS) render(dst []byte, pid int, f *render.File) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("render %s for pid %d: panic: %v", f.Path, pid, r)
		}
	}()
	need := f.Need
	if need&cgroup.NeedSwap != 0 && !fs.host.hostHasSwap() {
		need &^= cgroup.NeedSwap
	}
	snap, err := fs.opts.Reader.Read(pid, need)
	if errors.Is(err, cgroup.ErrNoProcess) || errors.Is(err, cgroup.ErrOutOfScope) {
		return fs.hostFile(dst, f)
	}
	if err != nil {
		return nil, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	host, err := fs.host.get(f.Host)
	if err != nil {
		return nil, err
	}
	in := render.Input{Snap: snap, Host: host, Now: fs.opts.Now(), CPUView: fs.opts.CPUView}
	if f.Load {
		in.Load = fs.loads.Observe(snap.Inode, snap.Path)
	}
	return f.Render(dst, in)
}

func (fs *FS) hostFile(dst []byte, f *render.File) ([]byte, error) {
	b, err := hostfacts.File(fs.opts.ProcRoot, fs.opts.SysRoot, f.Path)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}
