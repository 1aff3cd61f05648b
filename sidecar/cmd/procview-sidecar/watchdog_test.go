package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jacobsa/fuse"
	"github.com/jacobsa/fuse/fuseops"
	"github.com/jacobsa/fuse/fuseutil"

	"github.com/procview/procview/sidecar/fusefs"
)

// wedgedFS has one file, "f", whose reads never answer until release is closed: a FUSE loop
// that is alive but stuck.
type wedgedFS struct {
	fuseutil.NotImplementedFileSystem
	release chan struct{}
}

func (fs *wedgedFS) LookUpInode(ctx context.Context, op *fuseops.LookUpInodeOp) error {
	if op.Parent != fuseops.RootInodeID || op.Name != "f" {
		return fuse.ENOENT
	}
	op.Entry.Child = 2
	op.Entry.Attributes = fuseops.InodeAttributes{Nlink: 1, Mode: 0o444, Size: 4}
	return nil
}

func (fs *wedgedFS) GetInodeAttributes(ctx context.Context, op *fuseops.GetInodeAttributesOp) error {
	op.Attributes = fuseops.InodeAttributes{Nlink: 1, Mode: 0o444, Size: 4}
	if op.Inode == fuseops.RootInodeID {
		op.Attributes.Mode = 0o555 | os.ModeDir
	}
	return nil
}

func (fs *wedgedFS) OpenFile(ctx context.Context, op *fuseops.OpenFileOp) error {
	op.UseDirectIO = true
	return nil
}

func (fs *wedgedFS) ReadFile(ctx context.Context, op *fuseops.ReadFileOp) error {
	<-fs.release
	return nil
}

// The watchdog reports a FUSE loop whose reads hang (the process then exits non-zero and the
// kubelet restarts it), and stays quiet while reads answer.
func TestWatchdogSeesWedgedLoop(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	fs := &wedgedFS{release: make(chan struct{})}
	mfs, err := fuse.Mount(dir, fuseutil.NewFileSystemServer(fs), &fuse.MountConfig{FSName: "procview-wedged-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(fs.release) // let the hung reads return, then unmount
		if err := fusefs.Unmount(dir); err != nil {
			t.Error(err)
		}
		mfs.Join(context.Background())
	})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wedged := make(chan error, 1)
	go watchdog(ctx, filepath.Join(dir, "f"), 50*time.Millisecond, 300*time.Millisecond, wedged)
	select {
	case err := <-wedged:
		if !strings.Contains(err.Error(), "wedged") {
			t.Errorf("watchdog said %q, want it to name a wedged loop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watchdog did not notice reads that never answer")
	}
}

// A live view keeps the watchdog quiet.
func TestWatchdogQuietWhileViewAnswers(t *testing.T) {
	needRoot(t)
	s := startServer(t, "", nil)
	ctx, cancel := context.WithCancel(t.Context())
	wedged := make(chan error, 1)
	go watchdog(ctx, filepath.Join(s.dir, "proc/meminfo"), 20*time.Millisecond, 5*time.Second, wedged)
	select {
	case err := <-wedged:
		t.Errorf("watchdog reported a live view: %v", err)
	case <-time.After(time.Second):
	}
	cancel()
}
