package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/kubetest"
	"github.com/procview/procview/injector/webhook"
	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
)

// warnings collects the admission warnings the API server passes on to the client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// env is one control plane with the injector served in-process and registered as a webhook.
type env struct {
	t        *testing.T
	ctx      context.Context
	c        client.Client
	warn     *warnings
	cfg      inject.Config
	metrics  string // base URL of /metrics
	cp       *kubetest.ControlPlane
	hookPort int
	seq      int // makes pod names unique
}

func TestAgainstAPIServer(t *testing.T) {
	cp := kubetest.Start(t)
	s := settings{Config: inject.DefaultConfig()}
	e := newEnv(t, cp, s)
	ctx, c := e.ctx, e.c

	for _, ns := range []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "apps"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, // the webhook is not called here
		{ObjectMeta: metav1.ObjectMeta{Name: "down"}},  // a second webhook that is down
		{ObjectMeta: metav1.ObjectMeta{Name: "secure", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}},
	} {
		if err := c.Create(ctx, &ns); err != nil {
			t.Fatal(err)
		}
	}
	e.registerWebhook("procview", e.hookPort, cp.CAPEM, admissionregistrationv1.Fail,
		metav1.LabelSelectorOperator("NotIn"), []string{"plain", "down"})
	e.waitInjecting("apps")

	t.Run("unannotated pod untouched", e.testUnannotated)
	t.Run("injected pod stored", e.testInjected)
	t.Run("dry-run equals stored", e.testDryRunEqualsStored)
	t.Run("re-admission is a no-op", e.testReadmission)
	t.Run("warnings reach the client", e.testWarnings)
	t.Run("PSA restricted namespace skipped", e.testPSA)
	t.Run("invalid annotation denied", e.testInvalid)
	t.Run("webhook down failurePolicy", e.testWebhookDown)
	t.Run("wrong CA fails TLS", e.testWrongCA)
	t.Run("metrics", e.testMetrics)
}

// newEnv serves the injector in-process with settings s (version "integration", loopback
// ports) against cp and returns a client that collects the warnings.
func newEnv(t *testing.T, cp *kubetest.ControlPlane, s settings) *env {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	certDir := t.TempDir()
	cp.ServingCert(t, certDir, "tls")
	s.Version = "integration"
	hookPort, metricsPort, healthPort := kubetest.FreePort(t), kubetest.FreePort(t), kubetest.FreePort(t)
	s.ListenAddr = "127.0.0.1:" + strconv.Itoa(hookPort)
	s.MetricsAddr = "127.0.0.1:" + strconv.Itoa(metricsPort)
	s.HealthAddr = "127.0.0.1:" + strconv.Itoa(healthPort)
	s.CertDir = certDir
	var logBuf syncBuffer
	log := funcr.New(func(p, a string) { logBuf.WriteString(p + " " + a + "\n") }, funcr.Options{})
	served := make(chan error, 1)
	go func() { served <- serve(ctx, rest.CopyConfig(cp.Config), s, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Error("serve did not return after its context ended")
		}
		if t.Failed() {
			t.Logf("--- injector log:\n%s", logBuf.String())
		}
	})
	if err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		return httpGetOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort))
	}); err != nil {
		t.Fatalf("injector not ready: %v", err)
	}

	warn := &warnings{}
	rc := rest.CopyConfig(cp.Config)
	rc.WarningHandlerWithContext = warn
	c := cp.Client(t, rc)
	e := &env{t: t, ctx: ctx, c: c, warn: warn, cfg: s.Config, cp: cp, hookPort: hookPort,
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
	return e
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteString(x string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(x)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func httpGetOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return nil
}

// registerWebhook creates (or replaces) a MutatingWebhookConfiguration for pod creation.
func (e *env) registerWebhook(name string, port int, caBundle []byte, policy admissionregistrationv1.FailurePolicyType,
	op metav1.LabelSelectorOperator, namespaces []string) {
	e.t.Helper()
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.Path)
	sideEffects := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    name + ".procview.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			FailurePolicy:           &policy,
			SideEffects:             &sideEffects,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: op, Values: namespaces}}},
		}},
	}
	var old admissionregistrationv1.MutatingWebhookConfiguration
	if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, &old); err == nil {
		cfg.ResourceVersion = old.ResourceVersion
		if err := e.c.Update(e.ctx, cfg); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	if err := e.c.Create(e.ctx, cfg); err != nil {
		e.t.Fatal(err)
	}
}

