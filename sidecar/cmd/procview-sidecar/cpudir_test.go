package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/sidecar/hostfacts"
	"github.com/procview/procview/sidecar/internal/testcgroup"
)

// What the tools that count CPUs through /sys see, in a container whose view has 1 CPU,
// cpuset {last host CPU}: lscpu, getconf _NPROCESSORS_CONF, nproc --all and a count of the cpuN
// directories say 1, lscpu reports no off-line CPU, and cpu0's topology and cache files are
// those of the host CPU it stands for. A second container on the same mount with every host
// CPU sees them all, and after it the first still sees only its own: no reader is answered from
// the kernel's cache of another reader's lookups.
func TestCPUDirectoryRealTools(t *testing.T) {
	testenv.RequireFUSE(t)
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	online, err := hostfacts.ParseOnline(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(online) < 2 {
		t.Fatalf("needs a host with at least 2 online CPUs to tell a renumbered CPU apart, have %v", online)
	}
	last := online[len(online)-1]
	s := startServer(t, "", nil)
	one := testcgroup.New(t, "cpudir-one", testcgroup.Limits{CPUQuotaUS: 50000, Cpuset: strconv.Itoa(last)})
	all := testcgroup.New(t, "cpudir-all", testcgroup.Limits{})

	script := `echo conf=$(getconf _NPROCESSORS_CONF); echo onln=$(getconf _NPROCESSORS_ONLN); echo nprocall=$(nproc --all)
		echo dirs=$(ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l)
		echo lscpu_cpus=$(lscpu | awk -F: '/^CPU\(s\)/ {gsub(/ /, "", $2); print $2}')
		echo lscpu_offline=$(lscpu | grep -c '^Off-line' || true)
		for f in possible present online offline; do echo $f=$(cat /sys/devices/system/cpu/$f); done
		echo core_id=$(cat /sys/devices/system/cpu/cpu0/topology/core_id)
		echo cache=$(cat /sys/devices/system/cpu/cpu0/cache/index0/size)
		echo cpu1=$(test -e /sys/devices/system/cpu/cpu1 && echo yes || echo no)
		echo kernel_max=$(cat /sys/devices/system/cpu/kernel_max)`
	hostCPU := func(cpu int, rel string) string {
		b, err := os.ReadFile(filepath.Join("/sys/devices/system/cpu", "cpu"+strconv.Itoa(cpu), rel))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	kernelMax, _ := os.ReadFile("/sys/devices/system/cpu/kernel_max")
	check := func(name, out string, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got := field1(out, k); got != v {
				t.Errorf("%s: %s = %q, want %q\n%s", name, k, got, v, out)
			}
		}
	}
	wantOne := map[string]string{
		"conf": "1", "onln": "1", "nprocall": "1", "dirs": "1", "lscpu_cpus": "1", "lscpu_offline": "0",
		"possible": "0", "present": "0", "online": "0", "offline": "",
		"core_id": hostCPU(last, "topology/core_id"), "cache": hostCPU(last, "cache/index0/size"), "cpu1": "no",
		"kernel_max": strings.TrimSpace(string(kernelMax)), // the host's entries pass through
	}
	check("1 CPU", inContainer(t, one, s.dir, script), wantOne)
	n := strconv.Itoa(len(online))
	check("every CPU", inContainer(t, all, s.dir, script), map[string]string{
		"conf": n, "nprocall": n, "dirs": n, "lscpu_cpus": n, "lscpu_offline": "0", "offline": "",
		"core_id": hostCPU(online[0], "topology/core_id"), "cpu1": "yes",
	})
	check("1 CPU again", inContainer(t, one, s.dir, script), wantOne)

	// A reader outside every served container (scope "/" here: a process of the host's root
	// cgroup is out of scope only on v2) still reads a consistent directory through the mount.
	entries, err := os.ReadDir(filepath.Join(s.dir, podview.CPUDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Error("the CPU directory lists nothing")
	}
}

// field1 is the value of "key=value" in out ("" if absent).
func field1(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// /proc/slabinfo through the mount, root-only as the host's: slabtop and a Python reader in a
// container see the memory cgroup's slab caches where the kernel keeps them per cgroup (v1
// with kmem accounting before 5.9), else none at all, never the node's; a non-root reader is
// refused as it is on the node.
func TestSlabinfoRealTools(t *testing.T) {
	testenv.RequireFUSE(t)
	s := startServer(t, "", nil)
	cg := testcgroup.New(t, "slab", testcgroup.Limits{MemoryBytes: 128 << 20})
	out := inContainer(t, cg, s.dir, `slabtop -o | grep 'Active / Total Caches'
		python3 -c 'print("lines=%d" % len(open("/proc/slabinfo").read().splitlines()))'
		head -1 /proc/slabinfo
		echo nonroot=$(setpriv --reuid=65534 --regid=65534 --clear-groups cat /proc/slabinfo >/dev/null 2>&1 && echo read || echo refused)`)
	own := cgroupSlabinfo(t, cg)
	wantLines := "2" // the header alone
	if own != "" {
		wantLines = strconv.Itoa(len(strings.Split(strings.TrimRight(own, "\n"), "\n")))
	}
	if got := field1(out, "lines"); got != wantLines {
		t.Errorf("/proc/slabinfo has %s lines, want %s (the cgroup's own slabinfo: %d bytes)\n%s", got, wantLines, len(own), out)
	}
	if !strings.Contains(out, "slabinfo - version: 2.1") {
		t.Errorf("no slabinfo header in\n%s", out)
	}
	if own == "" && !strings.Contains(out, "Active / Total Caches (% used)     : 0 / 0") {
		t.Errorf("slabtop should see no cache\n%s", out)
	}
	if field1(out, "nonroot") != "refused" {
		t.Errorf("a non-root reader could read /proc/slabinfo (the node's is 0400)\n%s", out)
	}
}

// cgroupSlabinfo is the kernel's per-cgroup slabinfo of cg: v1 memory.kmem.slabinfo, empty on
// kernels since 5.9 and where kmem accounting is off; nothing on v2.
func cgroupSlabinfo(t *testing.T, cg *testcgroup.Cgroup) string {
	if cg.Version() != 1 {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(testcgroup.Root, "memory", cg.Path(), "memory.kmem.slabinfo"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
