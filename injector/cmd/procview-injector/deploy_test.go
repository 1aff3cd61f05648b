package main

// The manifests in deploy/, rendered exactly as `kubectl apply -k` renders them (kustomize's
// krusty), checked against the injector they run: settings that the binary accepts, names that
// agree across objects, the webhook registration and least-privilege RBAC.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kelseyhightower/envconfig"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/certs"
	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/webhook"
	"github.com/procview/procview/internal/podview"
)

// rendered is one kustomization's output, by kind and name.
type rendered struct {
	t    *testing.T
	docs map[string]map[string][]byte // kind -> name -> YAML
	ns   map[string]map[string]string // kind -> name -> namespace
}

func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("..", "..", "..", dir))
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	r := &rendered{t: t, docs: map[string]map[string][]byte{}, ns: map[string]map[string]string{}}
	for _, res := range m.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind, name := res.GetKind(), res.GetName()
		if r.docs[kind] == nil {
			r.docs[kind], r.ns[kind] = map[string][]byte{}, map[string]string{}
		}
		if _, dup := r.docs[kind][name]; dup {
			t.Errorf("%s: two %s named %s", dir, kind, name)
		}
		r.docs[kind][name], r.ns[kind][name] = b, res.GetNamespace()
	}
	return r
}

// one decodes the only object of kind into obj and returns its name.
func (r *rendered) one(kind string, obj any) string {
	r.t.Helper()
	if n := len(r.docs[kind]); n != 1 {
		r.t.Fatalf("%d objects of kind %s, want 1", n, kind)
	}
	for name, b := range r.docs[kind] {
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			r.t.Fatalf("%s %s: %v", kind, name, err)
		}
		return name
	}
	return ""
}

func (r *rendered) names(kind string) []string {
	var out []string
	for n := range r.docs[kind] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// deployed is what a rendering says about the injector.
type deployed struct {
	r         *rendered
	namespace string
	dep       appsv1.Deployment
	c         corev1.Container
	env       map[string]string // PROCVIEW_INJECTOR_* as the container sees them
	s         settings          // the binary's settings under that environment
	svc       corev1.Service
	mwc       admissionregistrationv1.MutatingWebhookConfiguration
	cr        rbacv1.ClusterRole
}

// settingNames lists every environment variable the binary reads.
func settingNames() map[string]bool {
	out := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(tp reflect.Type) {
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			if f.Anonymous {
				walk(f.Type)
			} else if key := f.Tag.Get("envconfig"); key != "" {
				out[inject.EnvPrefix+"_"+key] = true
			}
		}
	}
	walk(reflect.TypeOf(settings{}))
	return out
}

func load(t *testing.T, dir string) *deployed {
	d := &deployed{r: render(t, dir)}
	var nsObj corev1.Namespace
	d.namespace = d.r.one("Namespace", &nsObj)
	for kind, m := range d.r.ns {
		for name, ns := range m {
			switch kind {
			case "Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
				"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
				if ns != "" {
					t.Errorf("%s %s: namespace %q on a cluster-scoped object", kind, name, ns)
				}
			default:
				if ns != d.namespace {
					t.Errorf("%s %s: namespace %q, want %q", kind, name, ns, d.namespace)
				}
			}
		}
	}
	d.r.one("Deployment", &d.dep)
	if n := len(d.dep.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	d.c = d.dep.Spec.Template.Spec.Containers[0]

	// The container's environment, through the binary's own parsing and validation.
	known := settingNames()
	d.env = map[string]string{}
	for _, e := range d.c.Env {
		if !known[e.Name] {
			t.Errorf("env %s is not a setting of procview-injector", e.Name)
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			d.env[e.Name] = d.namespace
		case e.ValueFrom != nil:
			t.Errorf("env %s: unexpected valueFrom %+v", e.Name, e.ValueFrom)
		default:
			d.env[e.Name] = e.Value
		}
	}
	for name := range known {
		t.Setenv(name, "") // clear what the test's own environment might hold ...
	}
	for name := range known {
		if v, ok := d.env[name]; ok {
			t.Setenv(name, v)
		} else {
			unsetenv(t, name) // ... so the defaults apply to what the Deployment leaves out
		}
	}
	if err := envconfig.Process(inject.EnvPrefix, &d.s); err != nil {
		t.Fatalf("the Deployment's environment: %v", err)
	}
	if err := d.s.Config.Validate(); err != nil {
		t.Errorf("the Deployment's environment: %v", err)
	}
	if err := d.s.CertSettings.Validate(); err != nil {
		t.Errorf("the Deployment's environment: %v", err)
	}
	if d.s.Namespace != d.namespace {
		t.Errorf("%s_NAMESPACE = %q, want the namespace %q", inject.EnvPrefix, d.s.Namespace, d.namespace)
	}
	d.r.one("Service", &d.svc)
	d.r.one("MutatingWebhookConfiguration", &d.mwc)
	d.r.one("ClusterRole", &d.cr)
	return d
}

func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return int32(n)
}

