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
)

// BenchmarkPodStart measures what procview adds to a pod's start: create → Ready of the same
// pod with and without the annotation, alternating, PODSTART_PODS times each (default 20), one
// at a time. Each time is taken from before `kubectl create` until `kubectl wait` (a watch)
// returns, so kubectl's own overhead is in both and cancels in the difference of the medians.
// `make bench-node` runs it (b.N is ignored: the sample count is fixed).
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
	var plain, injectedTimes []time.Duration
	for i := 0; i < n; i++ {
		for _, inject := range []bool{i%2 == 0, i%2 != 0} { // alternate which goes first
			d := startOnce(b, ns, fmt.Sprintf("start-%d-%v", i, inject), inject)
			if inject {
				injectedTimes = append(injectedTimes, d)
			} else {
				plain = append(plain, d)
			}
		}
	}
	mi, mp := median(injectedTimes), median(plain)
	b.ReportMetric(mi.Seconds(), "injected-median-s")
	b.ReportMetric(mp.Seconds(), "plain-median-s")
	b.ReportMetric((mi - mp).Seconds(), "overhead-s")
	fmt.Printf("podstart_pods=%d\npodstart_injected_median_ms=%d\npodstart_plain_median_ms=%d\npodstart_overhead_ms=%d\n",
		n, mi.Milliseconds(), mp.Milliseconds(), (mi - mp).Milliseconds())
}

// startOnce creates the pod, waits until it is Ready, returns how long that took and deletes it.
func startOnce(b *testing.B, ns, name string, inject bool) time.Duration {
	b.Helper()
	opts := []podOpt{}
	if inject {
		opts = append(opts, optIn)
	}
	p := newPod(name, []corev1.Container{appContainer("app", "128Mi", "250m")}, opts...)
	start := time.Now()
	create(b, ns, p)
	if r := kubectlStdin(nil, "wait", "pod", name, "-n", ns, "--for=condition=Ready", "--timeout=120s"); r.err != nil {
		b.Fatal(r.err)
	}
	took := time.Since(start)
	if got := getPod(b, ns, name); injected(got) != inject {
		b.Fatalf("pod %s: injected %v, want %v", name, injected(got), inject)
	}
	if r := kubectlStdin(nil, "delete", "pod", name, "-n", ns, "--wait=true", "--timeout=60s"); r.err != nil {
		b.Fatal(r.err)
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
