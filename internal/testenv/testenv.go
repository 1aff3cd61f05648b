// Package testenv is what tests share: the machine requirements of a test (root, FUSE), waiting
// for a condition, and a FUSE mount that cleans up after itself. For tests only.
package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/jacobsa/fuse"
)

// StrictEnv set to 1 makes a missing requirement fail a test run by a non-root user too.
const StrictEnv = "PROCVIEW_TEST_STRICT"

// missing skips t for want, or fails it as root (a skipped test proves nothing there, and the
// README's test command runs as root) or under StrictEnv=1.
func missing(t testing.TB, want string) {
	t.Helper()
	if os.Geteuid() == 0 || os.Getenv(StrictEnv) == "1" {
		t.Fatalf("this test needs %s", want)
	}
	t.Skipf("needs %s", want)
}

// RequireRoot skips t unless it runs as root (see missing); why says what needs root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "root ("+why+")")
	}
}

// RequireFUSE is RequireRoot for FUSE mounts, which also need /dev/fuse.
func RequireFUSE(t testing.TB) {
	t.Helper()
	RequireRoot(t, "FUSE mounts")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing(t, fmt.Sprintf("/dev/fuse: %v", err))
	}
}

// Eventually calls cond every interval until it returns nil, and fails t with cond's last
// error if that has not happened within d.
func Eventually(t testing.TB, d, every time.Duration, cond func() error) {
	t.Helper()
	if err := Poll(d, every, cond); err != nil {
		t.Fatalf("not within %v: %v", d, err)
	}
}

// Poll calls cond every interval until it returns nil, and returns cond's last error if that
// has not happened within d: for a caller that says itself what did not happen.
func Poll(d, every time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(every)
	}
}

// MountFUSE mounts a file system with mount at a fresh directory and returns the directory.
// The server logs to t while the test runs and nowhere after: a lazily detached mount (one a
// concurrent `unshare -m` copied) keeps its server running, and t.Log after the test panics,
// killing the test binary while one of its threads may wait on its own mount. When the test
// ends the mount is unmounted with unmount and the server joined.
func MountFUSE(t *testing.T, mount func(dir string, log logr.Logger) (*fuse.MountedFileSystem, error), unmount func(dir string) error) string {
	t.Helper()
	RequireFUSE(t)
	var mu sync.Mutex
	over := false
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		if !over {
			t.Log(prefix, args)
		}
	}, funcr.Options{})
	dir := t.TempDir()
	mfs, err := mount(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := mfs.Join(ctx); err != nil {
			t.Logf("FUSE server still running after unmount (the mount is held elsewhere): %v", err)
		}
		mu.Lock()
		over = true
		mu.Unlock()
	})
	return dir
}
