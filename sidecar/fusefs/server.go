package fusefs

import (
	"context"
	"errors"
	"io"

	"github.com/go-logr/logr"
	"github.com/jacobsa/fuse"
	"github.com/jacobsa/fuse/fuseops"
)

// server answers each operation on the goroutine that read it from /dev/fuse, one at a time.
//
// fuseutil's server starts a goroutine per operation. Our operations are short (an open reads
// three or four small cgroup files, the rest is memory), and on the VMs measured here the
// thread wake-ups that a goroutine hand-off causes cost more than the operation itself: one
// thread that reads a request, answers it and reads the next halved the server CPU per
// open+read+close of meminfo. The kernel queues requests while we work, so concurrent
// readers wait at most one short operation for each other.
type server struct {
	fs  *FS
	log logr.Logger
}

// ServeOps implements fuse.Server.
func (s server) ServeOps(c *fuse.Connection) {
	for {
		ctx, op, err := c.ReadOp()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			// A message we cannot decode: the kernel speaks a protocol we do not. Nothing sane
			// can be answered any more; returning ends Join and the sidecar exits to be restarted.
			s.log.Error(err, "reading a FUSE request")
			return
		}
		err = s.handle(ctx, op)
		if err := c.Reply(ctx, err); err != nil {
			s.log.V(1).Info("FUSE reply not delivered (the caller was interrupted?)", "error", err.Error())
		}
	}
}

// handle dispatches op to the file system; anything we do not implement is ENOSYS, which tells
// the kernel not to send that kind of request again where it can (flush, opendir, xattrs).
func (s server) handle(ctx context.Context, op any) error {
	fs := s.fs
	switch o := op.(type) {
	case *fuseops.LookUpInodeOp:
		return fs.LookUpInode(ctx, o)
	case *fuseops.GetInodeAttributesOp:
		return fs.GetInodeAttributes(ctx, o)
	case *fuseops.OpenFileOp:
		return fs.OpenFile(ctx, o)
	case *fuseops.ReadFileOp:
		return fs.ReadFile(ctx, o)
	case *fuseops.ReleaseFileHandleOp:
		return fs.ReleaseFileHandle(ctx, o)
	case *fuseops.OpenDirOp:
		return fs.OpenDir(ctx, o)
	case *fuseops.ReadDirOp:
		return fs.ReadDir(ctx, o)
	case *fuseops.ReleaseDirHandleOp:
		return fs.ReleaseDirHandle(ctx, o)
	case *fuseops.ReadSymlinkOp:
		return fs.ReadSymlink(ctx, o)
	case *fuseops.StatFSOp:
		return fs.StatFS(ctx, o)
	case *fuseops.ForgetInodeOp, *fuseops.BatchForgetOp:
		return nil // inodes live as long as the mount (cpudir.go's are few: one per name)
	}
	return fuse.ENOSYS
}
