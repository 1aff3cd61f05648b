package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// readVia is a Python reader that reads a file one way and prints {"data": base64} or
// {"err": "..."}: the system calls that programs other than GNU cat use to copy files.
const readVia = `
import base64, json, os, shutil, sys, tempfile
how, path = sys.argv[1], sys.argv[2]
def out(**kw): print(json.dumps(kw)); sys.exit(0)
try:
    if how == "shutil":  # CPython's copyfile: sendfile, falling back to read on an error
        with tempfile.NamedTemporaryFile() as t:
            shutil.copyfile(path, t.name); out(data=base64.b64encode(open(t.name, "rb").read()).decode())
    fd = os.open(path, os.O_RDONLY)
    if how == "pread":
        out(data=base64.b64encode(os.pread(fd, 1 << 16, 0)).decode())
    if how == "sendfile":
        with tempfile.TemporaryFile() as t:
            n = os.sendfile(t.fileno(), fd, None, 1 << 16); t.seek(0); out(data=base64.b64encode(t.read()).decode(), n=n)
    if how == "copy_file_range":
        with tempfile.TemporaryFile() as t:
            n = os.copy_file_range(fd, t.fileno(), 1 << 16); t.seek(0); out(data=base64.b64encode(t.read()).decode(), n=n)
    if how == "splice":
        r, w = os.pipe()
        n = os.splice(fd, w, 1 << 16); out(data=base64.b64encode(os.read(r, 1 << 16) if n else b"").decode(), n=n)
    if how == "mmap":
        import mmap
        m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ); out(data=base64.b64encode(m[:]).decode())
except (OSError, ValueError) as e:  # ValueError: mmap of a file whose size is 0
    out(err=str(e))
`

// Every way a program can read a view file gives exactly what read(2) gives that reader, or an
// error that makes ordinary programs fall back to read(2) — never another cgroup's bytes, NUL
// padding, or a silent empty file. The kernel serves sendfile, splice and copy_file_range (and
// mmap) of a FUSE file from its page cache even with direct I/O: one cache per file, shared by
// every reader, so the server refuses to fill it.
func TestEveryReadPathGetsTheReadersOwnBytes(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	small := testcgroup.New(t, "paths-small", testcgroup.Limits{MemoryBytes: 64 << 20, CPUQuotaUS: 100000, Cpuset: "0"})
	large := testcgroup.New(t, "paths-large", testcgroup.Limits{MemoryBytes: 128 << 20})
	files := []string{"proc/meminfo", "sys/devices/system/cpu/online", "proc/cpuinfo", "proc/uptime"}
	// stable is the part of a file that two reads by one reader must agree on.
	stable := func(file string, b []byte) string {
		switch file {
		case "proc/meminfo":
			return line(b)
		case "proc/cpuinfo":
			return fmt.Sprint(strings.Count(string(b), "processor\t:"), " processors")
		case "proc/uptime":
			return fmt.Sprint(len(strings.Fields(string(b))), " fields")
		}
		return string(b)
	}
	for _, cg := range []*testcgroup.Cgroup{small, large, small} { // small again: after large filled anything
		for _, file := range files {
			path := filepath.Join(s.dir, file)
			ref, err := cg.Command("cat", path).Output()
			if err != nil || len(ref) == 0 || bytes.IndexByte(ref, 0) >= 0 {
				t.Fatalf("cat %s: %v %q", file, err, ref)
			}
			want := stable(file, ref)
			check := func(how string, got []byte) {
				t.Helper()
				switch {
				case len(got) == 0:
					t.Errorf("%s %s in %s: 0 bytes and no error", how, file, cg.Path())
				case bytes.IndexByte(got, 0) >= 0:
					t.Errorf("%s %s in %s: %d NUL bytes in %d (%.40q...)", how, file, cg.Path(), bytes.Count(got, []byte{0}), len(got), got)
				case stable(file, got) != want:
					t.Errorf("%s %s in %s: %q, want %q (what cat reads there)", how, file, cg.Path(), stable(file, got), want)
				}
			}
			// Programs that fall back to read(2) on an error must get the file.
			bb, err := cg.Command("busybox", "cat", path).Output()
			if err != nil {
				t.Errorf("busybox cat %s: %v", file, err)
			}
			check("busybox cat (sendfile)", bb)
			for _, how := range []string{"shutil", "pread", "sendfile", "copy_file_range", "splice", "mmap"} {
				out, err := cg.Command("python3", "-c", readVia, how, path).Output()
				if err != nil {
					t.Errorf("python %s %s in %s: %v\n%s", how, file, cg.Path(), err, out)
					continue
				}
				var res struct {
					Data *string
					Err  string
				}
				if err := json.Unmarshal(out, &res); err != nil {
					t.Fatalf("python %s %s: %v: %s", how, file, err, out)
				}
				if res.Data == nil {
					if how == "shutil" || how == "pread" {
						t.Errorf("%s %s in %s: %s", how, file, cg.Path(), res.Err)
					}
					continue // an error: the caller falls back or reports it
				}
				got, _ := base64.StdEncoding.DecodeString(*res.Data)
				check(how, got)
			}
		}
	}
}

// Go's io.Copy from a view file uses sendfile to a socket and splice to a pipe, and falls back
// to read(2) only on EINVAL: a Go program serving or piping a view file gets all of it.
func TestGoCopyOfAViewFile(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	path := filepath.Join(s.dir, "proc/meminfo")
	ref, err := exec.Command("cat", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(conn, f) // sendfile
	conn.Close()
	if err != nil || n == 0 {
		t.Errorf("io.Copy to a socket: %d bytes, %v", n, err)
	}
	if b := <-got; line(b) != line(ref) {
		t.Errorf("the socket got %q, want %q", line(b), line(ref))
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		f, err := os.Open(path)
		if err == nil {
			io.Copy(w, f) // splice
			f.Close()
		}
		w.Close()
	}()
	if b, _ := io.ReadAll(r); line(b) != line(ref) {
		t.Errorf("the pipe got %q, want %q", line(b), line(ref))
	}
}
