package cgroup

import (
	"path/filepath"
	"strconv"
	"testing"
)

func TestJoinedPathsMatchesFilepathJoin(t *testing.T) {
	var j joinedPaths
	for _, tc := range [][3]string{
		{"/sys/fs/cgroup/memory", "/kubepods/pod1/c1", "memory.stat"},
		{"/sys/fs/cgroup/memory", "/", "memory.stat"},
		{"/sys/fs/cgroup", "/a//b/", "memory.max"},
		{"/sys/fs/cgroup/memory", "/kubepods/pod1/c1", "memory.stat"}, // cached
	} {
		if got, want := j.join(tc[0], tc[1], tc[2]), filepath.Join(tc[0], tc[1], tc[2]); got != want {
			t.Errorf("join%q = %q, want %q", tc, got, want)
		}
	}
}

func TestJoinedPathsStaysBounded(t *testing.T) {
	var j joinedPaths
	for i := range 3 * maxJoined {
		p := "/c" + strconv.Itoa(i)
		if got := j.join("/root", p, "f"); got != "/root"+p+"/f" {
			t.Fatalf("join = %q", got)
		}
		if len(j.m) > maxJoined {
			t.Fatalf("%d paths kept, want at most %d", len(j.m), maxJoined)
		}
	}
}

func TestJoinedPathsDoesNotAllocateWhenCached(t *testing.T) {
	var j joinedPaths
	root, cg := "/sys/fs/cgroup/memory", "/kubepods/pod1/c1"
	j.join(root, cg, "memory.stat")
	if n := testing.AllocsPerRun(100, func() { j.join(root, cg, "memory.stat") }); n != 0 {
		t.Errorf("%v allocations per cached join, want 0", n)
	}
}
