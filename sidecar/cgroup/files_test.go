package cgroup

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// TestOpenFilesRealCgroup: a kept-open cgroup file shows every change, a removed cgroup's file
// is an error that says so, and a new cgroup made at the same path is read, not the old one.
func TestOpenFilesRealCgroup(t *testing.T) {
	cg := testcgroup.New(t, "files", testcgroup.Limits{MemoryBytes: 64 << 20})
	r, err := New(Options{Root: testcgroup.Root, ProcRoot: "/proc"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testcgroup.Root, "memory", cg.Path())
	file := "memory.limit_in_bytes"
	if r.Version() == 2 {
		dir, file = filepath.Join(testcgroup.Root, cg.Path()), "memory.max"
	}
	var c openFiles
	read := func(p string) string {
		t.Helper()
		b, err := c.read(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	write := func(p, v string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	limit := filepath.Join(dir, file)
	if got := read(limit); got != "67108864" {
		t.Fatalf("limit = %q, want 67108864", got)
	}
	write(limit, "33554432")
	if got := read(limit); got != "33554432" {
		t.Errorf("limit after a change = %q, want 33554432 (a kept-open file must be re-read)", got)
	}

	if r.Version() == 2 {
		// A v2 child has a memory.max only once its parent delegates the controller.
		write(filepath.Join(dir, "cgroup.subtree_control"), "+memory")
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(sub) })
	subLimit := filepath.Join(sub, file)
	write(subLimit, "16777216")
	if got := read(subLimit); got != "16777216" {
		t.Fatalf("sub limit = %q, want 16777216", got)
	}
	if err := os.Remove(sub); err != nil {
		t.Fatal(err)
	}
	if b, err := c.read(subLimit); !isNotExist(err) {
		t.Errorf("read of a removed cgroup = %q, %v; want a not-exist error", b, err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write(subLimit, "8388608")
	if got := read(subLimit); got != "8388608" {
		t.Errorf("limit of the re-made cgroup = %q, want 8388608", got)
	}
	c.mu.Lock()
	n := len(c.files)
	c.mu.Unlock()
	if n != 2 {
		t.Errorf("%d files kept open, want 2 (the limit and the re-made cgroup's)", n)
	}
}

// TestOpenFilesLarge: files bigger than the read buffer are read whole, and fresh.
func TestOpenFilesLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	for _, size := range []int{20000, 9000, 0, 8192, 16384} {
		want := bytes.Repeat([]byte("x"), size)
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		var c openFiles
		got, err := c.read(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: read %d bytes, %v", size, len(got), err)
		}
	}
	if _, err := new(openFiles).read(filepath.Join(t.TempDir(), "missing")); !isNotExist(err) {
		t.Errorf("missing file: err = %v, want not-exist", err)
	}
}

// TestCloseReleasesFiles: Close closes every kept file, and the reader still works after it.
func TestCloseReleasesFiles(t *testing.T) {
	r, err := New(Options{Root: filepath.Join("testdata", "v1", "cgroup"), ProcRoot: filepath.Join("testdata", "v1", "proc")})
	if err != nil {
		t.Fatal(err)
	}
	fds := func() int {
		e, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(e)
	}
	before := fds()
	for range 3 {
		pid := firstFixturePID(t)
		if _, err := r.Read(pid, NeedMemory|NeedCPULimit|NeedCPUUsage); err != nil {
			t.Fatal(err)
		}
	}
	if fds() <= before {
		t.Errorf("no cgroup file kept open after reads (%d fds before, %d after)", before, fds())
	}
	r.Close()
	if got := fds(); got != before {
		t.Errorf("%d fds after Close, want %d", got, before)
	}
	if _, err := r.Read(firstFixturePID(t), NeedMemory); err != nil {
		t.Errorf("Read after Close: %v", err)
	}
	r.Close()
}

func firstFixturePID(t *testing.T) int {
	e, err := os.ReadDir(filepath.Join("testdata", "v1", "proc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range e {
		if pid, err := strconv.Atoi(d.Name()); err == nil {
			return pid
		}
	}
	t.Fatal("no pid in testdata/v1/proc")
	return 0
}
