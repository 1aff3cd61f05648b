package fusefs

import (
	"unsafe"

	"github.com/jacobsa/fuse/fuseops"
)

// The kernel serves sendfile(2), splice(2), copy_file_range(2) and mmap of a FUSE file from
// its page cache, even when the open said direct I/O (filemap_splice_read; measured on 6.18):
// a read of at most the file's reported size, into pages shared by every reader of the file.
// Nothing we could put there is right for more than one reader: reporting size 0 made these
// calls copy 0 bytes without an error (busybox cat printed nothing), size 4096 gave the first
// reader's bytes, NUL-padded to 4096, to every later one, in any cgroup. So every file reports
// 4096 (sysfs's size; procfs reports 0, and readers of both read to EOF) and a read that fills
// the page cache is refused with EINVAL, the kernel's own answer for a file that cannot be
// spliced, on which callers fall back to read(2): busybox cat and CPython's shutil.copyfile on
// any error, Go's io.Copy (sendfile, splice) only on EINVAL (with EIO it returned the error).
// A raw splice or sendfile caller gets EINVAL, a shared mmap ENODEV (the kernel's answer for
// direct I/O files), and a private mapping SIGBUS when touched.
const reportedSize = 4096

// The one mark that tells the fill apart from a reader's own read: the kernel sets
// FUSE_READ_LOCKOWNER in read_flags on every direct read (fuse_send_read with the caller's
// files as lock owner) and never on a page-cache read (fuse_do_readfolio, readahead).
// jacobsa/fuse decodes fuse_read_in without read_flags, so we read that field where jacobsa
// keeps the request: op.Dst is the request buffer's free space, which starts right after the
// fuse_read_in it decoded (InMessage.GetFree).
const readLockOwner = 1 << 1 // FUSE_READ_LOCKOWNER, include/uapi/linux/fuse.h

// readIn is struct fuse_read_in (protocol 7.9 and later).
type readIn struct {
	Fh        uint64
	Offset    uint64
	Size      uint32
	ReadFlags uint32
	LockOwner uint64
	Flags     uint32
	_         uint32
}

// pageCacheFill reports whether op fills the kernel's page cache rather than answering a
// reader's own read. ok is false when the request could not be found where it should be (a
// jacobsa/fuse that lays out its buffer otherwise): the caller then serves the read.
func pageCacheFill(op *fuseops.ReadFileOp) (fill, ok bool) {
	if op.Dst == nil {
		// Larger than the request buffer's free space (a few KiB): a page-cache fill is never
		// longer than one page, which fits, so this is a reader's own read.
		return false, true
	}
	in := (*readIn)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(op.Dst)), -int(unsafe.Sizeof(readIn{}))))
	if in.Fh != uint64(op.Handle) || in.Offset != uint64(op.Offset) || in.Size != uint32(op.Size) {
		return false, false
	}
	return in.ReadFlags&readLockOwner == 0, true
}