func (d *deployed) containerPort(t *testing.T, name string) int32 {
	t.Helper()
	for _, p := range d.c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container has no port named %q", name)
	return 0
}

func (d *deployed) checkCommon(t *testing.T) {
	spec := d.dep.Spec.Template.Spec
	podLabels := labels.Set(d.dep.Spec.Template.Labels)

	t.Run("deployment", func(t *testing.T) {
		if r := d.dep.Spec.Replicas; r == nil || *r != 2 {
			t.Errorf("replicas %v, want 2", r)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.dep.Spec.Selector)
		if err != nil || !sel.Matches(podLabels) {
			t.Errorf("selector %v does not match the pod labels %v (%v)", d.dep.Spec.Selector, podLabels, err)
		}
		own, err := labels.Parse(d.s.OwnPodSelector)
		if err != nil || !own.Matches(podLabels) {
			t.Errorf("%s_OWN_POD_SELECTOR %q does not match the injector's pods %v", inject.EnvPrefix, d.s.OwnPodSelector, podLabels)
		}
		aa := spec.Affinity
		if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Error("no preferred pod anti-affinity")
		} else {
			term := aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
			ls, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
			if term.TopologyKey != corev1.LabelHostname || err != nil || !ls.Matches(podLabels) {
				t.Errorf("anti-affinity term %+v: want the injector's pods per %s", term, corev1.LabelHostname)
			}
		}
		if a := spec.AutomountServiceAccountToken; a == nil || !*a {
			t.Error("automountServiceAccountToken must be true (the injector calls the API server)")
		}
		var sa corev1.ServiceAccount
		if name := d.r.one("ServiceAccount", &sa); spec.ServiceAccountName != name {
			t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, name)
		}
		if d.c.Image != "localhost/procview-injector:dev" {
			t.Errorf("image %q, want localhost/procview-injector:dev (test/node/images.sh)", d.c.Image)
		}
		if d.s.SidecarImage != "localhost/procview-sidecar:dev" {
			t.Errorf("sidecar image %q, want localhost/procview-sidecar:dev (test/node/images.sh)", d.s.SidecarImage)
		}
		if diff := cmp.Diff([]string{"serve"}, d.c.Args); diff != "" {
			t.Errorf("args (-want +got):\n%s", diff)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := d.c.Resources.Requests[res]; !ok {
				t.Errorf("no %s request", res)
			}
			if _, ok := d.c.Resources.Limits[res]; !ok {
				t.Errorf("no %s limit", res)
			}
		}
	})

	t.Run("security", func(t *testing.T) {
		psc, sc := spec.SecurityContext, d.c.SecurityContext
		if psc == nil || sc == nil {
			t.Fatal("no securityContext")
		}
		if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Error("pod must run as a non-root uid")
		}
		if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("seccomp profile must be RuntimeDefault")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("root filesystem must be read-only")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation must be false")
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("capabilities %+v, want drop ALL and nothing added", sc.Capabilities)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Error("privileged")
		}
		var ns corev1.Namespace
		d.r.one("Namespace", &ns)
		if lvl := ns.Labels["pod-security.kubernetes.io/enforce"]; lvl != "restricted" {
			t.Errorf("namespace enforces Pod Security %q, want restricted", lvl)
		}
	})

	t.Run("ports and probes", func(t *testing.T) {
		if got, want := d.containerPort(t, "webhook"), port(t, d.s.ListenAddr); got != want {
			t.Errorf("webhook containerPort %d, LISTEN_ADDR port %d", got, want)
		}
		if got, want := d.containerPort(t, "metrics"), port(t, d.s.MetricsAddr); got != want {
			t.Errorf("metrics containerPort %d, METRICS_ADDR port %d", got, want)
		}
		health := d.containerPort(t, "health")
		if want := port(t, d.s.HealthAddr); health != want {
			t.Errorf("health containerPort %d, HEALTH_ADDR port %d", health, want)
		}
		for what, pr := range map[string]*corev1.Probe{"/readyz": d.c.ReadinessProbe, "/healthz": d.c.LivenessProbe} {
			if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != what || pr.HTTPGet.Port != intstr.FromString("health") {
				t.Errorf("probe %s: %+v, want an HTTP GET on the health port", what, pr)
			}
		}
		sel := labels.SelectorFromSet(d.svc.Spec.Selector)
		if len(d.svc.Spec.Selector) == 0 || !sel.Matches(podLabels) {
			t.Errorf("Service selector %v does not select the injector's pods", d.svc.Spec.Selector)
		}
		var found bool
		for _, p := range d.svc.Spec.Ports {
			if p.Port == 443 {
				found = true
				if p.TargetPort != intstr.FromString("webhook") {
					t.Errorf("Service port 443 targets %v, want the webhook port", p.TargetPort)
				}
			}
		}
		if !found {
			t.Error("Service has no port 443")
		}
	})

	t.Run("pdb", func(t *testing.T) {
		var pdb policyv1.PodDisruptionBudget
		d.r.one("PodDisruptionBudget", &pdb)
		if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) {
			t.Errorf("minAvailable %v, want 1", pdb.Spec.MinAvailable)
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(podLabels) {
			t.Errorf("PDB selector %v does not select the injector's pods", pdb.Spec.Selector)
		}
	})

	t.Run("cert dir", func(t *testing.T) {
		var vol string
		for _, m := range d.c.VolumeMounts {
			if m.MountPath == d.s.CertDir {
				vol = m.Name
			}
		}
		if vol == "" {
			t.Fatalf("nothing mounted at CERT_DIR %s (the root filesystem is read-only)", d.s.CertDir)
		}
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vol })
		if i < 0 {
			t.Fatalf("no volume %s", vol)
		}
		v := spec.Volumes[i]
		switch d.s.CertMode {
		case certModeSelf:
			if v.EmptyDir == nil {
				t.Errorf("self mode: cert dir volume %+v, want an emptyDir", v.VolumeSource)
			}
		case certModeExternal:
			if v.Secret == nil || v.Secret.SecretName != d.s.CertSecret {
				t.Errorf("external mode: cert dir volume %+v, want the Secret %s", v.VolumeSource, d.s.CertSecret)
			}
		}
	})

	t.Run("webhook", func(t *testing.T) {
		if d.mwc.Name != d.s.WebhookConfig {
			t.Errorf("MutatingWebhookConfiguration %q, %s_WEBHOOK_CONFIG %q", d.mwc.Name, inject.EnvPrefix, d.s.WebhookConfig)
		}
		// Two entries (annotated pods; unannotated pods in namespaces labelled enabled), each
		// called only for its candidates: TestOutageAgainstAPIServer runs them in a real API server.
		var names []string
		for _, w := range d.mwc.Webhooks {
			names = append(names, w.Name)
		}
		if diff := cmp.Diff([]string{"annotated.inject.procview.dev", "namespace.inject.procview.dev"}, names); diff != "" {
			t.Fatalf("webhooks (-want +got):\n%s", diff)
		}
		for _, w := range d.mwc.Webhooks {
			byLabel := strings.HasPrefix(w.Name, "namespace.")
			if len(w.MatchConditions) != 1 || !strings.Contains(w.MatchConditions[0].Expression, "'procview.dev/inject'") {
				t.Errorf("%s: matchConditions %+v, want one on the procview.dev/inject annotation", w.Name, w.MatchConditions)
			}
			if w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone {
				t.Errorf("sideEffects %v, want None", str(w.SideEffects))
			}
			if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
				t.Errorf("failurePolicy %v, want Fail (README.md explains why)", str(w.FailurePolicy))
			}
			if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
				t.Errorf("reinvocationPolicy %v, want IfNeeded", str(w.ReinvocationPolicy))
			}
			if w.MatchPolicy == nil || *w.MatchPolicy != admissionregistrationv1.Equivalent {
				t.Errorf("matchPolicy %v, want Equivalent", str(w.MatchPolicy))
			}
			if w.TimeoutSeconds == nil || *w.TimeoutSeconds < 1 || *w.TimeoutSeconds > 10 {
				t.Errorf("timeoutSeconds %v, want 1..10", str(w.TimeoutSeconds))
			}
			if diff := cmp.Diff([]string{"v1"}, w.AdmissionReviewVersions); diff != "" {
				t.Errorf("admissionReviewVersions (-want +got):\n%s", diff)
			}
			wantRules := []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
					Resources: []string{"pods"}, Scope: ptrTo(admissionregistrationv1.NamespacedScope)},
			}}
			if diff := cmp.Diff(wantRules, w.Rules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			s := w.ClientConfig.Service
			if s == nil || s.Namespace != d.namespace || s.Name != d.svc.Name || s.Path == nil || *s.Path != webhook.Path ||
				s.Port == nil || *s.Port != 443 || w.ClientConfig.URL != nil {
				t.Errorf("clientConfig %+v, want service %s/%s port 443 path %s", w.ClientConfig, d.namespace, d.svc.Name, webhook.Path)
			}
			if d.s.ServiceName != d.svc.Name {
				t.Errorf("%s_SERVICE_NAME %q, Service %q", inject.EnvPrefix, d.s.ServiceName, d.svc.Name)
			}
			if len(w.ClientConfig.CABundle) != 0 {
				t.Error("caBundle set in the manifest; it is filled in at run time")
			}
			// The API server does not call the webhook where the injector would skip anyway.
			nsSel, err := metav1.LabelSelectorAsSelector(w.NamespaceSelector)
			if err != nil {
				t.Fatal(err)
			}
			excluded := append(slices.Clone(d.s.ExcludedNamespaces), d.namespace)
			for _, ns := range excluded {
				if nsSel.Matches(labels.Set{corev1.LabelMetadataName: ns}) {
					t.Errorf("namespaceSelector matches %s, which the injector excludes", ns)
				}
			}
			for _, ns := range []string{"default", "apps"} {
				if nsSel.Matches(labels.Set{corev1.LabelMetadataName: ns}) == byLabel {
					t.Errorf("%s: namespaceSelector matches the unlabelled namespace %s: %v", w.Name, ns, !byLabel)
				}
			}
			// The namespace label: the API server skips namespaces labelled disabled, but must call the
			// webhook for unlabelled ones (annotated pods), enabled ones, and ones with another value
			// (the injector warns about it). An excluded namespace stays excluded when labelled enabled.
			for _, tc := range []struct {
				ns, value string
				match     bool
			}{
				{"apps", inject.LabelInjectDisabled, false},
				{"apps", inject.LabelInjectEnabled, true},
				{"apps", "on", !byLabel},
				{excluded[0], inject.LabelInjectEnabled, false},
			} {
				set := labels.Set{corev1.LabelMetadataName: tc.ns, inject.LabelInject: tc.value}
				if got := nsSel.Matches(set); got != tc.match {
					t.Errorf("namespaceSelector matches %v: %v, want %v", set, got, tc.match)
				}
			}
			if !slices.Contains(d.s.ExcludedNamespaces, d.namespace) {
				t.Errorf("%s_EXCLUDED_NAMESPACES %v lacks the injector's own namespace %s", inject.EnvPrefix, d.s.ExcludedNamespaces, d.namespace)
			}
			// Names in the selector that the injector does not exclude would silently not be injected.
			for _, req := range w.NamespaceSelector.MatchExpressions {
				for _, v := range req.Values {
					if req.Key == corev1.LabelMetadataName && !slices.Contains(d.s.ExcludedNamespaces, v) {
						t.Errorf("namespaceSelector excludes %s, %s_EXCLUDED_NAMESPACES does not", v, inject.EnvPrefix)
					}
				}
				if req.Key != corev1.LabelMetadataName && req.Key != inject.LabelInject {
					t.Errorf("namespaceSelector requires label %s, which the injector does not read", req.Key)
				}
			}
			objSel, err := metav1.LabelSelectorAsSelector(w.ObjectSelector)
			if err != nil {
				t.Fatal(err)
			}
			if objSel.Matches(podLabels) {
				t.Error("objectSelector matches the injector's own pods")
			}
			if !objSel.Matches(labels.Set{"app": "web"}) || !objSel.Matches(labels.Set{}) {
				t.Error("objectSelector does not match ordinary pods")
			}
		}
	})

	t.Run("rbac has no wildcards and binds the service account", func(t *testing.T) {
		for _, kind := range []string{"ClusterRole", "Role"} {
			for _, name := range d.r.names(kind) {
				var role rbacv1.ClusterRole // same rules field
				if err := yaml.Unmarshal(d.r.docs[kind][name], &role); err != nil {
					t.Fatal(err)
				}
				for _, rule := range role.Rules {
					for _, v := range slices.Concat(rule.Verbs, rule.Resources, rule.APIGroups, rule.ResourceNames) {
						if strings.Contains(v, "*") {
							t.Errorf("%s %s: wildcard %q in %+v", kind, name, v, rule)
						}
					}
					for _, v := range rule.Verbs {
						if v == "delete" || v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate" {
							t.Errorf("%s %s: verb %s is not needed", kind, name, v)
						}
					}
				}
			}
		}
		for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
			for _, name := range d.r.names(kind) {
				var b rbacv1.RoleBinding
				if err := yaml.Unmarshal(d.r.docs[kind][name], &b); err != nil {
					t.Fatal(err)
				}
				want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: d.dep.Spec.Template.Spec.ServiceAccountName, Namespace: d.namespace}}
				if diff := cmp.Diff(want, b.Subjects); diff != "" {
					t.Errorf("%s %s subjects (-want +got):\n%s", kind, name, diff)
				}
				if _, ok := d.r.docs[b.RoleRef.Kind][b.RoleRef.Name]; !ok {
					t.Errorf("%s %s refers to %s %s, which is not deployed", kind, name, b.RoleRef.Kind, b.RoleRef.Name)
				}
			}
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

