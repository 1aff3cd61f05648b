package realview

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// A container that has done no I/O still sees every block device of the node, in the kernel's
// order, with its own (zero) counters: vmstat -d lists them and psutil returns them (it returns
// None for an empty /proc/diskstats, and its callers crash).
func TestDiskstatsListsDevicesBeforeAnyIO(t *testing.T) {
	view := mountView(t, nil)
	cg := testcgroup.New(t, "disk", testcgroup.Limits{})
	// Debian's psutil is installed for the system Python (test/apt-packages.txt).
	script := `vmstat -d; echo @; /usr/bin/python3 -c 'import psutil; d = psutil.disk_io_counters(perdisk=True); print(" ".join("%s:%d:%d" % (k, v.read_count, v.write_count) for k, v in d.items()))'`
	parts := run(t, inView(cg, view, []string{"proc/diskstats"}, script), 2)
	host, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	hostReads := map[string]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(string(host)), "\n") {
		f := strings.Fields(l)
		names = append(names, f[2])
		hostReads[f[2]], _ = strconv.ParseUint(f[3], 10, 64)
	}
	var vmNames []string
	for _, l := range strings.Split(strings.TrimSpace(parts[0]), "\n")[2:] {
		vmNames = append(vmNames, strings.Fields(l)[0])
	}
	if strings.Join(vmNames, " ") != strings.Join(names, " ") {
		t.Errorf("vmstat -d lists %v, want the node's devices %v", vmNames, names)
	}
	var psNames []string
	for _, e := range strings.Fields(parts[1]) {
		f := strings.Split(e, ":")
		psNames = append(psNames, f[0])
		reads, _ := strconv.ParseUint(f[1], 10, 64)
		// The container's own counters: a fraction of the node's (at most what loading python
		// read from disk), zero on a device with no reads at all.
		if h := hostReads[f[0]]; reads > h || (h > 1000 && reads > h/2) {
			t.Errorf("psutil %s: %d reads, node has %d: not the container's own", f[0], reads, h)
		}
	}
	if len(psNames) != len(names) {
		t.Errorf("psutil sees %v, want the node's devices %v", psNames, names)
	}
}
