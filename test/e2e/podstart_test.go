//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// BenchmarkPodStart measures what procview adds to a pod's start: create → Ready of the same
// pod plain, with a do-nothing native sidecar (an init container with restartPolicy Always that
// sleeps: what any native sidecar costs), and with the procview annotation, in rotating order,
// PODSTART_PODS times each (default 20), one pod at a time. Each time is taken from before
// `kubectl create` until `kubectl wait` (a watch) returns, so kubectl's own overhead is in all
// and cancels in the differences of the medians. `make bench-node` runs it (b.N is ignored:
// the sample count is fixed).
func BenchmarkPodStart(b *testing.B) {
	n := 20
	if s := os.Getenv("PODSTART_PODS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("PODSTART_PODS=%q: want a positive number", s)
		}
		n = v
	}
	ns := newNamespace(b, nil)
	kinds := []string{"plain", "sidecar", "injected"}
	times := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		for j := range kinds {
			kind := kinds[(i+j)%len(kinds)] // rotate which goes first
			times[kind] = append(times[kind], startOnce(b, ns, fmt.Sprintf("start-%d-%s", i, kind), kind))
		}
	}
	plain, sidecar, inj := median(times["plain"]), median(times["sidecar"]), median(times["injected"])
	b.ReportMetric(inj.Seconds(), "injected-median-s")
	b.ReportMetric(sidecar.Seconds(), "sidecar-median-s")
	b.ReportMetric(plain.Seconds(), "plain-median-s")
	b.ReportMetric((inj - plain).Seconds(), "overhead-s")
	fmt.Printf("podstart_pods=%d\npodstart_plain_median_ms=%d\npodstart_noop_sidecar_median_ms=%d\npodstart_injected_median_ms=%d\n"+
		"podstart_overhead_ms=%d\npodstart_overhead_vs_noop_sidecar_ms=%d\n",
		n, plain.Milliseconds(), sidecar.Milliseconds(), inj.Milliseconds(), (inj - plain).Milliseconds(), (inj - sidecar).Milliseconds())
}

// startOnce creates a pod of the kind (plain, sidecar or injected), waits until it is Ready,
// returns how long that took and deletes it.
func startOnce(b *testing.B, ns, name, kind string) time.Duration {
	b.Helper()
	p := newPod(name, []corev1.Container{appContainer("app", "128Mi", "250m")})
	switch kind {
	case "injected":
		optIn(p)
	case "sidecar":
		c := appContainer("noop", "32Mi", "100m")
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		p.Spec.InitContainers = []corev1.Container{c}
	}
	start := time.Now()
	create(b, ns, p)
	if r := kubectlStdin(nil, "wait", "pod", name, "-n", ns, "--for=condition=Ready", "--timeout=120s"); r.err != nil {
		b.Fatal(r.err)
	}
	took := time.Since(start)
	if got := getPod(b, ns, name); injected(got) != (kind == "injected") {
		b.Fatalf("pod %s: injected %v, want %v", name, injected(got), kind == "injected")
	}
	if err := deletePod(ns, name); err != nil {
		b.Fatal(err)
	}
	return took
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
