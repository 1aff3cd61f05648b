package reattach

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/jacobsa/fuse"
	"github.com/jacobsa/fuse/fuseops"
	"github.com/jacobsa/fuse/fuseutil"
	"golang.org/x/sys/unix"

	"github.com/procview/procview/internal/testenv"
)

// The test binary doubles as a tiny FUSE server (one file, proc/meminfo, saying which
// process serves it), so the test can SIGKILL a real server and leave a real dead mount.
const serverEnv = "INITMOUNT_TEST_FUSE_SERVER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serverEnv); dir != "" {
		if err := serveTestFS(dir, os.Getenv(serverEnv+"_TYPE")); err != nil {
			fmt.Fprintln(os.Stderr, "test fuse server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := mainThreadStaysHome(); err != nil {
		fmt.Fprintln(os.Stderr, "initmount:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestReattachAfterServerRestart: an "app" in its own mount and PID namespace reads a view
// file bound over its /proc/meminfo; the server is SIGKILLed (reads fail: transport endpoint
// is not connected), a new one mounts afresh, and Reattach makes the app read the new server
// without restarting it. A second app that never had the view is left alone.
func TestReattachAfterServerRestart(t *testing.T) {
	testenv.RequireFUSE(t)
	fsType := fmt.Sprintf("initmounttest%d", os.Getpid())

	vol := t.TempDir()
	// The volume is a shared mount, as the kubelet's pod volumes are (rshared), so a FUSE
	// mount made under it reaches app mount namespaces that are its slaves (HostToContainer).
	mustMount(t, vol, vol, "", unix.MS_BIND)
	t.Cleanup(func() { unmountAll(t, vol) })
	mustMount(t, "", vol, "", unix.MS_SHARED)
	view := filepath.Join(vol, "view")
	if err := os.Mkdir(view, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountAll(t, view) })

	first := startServer(t, view, fsType)
	viewFile := filepath.Join(view, "proc/meminfo")
	app := startApp(t, "mount --bind "+viewFile+" /proc/meminfo && mount -o remount,bind,ro /proc/meminfo")
	bystander := startApp(t, "true")
	appMeminfo := fmt.Sprintf("/proc/%d/root/proc/meminfo", app)

	if got := readOrErr(appMeminfo); got != served(first) {
		t.Fatalf("app reads %q before the restart, want %q", got, served(first))
	}

	kill(t, first)
	// A dead connection answers ECONNABORTED while the kernel aborts it, ENOTCONN after.
	if got := readOrErr(appMeminfo); !strings.Contains(got, "transport endpoint is not connected") &&
		!strings.Contains(got, "connection abort") {
		t.Fatalf("app reads %q after SIGKILL, want ENOTCONN or ECONNABORTED", got)
	}

	second := startServer(t, view, fsType)
	opts := Options{
		ProcRoot: "/proc",
		FSType:   "fuse." + fsType,
		Files:    []File{{Source: viewFile, Target: "/proc/meminfo"}, {Source: filepath.Join(view, "proc/cpuinfo"), Target: "/proc/cpuinfo"}},
		Skip:     func(pid int) bool { return pid != app && pid != bystander },
	}
	got, err := Run(testr.New(t), opts)
	if err != nil {
		t.Fatalf("Reattach: %v", err)
	}
	want := []Namespace{{PID: app, Reattached: []string{"/proc/meminfo"}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Reattach did %+v, want %+v", got, want)
	}
	if got := readOrErr(appMeminfo); got != served(second) {
		t.Fatalf("app reads %q after Reattach, want %q", got, served(second))
	}
	if got := readOrErr(fmt.Sprintf("/proc/%d/root/proc/meminfo", bystander)); strings.HasPrefix(got, "served by") {
		t.Errorf("the bystander now reads the view: %q", got)
	}

	// A second pass finds everything live and changes nothing.
	again, err := Run(testr.New(t), opts)
	if err != nil {
		t.Fatalf("second Reattach: %v", err)
	}
	if want := []Namespace{{PID: app, Live: []string{"/proc/meminfo"}}}; fmt.Sprint(again) != fmt.Sprint(want) {
		t.Fatalf("second Reattach did %+v, want %+v", again, want)
	}
}

func served(pid int) string { return fmt.Sprintf("served by %d\n", pid) }

func readOrErr(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func mustMount(t *testing.T, src, dst, fstype string, flags uintptr) {
	t.Helper()
	if err := unix.Mount(src, dst, fstype, flags, ""); err != nil {
		t.Fatalf("mount %q on %s: %v", src, dst, err)
	}
}

// unmountAll detaches every mount stacked at dir.
func unmountAll(t *testing.T, dir string) {
	for i := 0; i < 8; i++ {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				t.Errorf("unmount %s: %v", dir, err)
			}
			return
		}
	}
}

// startServer runs the test FUSE server on dir (detaching a dead mount first, as the sidecar
// does) and waits until the file answers. It returns the server's PID.
func startServer(t *testing.T, dir, fsType string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"="+dir, serverEnv+"_TYPE="+fsType)
	stderr := childStderr(t, cmd, "test FUSE server")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); stderr() })
	want := served(cmd.Process.Pid)
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := readOrErr(filepath.Join(dir, "proc/meminfo")); got != want {
			return fmt.Errorf("test FUSE server on %s did not answer: %q", dir, got)
		}
		return nil
	})
	return cmd.Process.Pid
}

