//go:build e2e

// Package e2e runs procview in real pods on the local single-node Kubernetes that
// test/node/up.sh starts (test/e2e.sh does everything: `make e2e`). It drives the cluster with
// the real kubectl, so what it checks is what a user sees.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/procview/procview/internal/testenv"
)

// The node's files, found through the state dir (PROCVIEW_NODE_DIR, as in test/node/lib.sh).
var (
	nodeDir     string
	kubectlPath string
	kubeconfig  string
)

const (
	testappImage = "localhost/procview-testapp:dev"
	annInject    = "procview.dev/inject"
	annStatus    = "procview.dev/status"
	sidecarName  = "procview"
	nodeName     = "localhost"
)

// podReadyWithin bounds every wait for a pod; up to 3 times longer on a slow node (slowdown).
var podReadyWithin = 120 * time.Second * time.Duration(min(slowdown, 3))

// podGoneWithin bounds a pod's deletion (stop, grace, unmount, volume teardown, final status).
// On the host it takes 1-3 s. In the cgroup v2 VM under emulation an injected pod took 24 s
// alone and 26-84 s with three other tests running (CI runs, December 2026). A pod stuck
// Terminating never goes, so a bound far above that still catches it.
var podGoneWithin = 60 * time.Second * time.Duration(min(slowdown, 5))

func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n(start the node with test/node/up.sh --webhook, or run `make e2e`)\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	nodeDir = os.Getenv("PROCVIEW_NODE_DIR")
	if nodeDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		nodeDir = filepath.Join(wd, ".work", "node") // go test runs in test/e2e
	}
	kubeconfig = filepath.Join(nodeDir, "kubeconfig")
	if _, err := os.Stat(kubeconfig); err != nil {
		return fmt.Errorf("no node: %w", err)
	}
	bin, err := os.ReadFile(filepath.Join(nodeDir, "kube-bin"))
	if err != nil {
		return fmt.Errorf("no node: %w", err)
	}
	kubectlPath = filepath.Join(strings.TrimSpace(string(bin)), "kubectl")
	os.Setenv("KUBECACHEDIR", filepath.Join(nodeDir, "kubectl-cache"))
	out, err := kubectlOut("get", "node", nodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
	if err != nil {
		return err
	}
	if out != "True" {
		return fmt.Errorf("node %s is not Ready (%q)", nodeName, out)
	}
	return nil
}

// result of one kubectl run.
type result struct {
	stdout, stderr string
	err            error
}

// kubectlStdin runs kubectl. A kubectl that never reached the API server ("Unable to connect to
// the server", seen when the VM's emulated node is busy) did nothing: it is run again, twice at most.
func kubectlStdin(stdin []byte, args ...string) result {
	for try := 0; ; try++ {
		r := kubectlOnce(stdin, args...)
		if r.err == nil || try == 2 || !strings.Contains(r.stderr, "Unable to connect to the server") {
			return r
		}
		time.Sleep(time.Second)
	}
}

func kubectlOnce(stdin []byte, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlPath, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(e.String()))
	}
	return result{o.String(), e.String(), err}
}

func kubectlOut(args ...string) (string, error) {
	r := kubectlStdin(nil, args...)
	return strings.TrimSpace(r.stdout), r.err
}

// kubectl runs kubectl and fails the test on error; it returns stdout.
func kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := kubectlOut(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var nsSeq atomic.Int64

// newNamespace creates a namespace whose default ServiceAccount mounts no token, and deletes
// it with everything in it when the test ends.
func newNamespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	// A DNS label: subtest names carry "/" and "_" (for spaces).
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	name := fmt.Sprintf("e2e-%s-%d-%d", base, os.Getpid()%10000, nsSeq.Add(1))
	if len(name) > 63 {
		name = strings.TrimRight(name[len(name)-63:], "-")
		name = strings.TrimLeft(name, "-")
	}
	ns := corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	create(t, "", &ns)
	t.Cleanup(func() { deleteNamespace(t, name) })
	// The controller-manager makes a "default" ServiceAccount too, with token automount; ours
	// turns it off (the tests' pods need no API access). apply, again if it raced the controller.
	no := false
	sa, err := json.Marshal(corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}, AutomountServiceAccountToken: &no})
	if err != nil {
		t.Fatal(err)
	}
	if r := kubectlStdin(sa, "apply", "-f", "-"); r.err != nil {
		if r := kubectlStdin(sa, "apply", "-f", "-"); r.err != nil {
			t.Fatal(r.err)
		}
	}
	return name
}

// deleteNamespace deletes the workloads and pods (waiting for the pods: a hang here is a
// failure), then the namespace, which the controller-manager finishes in the background.
func deleteNamespace(t testing.TB, name string) {
	t.Helper()
	kubectlStdin(nil, "delete", "deployments,replicasets", "--all", "-n", name, "--wait=false")
	if r := kubectlStdin(nil, "delete", "pods", "--all", "-n", name, "--grace-period=2", "--wait=true", "--timeout=90s"); r.err != nil {
		t.Errorf("cleanup of namespace %s: %v", name, r.err)
		kubectlStdin(nil, "delete", "pods", "--all", "-n", name, "--force", "--grace-period=0")
	}
	kubectlStdin(nil, "delete", "namespace", name, "--wait=false")
}

