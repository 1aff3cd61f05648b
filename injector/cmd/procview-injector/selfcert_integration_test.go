package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/injector/certs"
	"github.com/procview/procview/injector/inject"
	"github.com/procview/procview/injector/internal/kubetest"
	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/internal/testenv"
)

// TestSelfCertAgainstAPIServer runs `serve` in self mode as deploy/ configures it, against a real
// API server with deploy/'s own RBAC, ServiceAccount identity, Service and webhook configuration
// (the API server reaches the injector through an EndpointSlice, verifying the certificate for
// the Service's DNS name against the caBundle the injector set). It then deletes the Secret.
func TestSelfCertAgainstAPIServer(t *testing.T) {
	ip := hostIP(t)
	cp := kubetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	// deploy/ as rendered, but for the Deployment (this test is its pod) and the PDB.
	d := load(t, "deploy")
	if d.s.CertMode != certModeSelf {
		t.Fatalf("deploy/ runs CERT_MODE %q, want self", d.s.CertMode)
	}
	applyRendered(t, ctx, admin, d.r, "Namespace")
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "MutatingWebhookConfiguration"} {
		applyRendered(t, ctx, admin, d.r, kind)
	}

	// The Service's endpoint: this process, on a non-loopback address (EndpointSlices refuse loopback).
	hookPort := kubetest.FreePort(t)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: d.namespace, Name: d.svc.Name + "-test", Labels: map[string]string{discoveryv1.LabelServiceName: d.svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("webhook"), Port: ptr(int32(hookPort)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	if err := admin.Create(ctx, slice); err != nil {
		t.Fatal(err)
	}

	s := d.s
	s.Version = "selfcert"
	healthPort := kubetest.FreePort(t)
	s.ListenAddr = net.JoinHostPort(ip, strconv.Itoa(hookPort))
	s.MetricsAddr = "0"
	s.HealthAddr = "127.0.0.1:" + strconv.Itoa(healthPort)
	s.CertDir = filepath.Join(t.TempDir(), "certs")
	var logBuf syncBuffer
	log := funcr.New(func(p, a string) { logBuf.WriteString(p + " " + a + "\n") }, funcr.Options{})
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cp.InjectorConfig(), s, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not return after its context ended")
		}
		if t.Failed() {
			t.Logf("--- injector log:\n%s", logBuf.String())
		}
	})
	if err := testenv.Poll(60*time.Second, 200*time.Millisecond, func() error {
		select {
		case err := <-served:
			return fmt.Errorf("serve returned: %v", err)
		default:
		}
		return httpGetOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort))
	}); err != nil {
		t.Fatalf("injector not ready: %v", err)
	}

	secretKey := client.ObjectKey{Namespace: d.namespace, Name: s.CertSecret}
	names := certs.DNSNames(s.ServiceName, d.namespace)
	// state returns the Secret's key pair and the caBundle once both are set and consistent.
	state := func() (certs.KeyPair, []byte, error) {
		var sec corev1.Secret
		if err := admin.Get(ctx, secretKey, &sec); err != nil {
			return certs.KeyPair{}, nil, err
		}
		kp := certs.KeyPair{CA: sec.Data[certs.KeyCA], Cert: sec.Data[certs.KeyCert], Key: sec.Data[certs.KeyKey]}
		if _, err := certs.Parse(kp, time.Now(), names); err != nil {
			return kp, nil, err
		}
		var m admissionregistrationv1.MutatingWebhookConfiguration
		if err := admin.Get(ctx, client.ObjectKey{Name: s.WebhookConfig}, &m); err != nil {
			return kp, nil, err
		}
		b := m.Webhooks[0].ClientConfig.CABundle
		if _, err := certs.Parse(certs.KeyPair{CA: b, Cert: kp.Cert, Key: kp.Key}, time.Now(), names); err != nil {
			return kp, b, fmt.Errorf("caBundle does not trust the Secret's certificate: %w", err)
		}
		files, err := os.ReadFile(filepath.Join(s.CertDir, certs.KeyCert))
		if err != nil || !bytes.Equal(files, kp.Cert) {
			return kp, b, fmt.Errorf("cert dir does not hold the Secret's certificate (%v)", err)
		}
		return kp, b, nil
	}
	var first certs.KeyPair
	var firstBundle []byte
	if err := testenv.Poll(10*time.Second, 200*time.Millisecond, func() (err error) {
		first, firstBundle, err = state()
		return err
	}); err != nil {
		t.Fatalf("after start: %v", err)
	}

	apps := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}
	if err := admin.Create(ctx, apps); err != nil {
		t.Fatal(err)
	}
	seq := 0
	injectedPod := func(t *testing.T) {
		t.Helper()
		seq++
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: fmt.Sprintf("p%d", seq), Annotations: map[string]string{"procview.dev/inject": "true"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
		}
		if err := admin.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		if len(pod.Spec.InitContainers) == 0 || pod.Spec.InitContainers[0].Name != "procview" {
			t.Fatalf("pod %s not injected through the Service (failurePolicy Ignore hides why; see the API server log)", pod.Name)
		}
	}
	t.Run("injects through the Service", injectedPod)

	t.Run("namespace label through deploy's selector", func(t *testing.T) {
		c, warn := warningClient(t, cp.Config, scheme)
		for _, tc := range []struct {
			ns, label  string
			annotation map[string]string
			injected   bool
		}{
			{"team", inject.LabelInjectEnabled, nil, true},
			{"team", inject.LabelInjectEnabled, map[string]string{inject.AnnotationInject: "false"}, false},
			// The API server does not even call the webhook here: no warning from the injector.
			{"frozen", inject.LabelInjectDisabled, map[string]string{inject.AnnotationInject: "true"}, false},
		} {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tc.ns, Labels: map[string]string{inject.LabelInject: tc.label}}}
			if err := admin.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			seq++
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: tc.ns, Name: fmt.Sprintf("p%d", seq), Annotations: tc.annotation},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			}
			if err := c.Create(ctx, pod); err != nil {
				t.Fatal(err)
			}
			got := len(pod.Spec.InitContainers) > 0 && pod.Spec.InitContainers[0].Name == podview.SidecarName
			if got != tc.injected {
				t.Errorf("namespace %s=%s, annotations %v: injected %v, want %v", inject.LabelInject, tc.label, tc.annotation, got, tc.injected)
			}
			if w := warn.take(); len(w) > 0 {
				t.Errorf("namespace %s=%s, annotations %v: admission warnings %q", inject.LabelInject, tc.label, tc.annotation, w)
			}
		}
	})

	t.Run("injector pod admitted under Pod Security restricted", func(t *testing.T) {
		c, warn := warningClient(t, cp.Config, scheme)
		pod := &corev1.Pod{ObjectMeta: d.dep.Spec.Template.ObjectMeta, Spec: d.dep.Spec.Template.Spec}
		pod.Namespace, pod.Name = d.namespace, "injector-dry-run"
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Fatalf("the Deployment's pod in %s: %v", d.namespace, err)
		}
		if w := warn.take(); len(w) > 0 {
			t.Errorf("admission warnings: %q", w)
		}
	})

	t.Run("deleted secret is recreated", func(t *testing.T) {
		var sec corev1.Secret
		if err := admin.Get(ctx, secretKey, &sec); err != nil {
			t.Fatal(err)
		}
		if err := admin.Delete(ctx, &sec); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var now certs.KeyPair
		var bundle []byte
		if err := testenv.Poll(10*time.Second, 200*time.Millisecond, func() (err error) {
			now, bundle, err = state()
			if err == nil && bytes.Equal(now.Cert, first.Cert) {
				return fmt.Errorf("same certificate as before")
			}
			return err
		}); err != nil {
			t.Fatalf("secret not recreated with a new certificate and caBundle: %v", err)
		}
		t.Logf("secret recreated, caBundle and files updated in %v", time.Since(start).Round(time.Millisecond))
		// The webhook server reloads the files (controller-runtime's certwatcher).
		if err := testenv.Poll(20*time.Second, 200*time.Millisecond, func() error {
			return servesCert(s.ListenAddr, now.Cert)
		}); err != nil {
			t.Errorf("webhook server does not present the new certificate: %v", err)
		} else {
			t.Logf("webhook server presents the new certificate %v after the deletion", time.Since(start).Round(time.Millisecond))
		}
		if bytes.Equal(bundle, firstBundle) {
			t.Error("caBundle unchanged")
		}
		// The previous certificate stays trusted (until it expires) for replicas not yet reloaded.
		if _, err := certs.Parse(certs.KeyPair{CA: bundle, Cert: first.Cert, Key: first.Key}, time.Now(), names); err != nil {
			t.Errorf("the previous certificate is no longer trusted: %v", err)
		}
		injectedPod(t)
	})

	t.Run("caBundle removed by a re-apply is restored", func(t *testing.T) {
		var m admissionregistrationv1.MutatingWebhookConfiguration
		if err := admin.Get(ctx, client.ObjectKey{Name: s.WebhookConfig}, &m); err != nil {
			t.Fatal(err)
		}
		m.Webhooks[0].ClientConfig.CABundle = nil
		if err := admin.Update(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if err := testenv.Poll(10*time.Second, 200*time.Millisecond, func() error { _, _, err := state(); return err }); err != nil {
			t.Fatal(err)
		}
		injectedPod(t)
	})
}

