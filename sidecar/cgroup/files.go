package cgroup

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"syscall"
	"time"
)

// openFiles keeps the cgroup files a render reads open, and re-reads them with pread at offset
// 0: the kernel regenerates a cgroup (seq_file) file on every read from offset 0, so the bytes
// are as fresh as with open/read/close, at a third of the system calls and without a path
// walk. A file whose cgroup was removed reads ENODEV; it is closed and opened again by path
// (a new cgroup of the same name), and an error from that open is the caller's error.
// Files unused for idleAfter are closed, so removed cgroups are not pinned for long, and at
// most maxOpen files are kept: beyond that, reads fall back to open/read/close.
//
// The same holds for /proc/<pid>/cgroup: an open file belongs to that process, not to its
// number, and reads ESRCH once it has been reaped; the path is then opened again, for whichever
// process has the number now.
type openFiles struct {
	max  int           // files kept open at most; 0 = maxOpen
	idle time.Duration // unused this long, a file is closed; 0 = idleAfter

	mu        sync.Mutex
	files     map[string]*openFile
	lastSweep time.Time
}

type openFile struct {
	fd    int
	users int // reads in progress: the fd is closed only at 0
	used  time.Time
	stale bool // close when the last user is done
}

const (
	idleAfter = 30 * time.Second
	maxOpen   = 256
)

// read returns the content of cgroup file p.
func (c *openFiles) read(p string) (out []byte, err error) {
	err = c.with(p, func(b []byte) error {
		out = slices.Clone(b)
		return nil
	})
	return out, err
}

// with calls fn with the content of cgroup file p, in a buffer that is reused after fn returns.
func (c *openFiles) with(p string, fn func(b []byte) error) error {
	for attempt := 0; ; attempt++ {
		f, err := c.acquire(p)
		if err != nil {
			return err
		}
		if f == nil { // cache full
			bp, err := readPooled(p)
			if err != nil {
				return err
			}
			defer scratch.Put(bp)
			return fn(*bp)
		}
		bp, err := preadPooled(f.fd)
		c.release(p, f, err != nil)
		if err == nil {
			defer scratch.Put(bp)
			return fn(*bp)
		}
		if attempt == 0 && (errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ESRCH)) {
			continue // the cgroup was removed or the process reaped: open the path again
		}
		return fmt.Errorf("read %s: %w", p, err)
	}
}

// acquire returns p's open file, opening it if needed; nil without error when maxOpen are open.
func (c *openFiles) acquire(p string) (*openFile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.lastSweep) > c.idleTime() {
		c.sweep(now)
	}
	if f, ok := c.files[p]; ok {
		f.users++
		f.used = now
		return f, nil
	}
	if len(c.files) >= cmp.Or(c.max, maxOpen) {
		return nil, nil
	}
	fd, err := openRetry(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if c.files == nil {
		c.files = map[string]*openFile{}
	}
	f := &openFile{fd: fd, users: 1, used: now}
	c.files[p] = f
	return f, nil
}

// release ends a read of f; failed means the read failed and f must not be used again.
func (c *openFiles) release(p string, f *openFile, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.users--
	if failed && !f.stale {
		f.stale = true
		if c.files[p] == f {
			delete(c.files, p)
		}
	}
	if f.stale && f.users == 0 {
		syscall.Close(f.fd)
	}
}

// sweep closes files unused since idleAfter. c.mu is held.
func (c *openFiles) sweep(now time.Time) {
	c.lastSweep = now
	for p, f := range c.files {
		if now.Sub(f.used) > c.idleTime() {
			delete(c.files, p)
			f.stale = true
			if f.users == 0 {
				syscall.Close(f.fd)
			}
		}
	}
}

func (c *openFiles) idleTime() time.Duration { return cmp.Or(c.idle, idleAfter) }

// preadPooled reads fd from offset 0 to EOF into a buffer from scratch, which the caller puts back.
func preadPooled(fd int) (*[]byte, error) {
	bp := scratch.Get().(*[]byte)
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := syscall.Pread(fd, buf[len(buf):cap(buf)], int64(len(buf)))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			*bp = buf[:0]
			scratch.Put(bp)
			return nil, err
		}
		buf = buf[:len(buf)+n]
		// A short read is the end: a cgroup file is one seq_file record, generated whole;
		// reading on would cost a system call that returns 0.
		if n == 0 || len(buf) < cap(buf) {
			break
		}
	}
	*bp = buf
	return bp, nil
}

// close closes every kept file; reads after it open them again.
func (c *openFiles) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, f := range c.files {
		delete(c.files, p)
		f.stale = true
		if f.users == 0 {
			syscall.Close(f.fd)
		}
	}
}

// scratch holds read buffers: every render reads a few small files.
var scratch = sync.Pool{New: func() any { b := make([]byte, 8192); return &b }}

// readCgroup reads a cgroup controller file that is one record (not cgroup.procs), through
// the open-file cache.
func (r *FS) readCgroup(p string) ([]byte, error) { return r.files.read(p) }

// readFile reads one cgroup or proc file; the error names the path.
// It uses plain open/read/close: os.ReadFile's fstat and poller registration cost more than
// the read itself for these tiny kernel-generated files (10 µs instead of 30–70 µs here).
func readFile(p string) ([]byte, error) {
	bp, err := readPooled(p)
	if err != nil {
		return nil, err
	}
	defer scratch.Put(bp)
	return bytes.Clone(*bp), nil
}

// readPooled is readFile into a buffer from scratch, which the caller puts back.
func readPooled(p string) (*[]byte, error) {
	fd, err := openRetry(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer syscall.Close(fd)
	bp := scratch.Get().(*[]byte)
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			*bp = buf[:0]
			scratch.Put(bp)
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	*bp = buf
	return bp, nil
}

func openRetry(p string) (int, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV)
}
