package testenv

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatalf and Skipf record and stop the goroutine, as t's do.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...); runtime.Goexit() }
func (r *recorder) Skipf(f string, a ...any)  { r.skip = fmt.Sprintf(f, a...); runtime.Goexit() }

// run calls fn with a recorder on its own goroutine, as the testing package does.
func run(t *testing.T, fn func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(r) }()
	<-done
	return r
}

func TestEventually(t *testing.T) {
	n := 0
	r := run(t, func(tb testing.TB) {
		Eventually(tb, time.Minute, time.Millisecond, func() error {
			if n++; n < 3 {
				return errors.New("not yet")
			}
			return nil
		})
	})
	if r.fatal != "" || n != 3 {
		t.Errorf("a condition met on the third call: %d calls, failure %q", n, r.fatal)
	}
	r = run(t, func(tb testing.TB) {
		Eventually(tb, 0, time.Millisecond, func() error { return errors.New("never") })
	})
	if r.fatal != "not within 0s: never" {
		t.Errorf("a condition never met: failure %q", r.fatal)
	}
}

// A missing requirement fails a root or strict run and skips any other.
func TestMissing(t *testing.T) {
	t.Setenv(StrictEnv, "1")
	if r := run(t, func(tb testing.TB) { missing(tb, "x") }); r.fatal == "" {
		t.Errorf("strict: skip %q, want a failure", r.skip)
	}
	t.Setenv(StrictEnv, "")
	r := run(t, func(tb testing.TB) { missing(tb, "x") })
	if root := os.Geteuid() == 0; root != (r.fatal != "") || root == (r.skip != "") {
		t.Errorf("root %v: failure %q, skip %q", root, r.fatal, r.skip)
	}
}