// waitInjecting waits until the API server calls the webhook (its configuration is picked up
// asynchronously), using dry-run creations that store nothing.
func (e *env) waitInjecting(ns string) {
	e.t.Helper()
	err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		p := e.pod("plain", ns)
		p.Name = "probe-injection"
		if err := e.c.Create(e.ctx, p, client.DryRunAll); err != nil {
			return err
		}
		if !hasSidecar(p) {
			return fmt.Errorf("not injected yet")
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("the webhook never injected a dry-run pod: %v", err)
	}
	e.warn.take()
}

// pod reads testdata/pods/NAME.yaml of the inject package, placed in namespace ns.
func (e *env) pod(name, ns string) *corev1.Pod {
	e.t.Helper()
	b, err := os.ReadFile("../../inject/testdata/pods/" + name + ".yaml")
	if err != nil {
		e.t.Fatal(err)
	}
	docs := strings.Split(string(b), "\n---\n")
	var p corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(docs[len(docs)-1]), &p); err != nil {
		e.t.Fatal(err)
	}
	p.Namespace = ns
	e.seq++
	p.Name = fmt.Sprintf("%s-%d", p.Name, e.seq)
	return &p
}

func hasSidecar(p *corev1.Pod) bool {
	return len(p.Spec.InitContainers) > 0 && p.Spec.InitContainers[0].Name == podview.SidecarName
}

func (e *env) create(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	if err := e.c.Create(e.ctx, p); err != nil {
		t.Fatalf("create %s/%s: %v", p.Namespace, p.Name, err)
	}
	var got corev1.Pod
	if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(p), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func (e *env) testUnannotated(t *testing.T) {
	in := e.pod("not-opted-in", "apps")
	got := e.create(t, in.DeepCopy())
	ref := e.pod("not-opted-in", "plain")
	want := e.create(t, ref)
	if d := cmp.Diff(want.Spec, got.Spec); d != "" {
		t.Errorf("an unannotated pod's spec differs from the same pod where no webhook runs:\n%s", d)
	}
	if _, ok := got.Annotations[inject.AnnotationStatus]; ok || len(got.Annotations) != 0 {
		t.Errorf("annotations added: %v", got.Annotations)
	}
	if w := e.warn.take(); len(w) != 0 {
		t.Errorf("warnings for an unannotated pod: %v", w)
	}
}

func (e *env) testInjected(t *testing.T) {
	got := e.create(t, e.pod("multi-container", "apps"))
	if !hasSidecar(got) {
		t.Fatalf("no sidecar first: %+v", got.Spec.InitContainers)
	}
	sc := got.Spec.InitContainers[0]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("sidecar restartPolicy %v, want Always", sc.RestartPolicy)
	}
	if sc.SecurityContext == nil || sc.SecurityContext.Privileged == nil || !*sc.SecurityContext.Privileged {
		t.Errorf("sidecar not privileged")
	}
	if got.Spec.ShareProcessNamespace == nil || !*got.Spec.ShareProcessNamespace {
		t.Errorf("shareProcessNamespace not set")
	}
	var st inject.Status
	if err := json.Unmarshal([]byte(got.Annotations[inject.AnnotationStatus]), &st); err != nil {
		t.Fatalf("status annotation: %v", err)
	}
	if st.Version != "integration" || st.CPUView != "cpuset" || slicesContain(st.Files, "diskstats") {
		t.Errorf("status %+v: want version integration, cpuView cpuset, no diskstats", st)
	}
	for _, c := range got.Spec.Containers {
		targets := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if m.Name == podview.VolumeName {
				targets[m.MountPath] = true
			}
		}
		for _, want := range []string{"/proc/meminfo", "/proc/cpuinfo", "/sys/devices/system/cpu", podview.VolumePath} {
			if !targets[want] {
				t.Errorf("container %s: no view mount at %s (has %v)", c.Name, want, targets)
			}
		}
		if targets["/proc/diskstats"] {
			t.Errorf("container %s: diskstats mounted although excluded", c.Name)
		}
	}
	if q := sc.Resources.Requests[corev1.ResourceCPU]; q.String() != "20m" {
		t.Errorf("sidecar cpu request %s, want 20m from the annotation", q.String())
	}
	e.warn.take()
}