func kill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Wait for the kernel to abort the connection (the process is reaped by its Cleanup).
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/status", pid)); err != nil {
			return
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if strings.Contains(string(b), "State:\tZ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startApp runs a shell in new mount and PID namespaces (a slave of ours, as HostToContainer
// makes an app container's view of the volume), runs setup in it, and returns the PID
// (in our namespace) of a process that stays in it.
func startApp(t *testing.T, setup string) int {
	t.Helper()
	cmd := exec.Command("unshare", "-m", "--propagation", "slave", "-p", "-f", "--mount-proc",
		"sh", "-c", setup+" && echo ready && exec sleep 600")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := childStderr(t, cmd, "app")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); stderr() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("app setup %q failed: %q %v", setup, line, err)
	}
	// unshare -f forks: the sleep is unshare's child.
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(children)))
	if err != nil {
		t.Fatalf("app process: children %q: %v", children, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// childStderr collects cmd's stderr; the function it returns, called once cmd was waited for,
// logs it if the test failed. Written straight to the test's stderr, a child's message killed
// mid-line ("unshare: ") ran into the "--- PASS" line that the VM's test run counts.
func childStderr(t *testing.T, cmd *exec.Cmd, who string) func() {
	var b bytes.Buffer
	cmd.Stderr = &b
	return func() {
		if t.Failed() && b.Len() > 0 {
			t.Logf("%s stderr:\n%s", who, b.Bytes())
		}
	}
}

// serveTestFS serves proc/meminfo = "served by <pid>\n" on dir until killed.
func serveTestFS(dir, subtype string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); errors.Is(err, unix.ENOTCONN) {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach dead mount %s: %w", dir, err)
		}
	}
	content := []byte(served(os.Getpid()))
	server := fuseutil.NewFileSystemServer(&testFS{content: content})
	mfs, err := fuse.Mount(dir, server, &fuse.MountConfig{
		FSName: "initmounttest", Subtype: subtype, ReadOnly: true,
		Options: map[string]string{"allow_other": ""},
	})
	if err != nil {
		return err
	}
	return mfs.Join(context.Background())
}

const (
	procInode    fuseops.InodeID = fuseops.RootInodeID + 1
	meminfoInode fuseops.InodeID = fuseops.RootInodeID + 2
)

type testFS struct {
	fuseutil.NotImplementedFileSystem
	content []byte
}

func (fs *testFS) attrs(inode fuseops.InodeID) (fuseops.InodeAttributes, bool) {
	switch inode {
	case fuseops.RootInodeID, procInode:
		return fuseops.InodeAttributes{Nlink: 1, Mode: 0o555 | os.ModeDir}, true
	case meminfoInode:
		return fuseops.InodeAttributes{Nlink: 1, Mode: 0o444, Size: uint64(len(fs.content))}, true
	}
	return fuseops.InodeAttributes{}, false
}

func (fs *testFS) LookUpInode(_ context.Context, op *fuseops.LookUpInodeOp) error {
	switch {
	case op.Parent == fuseops.RootInodeID && op.Name == "proc":
		op.Entry.Child = procInode
	case op.Parent == procInode && op.Name == "meminfo":
		op.Entry.Child = meminfoInode
	default:
		return fuse.ENOENT
	}
	op.Entry.Attributes, _ = fs.attrs(op.Entry.Child)
	return nil
}

func (fs *testFS) GetInodeAttributes(_ context.Context, op *fuseops.GetInodeAttributesOp) error {
	a, ok := fs.attrs(op.Inode)
	if !ok {
		return fuse.ENOENT
	}
	op.Attributes = a
	return nil
}

func (fs *testFS) OpenFile(context.Context, *fuseops.OpenFileOp) error { return nil }

func (fs *testFS) ReadFile(_ context.Context, op *fuseops.ReadFileOp) error {
	if op.Offset < int64(len(fs.content)) {
		op.BytesRead = copy(op.Dst, fs.content[op.Offset:])
	}
	return nil
}
