package render

import "bytes"

// slabinfoHeader is /proc/slabinfo with no caches: the form served where the kernel keeps no
// slab data per cgroup. Version 2.1 is what every kernel since 2.6.12 writes.
const slabinfoHeader = "slabinfo - version: 2.1\n" +
	"# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>" +
	" : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"

// renderSlabinfo serves the memory cgroup's own slabinfo where the kernel writes one (v1
// memory.kmem.slabinfo with kmem accounting, kernels before 5.9), else the header alone: never
// the node's caches. v2's memory.stat has slab totals but no per-cache objects or sizes, and a
// made-up line would be read by slabtop as a real cache.
func renderSlabinfo(dst []byte, in Input) ([]byte, error) {
	if s := in.Snap.Slabinfo; bytes.HasPrefix(s, []byte("slabinfo - version:")) {
		return append(dst, s...), nil
	}
	return append(dst, slabinfoHeader...), nil
}
