package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps failures instead of failing the real test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.errs = append(r.errs, "FATAL "+fmt.Sprintf(format, a...))
}
func (r *recorder) Fatal(a ...any) { r.errs = append(r.errs, "FATAL "+fmt.Sprint(a...)) }
func (r *recorder) Errors() string { return strings.Join(r.errs, "\n") }
func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	write(t, p, "a\nb\nc\n")

	r := &recorder{TB: t}
	Compare(r, p, []byte("a\nb\nc\n"))
	if len(r.errs) != 0 {
		t.Errorf("equal content failed: %s", r.Errors())
	}

	r = &recorder{TB: t}
	Compare(r, p, []byte("a\nB\nc\n"))
	if len(r.errs) != 1 || !diffLine(r.errs[0], "-", `"b"`) || !diffLine(r.errs[0], "+", `"B"`) {
		t.Errorf("mismatch reported as %q, want one go-cmp diff of the line", r.Errors())
	}

	r = &recorder{TB: t}
	Compare(r, filepath.Join(dir, "missing"), []byte("x"))
	if len(r.errs) == 0 || !strings.HasPrefix(r.errs[0], "FATAL") || !strings.Contains(r.errs[0], "-update") {
		t.Errorf("missing golden reported as %q, want a fatal error pointing at -update", r.Errors())
	}
}

func TestNoStale(t *testing.T) {
	dir := t.TempDir()
	used, stale := filepath.Join(dir, "case", "used"), filepath.Join(dir, "case", "stale")
	os.MkdirAll(filepath.Dir(used), 0o755)
	write(t, used, "u")
	write(t, stale, "s")
	r := &recorder{TB: t}
	NoStale(r, dir, map[string]bool{used: true})
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], stale) {
		t.Errorf("NoStale reported %q, want only %s", r.Errors(), stale)
	}
}

func TestUpdateWritesAndRemoves(t *testing.T) {
	old := *update
	*update = true
	t.Cleanup(func() { *update = old })
	dir := t.TempDir()
	p := filepath.Join(dir, "new", "f")
	stale := filepath.Join(dir, "stale")
	write(t, stale, "s")
	r := &recorder{TB: t}
	Compare(r, p, []byte("fresh\n"))
	NoStale(r, dir, map[string]bool{p: true})
	if len(r.errs) != 0 {
		t.Fatalf("update mode failed: %s", r.Errors())
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "fresh\n" {
		t.Errorf("golden after update: %q, %v", b, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale golden still there after update: %v", err)
	}
}

// diffLine reports whether diff has a line starting with sign that holds s (go-cmp varies
// its spacing on purpose, so no exact match).
func diffLine(diff, sign, s string) bool {
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), sign) && strings.Contains(l, s) {
			return true
		}
	}
	return false
}
