package cgroup

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The load sampler's view of the v1 and v2 fixture trees: the scope's containers, and each
// one's threads by state with no reader left out.
func TestSampleTasksFixtures(t *testing.T) {
	for _, tc := range []struct {
		tree, scope string
		children    []string
		sample      string
		want        Tasks
	}{
		{"v2", "/kubepods/podA", []string{"/kubepods/podA/busy", "/kubepods/podA/nested"}, "/kubepods/podA/busy", Tasks{Total: 4, Running: 2, Blocked: 1, LastPID: 104}},
		{"v1", "/kubepods/podX", []string{"/kubepods/podX/ctr", "/kubepods/podX/idle"}, "/kubepods/podX/ctr", Tasks{}},
	} {
		r := fixture(t, tc.tree, tc.scope)
		got, err := r.ScopeChildren()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.children, got); diff != "" {
			t.Errorf("%s children (-want +got):\n%s", tc.tree, diff)
		}
		tasks, ino, err := r.SampleTasks(tc.sample)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := inode(r.taskDir(tc.sample))
		if ino == 0 || ino != want {
			t.Errorf("%s inode %d, want %d", tc.tree, ino, want)
		}
		if tc.tree == "v2" {
			if diff := cmp.Diff(tc.want, tasks); diff != "" {
				t.Errorf("%s tasks (-want +got):\n%s", tc.tree, diff)
			}
		}
		if _, _, err := r.SampleTasks("/kubepods/gone"); err == nil {
			t.Errorf("%s: a removed cgroup sampled without error", tc.tree)
		}
	}
	if c, err := fixture(t, "v2", "/").ScopeChildren(); err != nil || c != nil {
		t.Errorf("scope /: %v %v, want nothing listed", c, err)
	}
}