func slicesContain(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// testDryRunEqualsStored: `procview-injector inject` on the same input, created where the
// webhook is not called, is stored exactly like the pod the webhook injected.
func (e *env) testDryRunEqualsStored(t *testing.T) {
	for _, name := range []string{"plain", "init-containers", "conflicting-mounts", "existing-sidecar"} {
		t.Run(name, func(t *testing.T) {
			viaWebhook := e.create(t, e.pod(name, "apps"))
			if !hasSidecar(viaWebhook) {
				t.Fatalf("not injected by the webhook")
			}
			in, err := yaml.Marshal(e.pod(name, "apps"))
			if err != nil {
				t.Fatal(err)
			}
			out, msgs, err := injectDocs(bytes.NewReader(in), e.cfg, nil)
			if err != nil {
				t.Fatalf("inject: %v (%v)", err, msgs)
			}
			var dry corev1.Pod
			if err := yaml.UnmarshalStrict(out, &dry); err != nil {
				t.Fatalf("dry-run output: %v\n%s", err, out)
			}
			dry.Namespace = "plain"
			viaCLI := e.create(t, &dry)
			if d := cmp.Diff(viaWebhook.Spec, viaCLI.Spec); d != "" {
				t.Errorf("stored specs differ (-webhook +dry-run):\n%s", d)
			}
			if d := cmp.Diff(viaWebhook.Annotations, viaCLI.Annotations); d != "" {
				t.Errorf("stored annotations differ (-webhook +dry-run):\n%s", d)
			}
			e.warn.take()
		})
	}
}

// testReadmission: creating a pod from an injected pod's stored spec changes nothing more.
func (e *env) testReadmission(t *testing.T) {
	first := e.create(t, e.pod("plain", "apps"))
	again := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: first.Name + "-again", Namespace: "apps",
		Annotations: first.Annotations, Labels: first.Labels}, Spec: first.Spec}
	second := e.create(t, again)
	if d := cmp.Diff(first.Spec, second.Spec); d != "" {
		t.Errorf("re-admitting an injected pod changed it:\n%s", d)
	}
	if d := cmp.Diff(first.Annotations, second.Annotations); d != "" {
		t.Errorf("re-admitting an injected pod changed its annotations:\n%s", d)
	}
	e.warn.take()
}

func (e *env) testWarnings(t *testing.T) {
	got := e.create(t, e.pod("conflicting-mounts", "apps"))
	if !hasSidecar(got) {
		t.Fatalf("not injected")
	}
	w := strings.Join(e.warn.take(), "\n")
	for _, want := range []string{`container "app" keeps its own /proc/meminfo`, "/sys/devices/system/cpu/online"} {
		if !strings.Contains(w, want) {
			t.Errorf("client warnings %q lack %q", w, want)
		}
	}
}

func (e *env) testPSA(t *testing.T) {
	p := e.pod("plain", "secure")
	// What Pod Security "restricted" demands of the app itself.
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	got := e.create(t, p)
	if hasSidecar(got) {
		t.Fatalf("injected into a restricted namespace")
	}
	w := strings.Join(e.warn.take(), "\n")
	if !strings.Contains(w, `enforces Pod Security "restricted"`) {
		t.Errorf("client warnings %q do not explain the skip", w)
	}
	// The skip is what keeps the pod admissible: the injected pod is refused by Pod Security.
	res, err := inject.Inject(p, inject.NamespaceInfo{Name: "secure"}, parsed(t, e.cfg))
	if err != nil || res.Skip != inject.NotSkipped {
		t.Fatalf("inject ignoring the namespace: %v %s", err, res.Skip)
	}
	res.Pod.Name = "forced"
	res.Pod.Namespace = "plain-secure-check"
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "plain-secure-check",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if err := e.c.Create(e.ctx, ns); err != nil {
		t.Fatal(err)
	}
	err = e.c.Create(e.ctx, res.Pod)
	if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("an injected pod in a restricted namespace: got %v, want a PodSecurity violation", err)
	}
	e.warn.take()
}

