package fusefs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/render"
)

// pidReader places every PID in its own fake cgroup "/fake/<pid>".
type pidReader struct{}

func (pidReader) Read(pid int, _ cgroup.Need) (*cgroup.Snapshot, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, cgroup.ErrNoProcess)
	}
	return &cgroup.Snapshot{Path: "/fake/" + strconv.Itoa(pid)}, nil
}

// big is larger than any single FUSE read, so reads at offsets are exercised.
var big = bytes.Repeat([]byte("0123456789abcdef"), 20000)

var fakeFiles = []render.File{
	{Path: "proc/meminfo", Render: func(dst []byte, in render.Input) ([]byte, error) {
		return append(dst, "cgroup="+in.Snap.Path+"\n"...), nil
	}},
	{Path: "proc/cpuinfo", Render: func([]byte, render.Input) ([]byte, error) { panic("renderer bug") }},
	{Path: "proc/stat", Render: func([]byte, render.Input) ([]byte, error) { return nil, errors.New("bad input") }},
	{Path: "proc/diskstats", Render: func(dst []byte, _ render.Input) ([]byte, error) { return append(dst, big...), nil }},
}

// Each reader process gets the rendering for its own PID, also when many read at once; a
// renderer's panic or error is EIO for that open only; large files come back whole.
func TestFakeTreeServesEachCaller(t *testing.T) {
	dir := mountView(t, pidReader{}, fakeFiles)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				cmd := exec.Command("cat", filepath.Join(dir, "proc/meminfo"))
				var out bytes.Buffer
				cmd.Stdout = &out
				if err := cmd.Run(); err != nil {
					t.Errorf("cat: %v", err)
					return
				}
				if want := fmt.Sprintf("cgroup=/fake/%d\n", cmd.Process.Pid); out.String() != want {
					t.Errorf("reader %d got %q, want %q", cmd.Process.Pid, out.String(), want)
				}
			}
		}()
	}
	wg.Wait()

	for _, name := range []string{"proc/cpuinfo", "proc/stat"} {
		if _, err := os.ReadFile(filepath.Join(dir, name)); !errors.Is(err, errEIO) {
			t.Errorf("%s: %v, want EIO", name, err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "proc/diskstats"))
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("large file: %d bytes (err %v), want %d identical bytes", len(got), err, len(big))
	}
	if _, err := os.ReadFile(filepath.Join(dir, "proc/meminfo")); err != nil {
		t.Errorf("server stopped answering after failures: %v", err)
	}
}

// allow_other: a non-root reader and a reader in a user namespace (as in a user-namespaced
// pod) read the view too, each its own.
func TestOtherUsersRead(t *testing.T) {
	dir := mountView(t, pidReader{}, fakeFiles)
	for d := filepath.Dir(dir); d != os.TempDir(); d = filepath.Dir(d) { // TempDirs are 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "proc/meminfo")
	nobody := exec.Command("cat", file)
	nobody.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	userns := exec.Command("unshare", "--user", "--map-root-user", "cat", file)
	for name, cmd := range map[string]*exec.Cmd{"uid 65534": nobody, "user namespace": userns} {
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v: %s", name, err, out)
			continue
		}
		// unshare execs cat, so the reader's PID is the command's.
		if want := fmt.Sprintf("cgroup=/fake/%d\n", cmd.Process.Pid); string(out) != want {
			t.Errorf("%s read %q, want %q", name, out, want)
		}
	}
}
