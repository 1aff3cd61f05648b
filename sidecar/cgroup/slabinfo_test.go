package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

func fixtureFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Kernels since 5.9 keep v1's memory.kmem.slabinfo but print nothing (this machine's 6.18
// does): that is no slab data, not an empty file to serve.
func TestV1EmptySlabinfo(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"proc/7/cgroup": "4:memory:/m/ctr\n0::/\n",
		"cgroup/memory/m/ctr/memory.kmem.slabinfo": "",
	})
	r, err := New(Options{Root: filepath.Join(dir, "cgroup"), ProcRoot: filepath.Join(dir, "proc")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Read(7, NeedSlab)
	if err != nil {
		t.Fatal(err)
	}
	if s.Slabinfo != nil {
		t.Errorf("Slabinfo = %q, want nil", s.Slabinfo)
	}
}