func (e *env) testInvalid(t *testing.T) {
	bad := e.pod("bad-annotations", "apps")
	err := e.c.Create(e.ctx, bad)
	if err == nil {
		t.Fatal("a pod with invalid procview annotations was admitted")
	}
	for _, want := range []string{"denied the request", `procview.dev/cpu-view: "cores": want quota or cpuset`, `unknown file "cpuinf"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var p corev1.Pod
	if err := e.c.Get(e.ctx, client.ObjectKeyFromObject(bad), &p); err == nil {
		t.Errorf("the denied pod was stored")
	}
	e.warn.take()
}

// testWebhookDown: a webhook that cannot be reached blocks pods under failurePolicy Fail and
// lets them through uninjected under Ignore.
func (e *env) testWebhookDown(t *testing.T) {
	dead := kubetest.FreePort(t)
	e.registerWebhook("procview-down", dead, e.cp.CAPEM, admissionregistrationv1.Fail, "In", []string{"down"})
	n := 0
	err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		n++
		p := e.pod("plain", "down")
		p.Name = fmt.Sprintf("fail-%d", n)
		if err := e.c.Create(e.ctx, p); err == nil {
			return fmt.Errorf("created: the Fail webhook is not active yet")
		} else if !strings.Contains(err.Error(), "failed calling webhook") {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("failurePolicy Fail with the webhook down: %v", err)
	}
	e.registerWebhook("procview-down", dead, e.cp.CAPEM, admissionregistrationv1.Ignore, "In", []string{"down"})
	var got *corev1.Pod
	err = testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		n++
		p := e.pod("plain", "down")
		p.Name = fmt.Sprintf("ignore-%d", n)
		if err := e.c.Create(e.ctx, p); err != nil {
			return err
		}
		got = p
		return nil
	})
	if err != nil {
		t.Fatalf("failurePolicy Ignore with the webhook down: %v", err)
	}
	if hasSidecar(got) {
		t.Errorf("pod injected although the webhook is down")
	}
	if got.Annotations[inject.AnnotationInject] != "true" {
		t.Errorf("annotations changed: %v", got.Annotations)
	}
	e.warn.take()
}

// testWrongCA: the API server checks the webhook's certificate against caBundle.
func (e *env) testWrongCA(t *testing.T) {
	other := kubetest.NewCA(t)
	e.registerWebhook("procview-down", e.hookPort, other, admissionregistrationv1.Fail, "In", []string{"down"})
	n := 0
	err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		n++
		p := e.pod("plain", "down")
		p.Name = fmt.Sprintf("tls-%d", n)
		err := e.c.Create(e.ctx, p)
		if err == nil || !strings.Contains(err.Error(), "x509") {
			return fmt.Errorf("want an x509 error, got %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.registerWebhook("procview-down", e.hookPort, e.cp.CAPEM, admissionregistrationv1.Fail, "In", []string{"down"})
	err = testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		n++
		p := e.pod("plain", "down")
		p.Name = fmt.Sprintf("tls-%d", n)
		if err := e.c.Create(e.ctx, p); err != nil {
			return err
		}
		if !hasSidecar(p) {
			return fmt.Errorf("not injected with the right CA")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.warn.take()
}

func (e *env) testMetrics(t *testing.T) {
	resp, err := http.Get(e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, series := range []string{
		`procview_injector_pods_total{reason="",result="injected"}`,
		`procview_injector_pods_total{reason="psa-privileged-forbidden",result="skipped"}`,
		`procview_injector_pods_total{reason="invalid-annotation",result="rejected"}`,
		`procview_injector_pods_total{reason="not-opted-in",result="skipped"}`,
		`procview_injector_admission_duration_seconds_count{result="injected"}`,
		`controller_runtime_webhook_latency_seconds_count{webhook="` + webhook.Path + `"}`, // the framework's own
	} {
		v, ok := metricValue(body, series)
		if !ok || v < 1 {
			t.Errorf("metric %s = %v (present %v), want >= 1", series, v, ok)
		}
	}
	for _, result := range []string{"injected", "skipped"} {
		sum, _ := metricValue(body, `procview_injector_admission_duration_seconds_sum{result="`+result+`"}`)
		n, _ := metricValue(body, `procview_injector_admission_duration_seconds_count{result="`+result+`"}`)
		if n > 0 {
			t.Logf("admission latency (%s): %d requests, mean %.2f ms", result, int(n), 1000*sum/n)
		}
	}
}

func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func ptr[T any](v T) *T { return &v }
