//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/procview/procview/internal/testenv"
)

// cpuTools prints what the tools that count CPUs through /sys say, one "key=value" a line.
const cpuTools = `echo conf=$(getconf _NPROCESSORS_CONF); echo nprocall=$(nproc --all); echo nproc=$(nproc)
echo lscpu_cpus=$(lscpu | awk -F: '/^CPU\(s\)/ {gsub(/ /, "", $2); print $2}')
echo lscpu_offline=$(lscpu | grep -c '^Off-line' || true)
echo dirs=$(ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l)
echo slab_lines=$(wc -l < /proc/slabinfo)`

// A 1-CPU pod (limit 500m): lscpu, getconf _NPROCESSORS_CONF, nproc --all and the cpuN
// directories say 1 and lscpu reports no off-line CPU; /proc/slabinfo holds no node caches.
// After the sidecar's server is killed the re-attached directory answers the same.
func TestSysCPUDirectory(t *testing.T) {
	ns := newNamespace(t, nil)
	create(t, ns, newPod("cpus", []corev1.Container{appContainer("app", "256Mi", "500m")}, optIn))
	waitReady(t, ns, "cpus")
	want := map[string]string{"conf": "1", "lscpu_cpus": "1", "lscpu_offline": "0", "dirs": "1"}
	check := func(when string) {
		t.Helper()
		out := execIn(t, ns, "cpus", "app", "sh", "-c", cpuTools)
		// coreutils' nproc --all (gnulib) distrusts an _NPROCESSORS_CONF of 1 or 2 and takes the
		// affinity mask when that is larger: with no cpuset, nproc's count. No view changes that.
		if got, aff := atoi(t, "nproc --all", keyValue(out, "nprocall")), atoi(t, "nproc", keyValue(out, "nproc")); got != max(aff, 1) {
			t.Errorf("%s: nproc --all = %d, want the affinity count %d\n%s", when, got, aff, out)
		}
		for k, v := range want {
			if got := keyValue(out, k); got != v {
				t.Errorf("%s: %s = %q, want %q\n%s", when, k, got, v, out)
			}
		}
		// This node's kernel keeps no per-cgroup slab data (v1 since 5.9, v2 never): the header alone.
		if got := keyValue(out, "slab_lines"); got != "2" {
			t.Errorf("%s: /proc/slabinfo has %s lines, want the 2 header lines\n%s", when, got, out)
		}
	}
	check("started")
	if host := hostCPUs(t); host < 2 {
		t.Fatalf("the node has %d CPUs: the test cannot tell the view from the node", host)
	}

	execIn(t, ns, "cpus", "app", "python3", "-c", killSidecar, "worker")
	// The CPU directory comes back once the restarted server re-attaches it.
	testenv.Eventually(t, 10*time.Second, 200*time.Millisecond, func() error {
		out := kubectlStdin(nil, "exec", "cpus", "-n", ns, "-c", "app", "--", "getconf", "_NPROCESSORS_CONF")
		if out.err != nil || strings.TrimSpace(out.stdout) != "1" {
			return fmt.Errorf("getconf _NPROCESSORS_CONF after killing the server: %v %q", out.err, out.stdout)
		}
		return nil
	})
	check("after the server was killed")
}

func keyValue(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
