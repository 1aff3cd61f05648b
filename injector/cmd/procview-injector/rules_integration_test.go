package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/kubetest"
	"github.com/procview/procview/injector/internal/testpods"
)

// TestAdmissionAgainstAPIServer submits each row of issue 15's table (a namespace with its
// ResourceQuotas and LimitRanges, then the opted-in pod) through the webhook to a real
// kube-apiserver: the pod is admitted, injected or skipped with the warning naming the rule.
// The same pod injected without the rules is refused by the API server, which shows the
// case is real.
func TestAdmissionAgainstAPIServer(t *testing.T) {
	// A multi-tenant cluster: Pod Security baseline by default (the injector is told so).
	cp := kubetest.Start(t, kubetest.WithAdmissionConfig(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest}
`))
	s := settings{Config: inject.DefaultConfig()}
	s.PSADefaultLevel = "baseline"
	e := newEnv(t, cp, s)
	e.registerWebhook("procview", e.hookPort, cp.CAPEM, admissionregistrationv1.Fail, "NotIn", []string{"kube-system"})
	privileged := map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}
	for _, ns := range []string{"probe"} {
		if err := e.c.Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: privileged}}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitInjecting("probe")
	for _, tc := range []struct {
		file     string
		injected bool
		warning  string // in the client's warnings
		naive    string // the API server's refusal of the pod injected without the rules; "" : admitted
	}{
		{"quota-limits", true, "ResourceQuota q limits.cpu requires a limit", "must specify limits.cpu for: procview"},
		{"quota-full", false, "ResourceQuota q requests.memory", "exceeded quota"},
		{"limitrange-min", true, "", ""}, // procview.dev/sidecar-memory: 64Mi sets the request too (16Mi before: refused by the min)
		{"limitrange-min-default", true, "LimitRange lr (Container) min", "minimum"},
		{"limitrange-ratio", true, "maxLimitRequestRatio", "memory max limit to request ratio per Container is 1"},
		{"limitrange-default-max", true, "LimitRange lr (Container) default", ""},
		{"limitrange-too-small", false, "LimitRange tiny (Container) max", "maximum memory usage per Container is 8Mi"},
		{"limitrange-pod-max", false, "LimitRange per-pod (Pod) max", "maximum memory usage per Pod is 256Mi"},
		{"pod-level-resources", true, "pod-level resources", "must be greater than or equal to aggregate container"},
		// Pod Security baseline by default, namespace without labels.
		{"plain", false, `the cluster's default Pod Security level "baseline":latest applies`, `violates PodSecurity "baseline:latest"`},
		// The other rows: respected and skipped with a warning, the pod admitted unchanged.
		{"share-process-false", false, "shareProcessNamespace: false", ""},
		{"foreign-status", false, "it was not injected by procview", "-"},
		{"mirror-pod", false, "mirror pod", "-"},
		{"host-users-false", false, "hostUsers: false", "-"},
		{"windows-affinity", false, "only Windows nodes", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := testpods.ReadCase(t, "../../inject/testdata/pods/"+tc.file+".yaml")
			ns := "t-" + tc.file
			labels := privileged
			if tc.file == "plain" {
				labels = nil // the cluster's default applies
			}
			if err := e.c.Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}); err != nil {
				t.Fatal(err)
			}
			var rules inject.Rules
			for _, q := range c.Quotas {
				q.Namespace, q.ResourceVersion = ns, ""
				status := q.Status
				if err := e.c.Create(e.ctx, &q); err != nil {
					t.Fatal(err)
				}
				// No quota controller runs here: set the status it would (admission refuses pods while it is unknown).
				q.Status = status
				if err := e.c.Status().Update(e.ctx, &q); err != nil {
					t.Fatal(err)
				}
				rules.Quotas = append(rules.Quotas, q)
			}
			for _, lr := range c.LimitRanges {
				lr.Namespace = ns
				if err := e.c.Create(e.ctx, &lr); err != nil {
					t.Fatal(err)
				}
				rules.LimitRanges = append(rules.LimitRanges, lr)
			}
			// The pod injected as before this change (rules unknown, pod-level resources as they
			// were), created with an annotation the webhook leaves alone.
			if tc.naive != "-" {
				e.checkNaive(t, c, ns, tc.naive)
			}
			p := c.Pod.DeepCopy()
			p.Namespace = ns
			got := e.create(t, p)
			if hasSidecar(got) != tc.injected {
				t.Errorf("injected %v, want %v (init containers %v)", hasSidecar(got), tc.injected, got.Spec.InitContainers)
			}
			w := strings.Join(e.warn.take(), "\n")
			if !strings.Contains(w, tc.warning) {
				t.Errorf("warnings %q lack %q", w, tc.warning)
			}
		})
	}
}

// checkNaive creates (dry run) the case's pod injected as before issue 15 (rules unknown,
// pod-level resources and other choices as they were) and checks the API server's answer.
func (e *env) checkNaive(t *testing.T, c testpods.Case, ns, want string) {
	t.Helper()
	pod := c.Pod.DeepCopy()
	pod.Spec.ShareProcessNamespace = nil // before, it was switched on with a warning
	pod.Spec.Affinity = nil              // before, node affinity to Windows went unnoticed
	cfg := e.cfg
	cfg.PSADefaultLevel = "privileged" // before, the cluster's default was not known
	naive, err := inject.Inject(pod, inject.NamespaceInfo{Name: ns}, parsed(t, cfg))
	if err != nil || naive.Skip != inject.NotSkipped {
		t.Fatalf("naive injection: %v %s", err, naive.Skip)
	}
	np := naive.Pod.DeepCopy()
	np.Namespace, np.Name = ns, "naive"
	np.Spec.Resources = c.Pod.Spec.Resources          // the pod-level resources as submitted
	np.Annotations[inject.AnnotationInject] = "false" // the webhook leaves it as it is
	err = e.c.Create(e.ctx, np, client.DryRunAll)
	switch {
	case want == "" && err != nil:
		t.Errorf("the pod injected without the rules: %v, want admitted", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("the pod injected without the rules: %v, want an error with %q", err, want)
	}
	e.warn.take()
}