// str prints what a pointer points to, or nil.
func str[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func rule(groups, resources, names []string, verbs ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, ResourceNames: names, Verbs: verbs}
}

func TestDeployBase(t *testing.T) {
	d := load(t, "deploy")
	if d.namespace != "procview-system" {
		t.Errorf("namespace %q, want procview-system", d.namespace)
	}
	if d.s.CertMode != certModeSelf {
		t.Errorf("%s_CERT_MODE %q, want %s", inject.EnvPrefix, d.s.CertMode, certModeSelf)
	}
	d.checkCommon(t)

	// Exactly what the injector uses: namespaces get/list/watch (the webhook's cache), the one webhook configuration
	// (certs reconciler: cached get/list/watch by name, patch of caBundle), the one Secret.
	wantCR := []rbacv1.PolicyRule{
		rule([]string{""}, []string{"namespaces"}, nil, "get", "list", "watch"),
		rule([]string{""}, []string{"resourcequotas", "limitranges"}, nil, "list", "watch"),
		rule([]string{"admissionregistration.k8s.io"}, []string{"mutatingwebhookconfigurations"}, []string{d.s.WebhookConfig}, "get", "list", "watch", "patch"),
	}
	if diff := cmp.Diff(wantCR, d.cr.Rules); diff != "" {
		t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
	}
	var role rbacv1.Role
	d.r.one("Role", &role)
	wantRole := []rbacv1.PolicyRule{
		rule([]string{""}, []string{"secrets"}, nil, "create"),
		rule([]string{""}, []string{"secrets"}, []string{d.s.CertSecret}, "get", "list", "watch", "update"),
	}
	if diff := cmp.Diff(wantRole, role.Rules); diff != "" {
		t.Errorf("Role rules (-want +got):\n%s", diff)
	}
	if got := d.r.names("RoleBinding"); len(got) != 1 {
		t.Errorf("RoleBindings %v, want 1", got)
	}
}

