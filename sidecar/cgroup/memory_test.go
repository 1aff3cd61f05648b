package cgroup

import (
	"reflect"
	"testing"
)

// Each memory.stat key of a version fills a field of its own, and v2 fills every field (v1 has
// no slab, kernel stack or page table keys).
func TestMemStatKeys(t *testing.T) {
	for _, c := range []struct {
		version string
		keys    map[string]func(*MemoryStat) *uint64
		want    int
	}{
		{"v1", memStatV1, reflect.TypeFor[MemoryStat]().NumField() - 4},
		{"v2", memStatV2, reflect.TypeFor[MemoryStat]().NumField()},
	} {
		var m MemoryStat
		n := uint64(0)
		for k := range c.keys {
			n++
			setMemStat(c.keys, &m, k, n)
		}
		filled := map[uint64]bool{}
		v := reflect.ValueOf(m)
		for i := range v.NumField() {
			if x := v.Field(i).Uint(); x != 0 {
				filled[x] = true
			}
		}
		if len(filled) != c.want || len(c.keys) != c.want {
			t.Errorf("%s: %d keys fill %d distinct fields, want %d of each", c.version, len(c.keys), len(filled), c.want)
		}
	}
}
