package reattach

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Locked in init, the main goroutine runs on the main thread: TestMain (reattach_test.go) can
// then check mainThreadStaysHome, the case that must never enter a namespace there.
func init() { runtime.LockOSThread() }

// mainThreadStaysHome checks that work handed to runLocked on the main thread runs elsewhere.
func mainThreadStaysHome() error {
	if !onMainThread() {
		return fmt.Errorf("TestMain is not on the main thread (tid %d, pid %d)", unix.Gettid(), unix.Getpid())
	}
	tid := 0
	runtime.LockOSThread() // runLocked unlocks it once, as its callers' goroutines would
	runLocked(func() { tid = unix.Gettid() })
	if tid == 0 || tid == unix.Getpid() {
		return fmt.Errorf("runLocked ran its work on the main thread (tid %d)", tid)
	}
	if !onMainThread() {
		return fmt.Errorf("after runLocked the main goroutine left the main thread")
	}
	return nil
}