func TestDeployCertManagerOverlay(t *testing.T) {
	d := load(t, filepath.Join("deploy", "overlays", "cert-manager"))
	if d.s.CertMode != certModeExternal {
		t.Errorf("%s_CERT_MODE %q, want %s", inject.EnvPrefix, d.s.CertMode, certModeExternal)
	}
	d.checkCommon(t)
	if diff := cmp.Diff([]rbacv1.PolicyRule{rule([]string{""}, []string{"namespaces"}, nil, "get", "list", "watch"),
		rule([]string{""}, []string{"resourcequotas", "limitranges"}, nil, "list", "watch")}, d.cr.Rules); diff != "" {
		t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
	}
	for _, kind := range []string{"Role", "RoleBinding", "Secret"} {
		if got := d.r.names(kind); len(got) != 0 {
			t.Errorf("%s %v: not needed with cert-manager", kind, got)
		}
	}
	// The serving Certificate: its Secret is the mounted one, its names the Service's, and the
	// CA injector reads it for the caBundle.
	var cert struct {
		Spec struct {
			SecretName string   `json:"secretName"`
			DNSNames   []string `json:"dnsNames"`
			IssuerRef  struct{ Kind, Name string }
		}
	}
	var certName string
	for name, b := range d.r.docs["Certificate"] {
		var c struct {
			Spec struct {
				SecretName string `json:"secretName"`
			}
		}
		if err := yaml.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if c.Spec.SecretName == d.s.CertSecret {
			certName = name
			if err := yaml.Unmarshal(b, &cert); err != nil {
				t.Fatal(err)
			}
		}
	}
	if certName == "" {
		t.Fatalf("no Certificate for the Secret %s (certificates: %v)", d.s.CertSecret, d.r.names("Certificate"))
	}
	if diff := cmp.Diff(certs.DNSNames(d.svc.Name, d.namespace), cert.Spec.DNSNames); diff != "" {
		t.Errorf("Certificate dnsNames (-want +got):\n%s", diff)
	}
	if _, ok := d.r.docs[cert.Spec.IssuerRef.Kind][cert.Spec.IssuerRef.Name]; !ok {
		t.Errorf("Certificate's issuer %s %s is not deployed", cert.Spec.IssuerRef.Kind, cert.Spec.IssuerRef.Name)
	}
	if got, want := d.mwc.Annotations["cert-manager.io/inject-ca-from"], fmt.Sprintf("%s/%s", d.namespace, certName); got != want {
		t.Errorf("cert-manager.io/inject-ca-from %q, want %q", got, want)
	}
}

