package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/kubetest"
	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
)

// TestBaselinePolicyAgainstAPIServer applies deploy/overlays/policy's ValidatingAdmissionPolicy
// and binding to a real kube-apiserver and creates pods in a namespace labelled
// pod-security.kubernetes.io/enforce=privileged and procview.dev/pod-security=baseline: a pod
// injected by the injector's own mutation (with the overlay's Deployment settings) is admitted
// with its privileged sidecar; every baseline violation in any other container is refused with
// a message naming the policy; a privileged container that only looks like the sidecar (its name
// without the status annotation, or another image) is refused too.
func TestBaselinePolicyAgainstAPIServer(t *testing.T) {
	d := load(t, filepath.Join("deploy", "overlays", "policy"))
	vap, vapb := policyObjects(t, d.r)
	cfg := d.s.Config
	cfg.Version = "policy-test"

	cp := kubetest.Start(t)
	c := cp.Client(t, nil)
	ctx := t.Context()
	const (
		nsPolicy   = "team"         // privileged for Pod Security, baseline by the policy
		nsOther    = "other"        // privileged, no policy: the binding does not select it
		nsBaseline = "psa-baseline" // Pod Security baseline alone: no sidecar possible
		policyName = "procview-baseline"
	)
	for name, labels := range map[string]map[string]string{
		nsPolicy:   {"pod-security.kubernetes.io/enforce": "privileged", "procview.dev/pod-security": "baseline"},
		nsOther:    {"pod-security.kubernetes.io/enforce": "privileged"},
		nsBaseline: {"pod-security.kubernetes.io/enforce": "baseline"},
	} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
			t.Fatalf("create namespace %s: %v", name, err)
		}
	}
	if vap.Name != policyName {
		t.Fatalf("policy %q, want %q", vap.Name, policyName)
	}
	if err := c.Create(ctx, vap); err != nil {
		t.Fatalf("create the overlay's ValidatingAdmissionPolicy: %v", err)
	}
	if err := c.Create(ctx, vapb); err != nil {
		t.Fatalf("create the overlay's ValidatingAdmissionPolicyBinding: %v", err)
	}

	app := func(name string, mutate func(p *corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{inject.AnnotationInject: "true"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "httpd:2.4"}}},
		}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	injected := func(p *corev1.Pod) *corev1.Pod {
		t.Helper()
		res, err := inject.Inject(p, inject.NamespaceInfo{Name: nsPolicy,
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}, parsed(t, cfg))
		if err != nil || res.Skip != inject.NotSkipped {
			t.Fatalf("inject %s: %v, skipped %q", p.Name, err, res.Skip)
		}
		sc := res.Pod.Spec.InitContainers[0]
		if sc.Name != podview.SidecarName || sc.SecurityContext == nil || sc.SecurityContext.Privileged == nil || !*sc.SecurityContext.Privileged {
			t.Fatalf("inject %s: first init container %s is not the privileged sidecar", p.Name, sc.Name)
		}
		return res.Pod
	}
	privileged := func(c *corev1.Container) {
		c.SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
	}

	// The API server compiles a new policy asynchronously: wait until it refuses a known-bad pod.
	probe := 0
	err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		probe++
		p := app(fmt.Sprintf("probe-%d", probe), func(p *corev1.Pod) { privileged(&p.Spec.Containers[0]) })
		p.Namespace = nsPolicy
		err := c.Create(ctx, p, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), policyName) {
			return fmt.Errorf("a privileged pod: %v, want refused by %s", err, policyName)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the policy never took effect: %v", err)
	}

	policyDenied := "ValidatingAdmissionPolicy '" + policyName + "' with binding '" + vapb.Name + "' denied request"
	for _, tc := range []struct {
		name string
		ns   string
		pod  *corev1.Pod
		want []string // substrings of the refusal; none: admitted
	}{
		{name: "injected pod admitted", ns: nsPolicy, pod: injected(app("injected", nil))},
		{name: "injected pod with baseline extras admitted", ns: nsPolicy, pod: injected(app("injected-ok", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
				Capabilities:   &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE", "CHOWN"}},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				SELinuxOptions: &corev1.SELinuxOptions{Type: "container_t"},
			}
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "1"}}}
		}))},
		{name: "plain pod without annotations admitted", ns: nsPolicy, pod: app("plain", func(p *corev1.Pod) { p.Annotations = nil })},
		{name: "privileged app container refused", ns: nsPolicy,
			pod:  app("priv-app", func(p *corev1.Pod) { privileged(&p.Spec.Containers[0]) }),
			want: []string{policyDenied, "privileged containers are forbidden", "app"}},
		{name: "privileged app container beside the sidecar refused", ns: nsPolicy,
			pod: func() *corev1.Pod {
				p := injected(app("priv-beside", nil))
				privileged(&p.Spec.Containers[0])
				return p
			}(),
			want: []string{policyDenied, "privileged containers are forbidden (Pod Security baseline): app"}},
		{name: "own container named procview without the status annotation refused", ns: nsPolicy,
			pod: func() *corev1.Pod {
				p := injected(app("fake-name", nil))
				delete(p.Annotations, inject.AnnotationStatus)
				return p
			}(),
			want: []string{policyDenied, "privileged containers are forbidden (Pod Security baseline): procview"}},
		{name: "container named procview with another image refused", ns: nsPolicy,
			pod: func() *corev1.Pod {
				p := injected(app("fake-image", nil))
				p.Spec.InitContainers[0].Image = "busybox:1.36"
				return p
			}(),
			want: []string{policyDenied, "privileged containers are forbidden (Pod Security baseline): procview"}},
		{name: "app container named procview with the sidecar image and the annotation refused", ns: nsPolicy,
			pod: app("fake-app", func(p *corev1.Pod) {
				p.Annotations[inject.AnnotationStatus] = "{}"
				p.Spec.Containers[0] = corev1.Container{Name: podview.SidecarName, Image: cfg.SidecarImage}
				privileged(&p.Spec.Containers[0])
			}),
			want: []string{policyDenied, "privileged containers are forbidden (Pod Security baseline): procview"}},
		{name: "hostIPC refused", ns: nsPolicy,
			pod:  injected(app("host-ipc", func(p *corev1.Pod) { p.Spec.HostIPC = true })),
			want: []string{policyDenied, "hostNetwork, hostPID and hostIPC are forbidden"}},
		{name: "hostNetwork refused", ns: nsPolicy,
			pod:  injected(app("host-net", func(p *corev1.Pod) { p.Spec.HostNetwork = true })),
			want: []string{policyDenied, "hostNetwork, hostPID and hostIPC are forbidden"}},
		{name: "capability beyond baseline refused", ns: nsPolicy,
			pod: injected(app("cap", func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
					Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"CHOWN", "SYS_ADMIN"}}}
			})),
			want: []string{policyDenied, "capabilities beyond the baseline set are forbidden: app"}},
		{name: "hostPath volume refused", ns: nsPolicy,
			pod: injected(app("hostpath", func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
			})),
			want: []string{policyDenied, "hostPath volumes are forbidden (Pod Security baseline): root"}},
		{name: "hostPort refused", ns: nsPolicy,
			pod: injected(app("hostport", func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
			})),
			want: []string{policyDenied, "hostPort is forbidden (Pod Security baseline): app"}},
		// Unmasked needs hostUsers: false, which the injector leaves alone.
		{name: "init container procMount Unmasked refused", ns: nsPolicy,
			pod: app("procmount", func(p *corev1.Pod) {
				p.Spec.HostUsers = ptr(false)
				p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox:1.36",
					SecurityContext: &corev1.SecurityContext{ProcMount: ptr(corev1.UnmaskedProcMount)}}}
			}),
			want: []string{policyDenied, "procMount other than Default is forbidden (Pod Security baseline): setup"}},
		// hostProcess needs hostNetwork, which the injector leaves alone.
		{name: "Windows hostProcess refused", ns: nsPolicy,
			pod: app("host-process", func(p *corev1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.SecurityContext = &corev1.PodSecurityContext{WindowsOptions: &corev1.WindowsSecurityContextOptions{HostProcess: ptr(true)}}
			}),
			want: []string{policyDenied, "windowsOptions.hostProcess is forbidden (Pod Security baseline): pod"}},
		{name: "seccomp Unconfined refused", ns: nsPolicy,
			pod: injected(app("seccomp", func(p *corev1.Pod) {
				p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
			})),
			want: []string{policyDenied, "seccompProfile Unconfined is forbidden (Pod Security baseline): pod"}},
		{name: "AppArmor Unconfined refused", ns: nsPolicy,
			pod: injected(app("apparmor", func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}}
			})),
			want: []string{policyDenied, "AppArmor Unconfined is forbidden (Pod Security baseline): app"}},
		{name: "SELinux type spc_t refused", ns: nsPolicy,
			pod: injected(app("selinux", func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SELinuxOptions: &corev1.SELinuxOptions{Type: "spc_t"}}
			})),
			want: []string{policyDenied, "seLinuxOptions user, role or a type outside the baseline set are forbidden: app"}},
		{name: "pod SELinux user refused", ns: nsPolicy,
			pod: injected(app("selinux-pod", func(p *corev1.Pod) {
				p.Spec.SecurityContext = &corev1.PodSecurityContext{SELinuxOptions: &corev1.SELinuxOptions{User: "system_u"}}
			})),
			want: []string{policyDenied, "seLinuxOptions user, role or a type outside the baseline set are forbidden: pod"}},
		{name: "AppArmor unconfined annotation refused", ns: nsPolicy,
			pod: injected(app("apparmor-annotation", func(p *corev1.Pod) {
				p.Annotations["container.apparmor.security.beta.kubernetes.io/app"] = "unconfined"
			})),
			// The API server copies the annotation into the container's appArmorProfile.
			want: []string{policyDenied, "AppArmor Unconfined is forbidden (Pod Security baseline): app, container.apparmor.security.beta.kubernetes.io/app"}},
		{name: "unsafe sysctl refused", ns: nsPolicy,
			pod: injected(app("sysctl", func(p *corev1.Pod) {
				p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "65536"}}}
			})),
			want: []string{policyDenied, "sysctls outside the baseline set are forbidden: kernel.msgmax"}},
		{name: "probe host refused", ns: nsPolicy,
			pod: injected(app("probe-host", func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Host: "169.254.169.254", Path: "/", Port: intstr.FromInt32(80)}}}
			})),
			want: []string{policyDenied, "probe and lifecycle hosts are forbidden (Pod Security baseline): app"}},
		// The binding selects only namespaces that opted in.
		{name: "privileged pod in a namespace without the label admitted", ns: nsOther,
			pod: app("priv-other", func(p *corev1.Pod) { privileged(&p.Spec.Containers[0]) })},
		// Why the policy exists: Pod Security baseline alone refuses the sidecar.
		{name: "injected pod refused by Pod Security baseline alone", ns: nsBaseline,
			pod:  injected(app("psa", nil)),
			want: []string{`violates PodSecurity "baseline:latest"`, `privileged (container "procview"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pod.DeepCopy()
			p.Namespace = tc.ns
			err := c.Create(ctx, p)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				var got corev1.Pod
				if err := c.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
					t.Fatalf("get the admitted pod: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("admitted, want refused with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q lacks %q", err, w)
				}
			}
		})
	}

	// kubectl debug: an ephemeral container added to an admitted injected pod is checked too.
	t.Run("privileged ephemeral container refused", func(t *testing.T) {
		p := injected(app("debugged", nil))
		p.Namespace = nsPolicy
		if err := c.Create(ctx, p); err != nil {
			t.Fatalf("create: %v", err)
		}
		for _, tc := range []struct {
			name string
			priv bool
			want string
		}{
			{"debug", false, ""},
			{"debug-priv", true, "privileged containers are forbidden (Pod Security baseline): debug-priv"},
		} {
			ec := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: tc.name, Image: "busybox:1.36"}}
			if tc.priv {
				ec.SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
			}
			var cur corev1.Pod
			if err := c.Get(ctx, client.ObjectKeyFromObject(p), &cur); err != nil {
				t.Fatal(err)
			}
			cur.Spec.EphemeralContainers = append(cur.Spec.EphemeralContainers, ec)
			err := c.SubResource("ephemeralcontainers").Update(ctx, &cur)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("ephemeral container %s: %v, want admitted", tc.name, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), policyName)):
				t.Errorf("ephemeral container %s: %v, want refused by %s with %q", tc.name, err, policyName, tc.want)
			}
		}
	})
}