// create sends obj to the API server (through the webhook) and returns kubectl's stderr,
// where admission warnings appear ("Warning: ...").
func create(t testing.TB, ns string, obj any) string {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"create", "-f", "-"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	r := kubectlStdin(b, args...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.stderr
}

// getPod reads the pod as the API server has it.
func getPod(t testing.TB, ns, name string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := json.Unmarshal([]byte(kubectl(t, "get", "pod", name, "-n", ns, "-o", "json")), &p); err != nil {
		t.Fatalf("decode pod %s/%s: %v", ns, name, err)
	}
	return &p
}

// deletePod deletes the pod and waits until it is gone. When it is not gone within
// podGoneWithin, the error carries what one needs to see: the pod's state and events, and the
// sidecar's log.
func deletePod(ns, name string) error {
	r := kubectlStdin(nil, "delete", "pod", name, "-n", ns, "--wait=true", "--timeout="+podGoneWithin.String())
	if r.err == nil {
		return nil
	}
	return fmt.Errorf("pod %s/%s not gone: %w\n%s", ns, name, r.err, podDiagnosis(ns, name))
}

// podDiagnosis is what one needs to see of a pod that did not do what a test waited for: its
// state and events, and the sidecar's log.
func podDiagnosis(ns, name string) string {
	desc := kubectlStdin(nil, "describe", "pod", name, "-n", ns)
	logs := kubectlStdin(nil, "logs", name, "-n", ns, "-c", sidecarName, "--tail=30")
	return fmt.Sprintf("%s\nsidecar log:\n%s%s", desc.stdout, logs.stdout, logs.stderr)
}

// waitReady waits until the pod is Ready and returns it; on timeout it fails with the pod's
// state and the sidecar's log, which is what one needs to see.
func waitReady(t testing.TB, ns, name string) *corev1.Pod {
	t.Helper()
	r := kubectlStdin(nil, "wait", "pod", name, "-n", ns, "--for=condition=Ready", "--timeout="+podReadyWithin.String())
	if r.err != nil {
		t.Fatalf("pod %s/%s not Ready: %v\n%s", ns, name, r.err, podDiagnosis(ns, name))
	}
	return getPod(t, ns, name)
}

// waitPod polls the pod until ok(pod) holds, or fails after podReadyWithin saying what it waited for.
func waitPod(t testing.TB, ns, name, what string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	if err := testenv.Poll(podReadyWithin, 500*time.Millisecond, func() error {
		if p = getPod(t, ns, name); !ok(p) {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("pod %s/%s: timed out waiting for %s\n%s", ns, name, what, podDiagnosis(ns, name))
	}
	return p
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// execIn runs a command in a container of a pod and returns its stdout.
func execIn(t testing.TB, ns, pod, container string, cmd ...string) string {
	t.Helper()
	return kubectl(t, append([]string{"exec", pod, "-n", ns, "-c", container, "--"}, cmd...)...)
}

// --- pod building ---------------------------------------------------------------------------

type podOpt func(*corev1.Pod)

// limits sets the limits the view must show, with small requests so that several pods fit on
// a 2-CPU node (requests would default to the limits).
func limits(mem, cpu string) corev1.ResourceRequirements {
	l, r := corev1.ResourceList{}, corev1.ResourceList{}
	if mem != "" {
		l[corev1.ResourceMemory] = resource.MustParse(mem)
		r[corev1.ResourceMemory] = resource.MustParse("16Mi")
	}
	if cpu != "" {
		l[corev1.ResourceCPU] = resource.MustParse(cpu)
		r[corev1.ResourceCPU] = resource.MustParse("10m")
	}
	return corev1.ResourceRequirements{Limits: l, Requests: r}
}

func appContainer(name, mem, cpu string, command ...string) corev1.Container {
	if len(command) == 0 {
		command = []string{"sleep", "infinity"}
	}
	return corev1.Container{Name: name, Image: testappImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: command, Resources: limits(mem, cpu)}
}

// newPod is a pod bound to the node (no wait for the scheduler) with the given app containers.
func newPod(name string, containers []corev1.Container, opts ...podOpt) *corev1.Pod {
	grace := int64(5)
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: containers,
			TerminationGracePeriodSeconds: &grace},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func optIn(p *corev1.Pod) { p.Annotations[annInject] = "true" }

func annotate(k, v string) podOpt { return func(p *corev1.Pod) { p.Annotations[k] = v } }

// --- what the tests read ---------------------------------------------------------------------

// freeTotalMiB runs procps `free -m` in the container and returns the Mem: total.
func freeTotalMiB(t testing.TB, ns, pod, container string) int64 {
	t.Helper()
	return parseFreeTotal(t, execIn(t, ns, pod, container, "free", "-m"))
}

func parseFreeTotal(t testing.TB, out string) int64 {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Mem:" {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("free -m: %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("free -m: no Mem: line in %q", out)
	return 0
}

func atoi(t testing.TB, what, s string) int {
	t.Helper()
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("%s: %q is not a number: %v", what, s, err)
	}
	return v
}

// hostMemMiB is what `free -m` shows on the host.
func hostMemMiB(t testing.TB) int64 {
	t.Helper()
	out, err := exec.Command("free", "-m").Output()
	if err != nil {
		t.Fatalf("host free -m: %v", err)
	}
	return parseFreeTotal(t, string(out))
}

func hostCPUs(t testing.TB) int {
	t.Helper()
	out, err := exec.Command("getconf", "_NPROCESSORS_ONLN").Output()
	if err != nil {
		t.Fatalf("host getconf: %v", err)
	}
	return atoi(t, "host getconf _NPROCESSORS_ONLN", string(out))
}

func injected(p *corev1.Pod) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == sidecarName {
			return true
		}
	}
	return false
}

// fuseMountsOf lists the host's FUSE mounts that belong to the pod (its UID is in the path).
func fuseMountsOf(t testing.TB, uid string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		i := strings.Index(line, " - ")
		if i < 0 {
			continue
		}
		if strings.HasPrefix(line[i+3:], "fuse") && strings.Contains(line, uid) {
			out = append(out, line)
		}
	}
	return out
}