// unsetenv removes an environment variable for the rest of the test.
func unsetenv(t *testing.T, name string) {
	t.Setenv(name, "") // registers the restore
	os.Unsetenv(name)
}

// policyObjects decodes the policy overlay's ValidatingAdmissionPolicy and its binding.
func policyObjects(t *testing.T, r *rendered) (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	var vap admissionregistrationv1.ValidatingAdmissionPolicy
	var vapb admissionregistrationv1.ValidatingAdmissionPolicyBinding
	r.one("ValidatingAdmissionPolicy", &vap)
	r.one("ValidatingAdmissionPolicyBinding", &vapb)
	return &vap, &vapb
}

// TestDeployPolicyOverlay renders deploy/overlays/policy: the injector as deploy/ installs it,
// plus the baseline policy, whose exemption names the sidecar exactly as the injector writes it.
// TestBaselinePolicyAgainstAPIServer runs the policy in a real API server.
func TestDeployPolicyOverlay(t *testing.T) {
	d := load(t, filepath.Join("deploy", "overlays", "policy"))
	d.checkCommon(t)
	base := render(t, "deploy")
	for kind, names := range base.docs {
		for name, b := range names {
			if diff := cmp.Diff(string(b), string(d.r.docs[kind][name])); diff != "" {
				t.Errorf("%s %s differs from deploy/'s (-base +overlay):\n%s", kind, name, diff)
			}
		}
	}
	vap, vapb := policyObjects(t, d.r)
	if vapb.Spec.PolicyName != vap.Name {
		t.Errorf("binding %s names policy %q, want %q", vapb.Name, vapb.Spec.PolicyName, vap.Name)
	}
	if diff := cmp.Diff([]admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}, vapb.Spec.ValidationActions); diff != "" {
		t.Errorf("validationActions (-want +got):\n%s", diff)
	}
	if fp := vap.Spec.FailurePolicy; fp == nil || *fp != admissionregistrationv1.Fail {
		t.Errorf("failurePolicy %v, want Fail", str(fp))
	}
	vars := map[string]string{}
	for _, v := range vap.Spec.Variables {
		vars[v.Name] = v.Expression
	}
	// deploy/README.md's patch for another sidecar image replaces /spec/variables/0/expression.
	if len(vap.Spec.Variables) == 0 || vap.Spec.Variables[0].Name != "sidecarImage" {
		t.Errorf("the first variable is not sidecarImage (deploy/README.md patches it by index)")
	}
	// kustomization.yaml copies the injector's setting into the CEL string literal.
	if got, want := vars["sidecarImage"], "'"+d.s.SidecarImage+"'"; got != want {
		t.Errorf("variable sidecarImage = %s, want %s (the Deployment's %s_SIDECAR_IMAGE)", got, want, inject.EnvPrefix)
	}
	for _, want := range []string{"'" + inject.AnnotationStatus + "'"} {
		if !strings.Contains(vars["injected"], want) {
			t.Errorf("variable injected = %s, lacks %s", vars["injected"], want)
		}
	}
	if want := "c.name == '" + podview.SidecarName + "'"; !strings.Contains(vars["containers"], want) {
		t.Errorf("variable containers = %s, lacks %s", vars["containers"], want)
	}
}