// servesCert checks that the TLS server at addr presents the certificate certPEM.
func servesCert(addr string, certPEM []byte) error {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // only reads the certificate
	if err != nil {
		return err
	}
	defer conn.Close()
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return fmt.Errorf("no PEM certificate")
	}
	if got := conn.ConnectionState().PeerCertificates; len(got) == 0 || !bytes.Equal(got[0].Raw, blk.Bytes) {
		return fmt.Errorf("server presents another certificate")
	}
	return nil
}

// applyRendered creates every object of kind from a rendering.
func applyRendered(t *testing.T, ctx context.Context, c client.Client, r *rendered, kind string) {
	t.Helper()
	for _, name := range r.names(kind) {
		var obj map[string]any
		if err := yaml.Unmarshal(r.docs[kind][name], &obj); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, &unstructured.Unstructured{Object: obj}); err != nil {
			t.Fatalf("create %s %s: %v", kind, name, err)
		}
	}
}

// hostIP is an IPv4 address of this machine that is not loopback.
func hostIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address: an EndpointSlice cannot point at this process")
	return ""
}

// warningClient is a client whose admission warnings are collected in warn.
func warningClient(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme) (client.Client, *warnings) {
	t.Helper()
	var warn warnings
	rc := rest.CopyConfig(cfg)
	rc.WarningHandlerWithContext = &warn
	c, err := client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, &warn
}
