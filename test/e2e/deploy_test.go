//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/internal/testenv"
)

const (
	deployNS     = "procview-system"
	deployName   = "procview-injector" // Deployment, Service, webhook configuration
	deploySecret = "procview-injector-tls"
	deploySel    = "app.kubernetes.io/name=procview-injector"
	// nodeWebhook is the webhook configuration of the injector test/node/webhook.sh runs.
	nodeWebhook = "procview-node-injector"
)

// TestDeploy installs procview as a user does (`kubectl apply -k deploy/`, the images from the
// local import), runs the seeds' web example through it, restarts the injector and deletes its
// certificate Secret, and checks that injection keeps working throughout.
//
// It needs a kube-controller-manager and a kube-scheduler on the node (Deployments, EndpointSlices
// for the webhook Service) and injector pods that reach the API server. If the node's pods cannot
// use the kubernetes Service, PROCVIEW_E2E_APISERVER=host:port makes the test apply deploy/
// through an overlay that only sets KUBERNETES_SERVICE_HOST/PORT. The injector that
// test/node/webhook.sh registered under the same name is set aside and restored afterwards.
// Without a kube-controller-manager leader-election lease the test is skipped unless
// PROCVIEW_E2E_DEPLOY=1.
func TestDeploy(t *testing.T) {
	if _, err := kubectlOut("get", "lease", "-n", "kube-system", "kube-controller-manager"); err != nil && os.Getenv("PROCVIEW_E2E_DEPLOY") != "1" {
		t.Skipf("no kube-controller-manager lease on this node (deploy/ needs Deployments and Service endpoints; PROCVIEW_E2E_DEPLOY=1 runs anyway): %v", err)
	}
	setAsideWebhook(t)
	dir := deployDir(t)
	kubectl(t, "apply", "-k", dir)
	t.Cleanup(func() {
		if t.Failed() {
			logs := kubectlStdin(nil, "logs", "-n", deployNS, "-l", deploySel, "--tail=40", "--prefix")
			t.Logf("injector logs:\n%s%s", logs.stdout, logs.stderr)
		}
		if r := kubectlStdin(nil, "delete", "-k", dir, "--wait=true", "--timeout=120s"); r.err != nil {
			t.Errorf("uninstall: %v", r.err)
		}
	})
	rollout(t, deployNS, deployName)
	bundle := waitCABundle(t, nil)
	secret := getSecret(t)

	t.Run("web example", func(t *testing.T) { runWebExample(t) })

	t.Run("restart keeps certificate and injection", func(t *testing.T) {
		kubectl(t, "rollout", "restart", "deployment/"+deployName, "-n", deployNS)
		rollout(t, deployNS, deployName)
		if s := getSecret(t); !bytes.Equal(s.Data["tls.crt"], secret.Data["tls.crt"]) {
			t.Error("the serving certificate changed across a restart; want it kept in the Secret")
		}
		if got := waitCABundle(t, nil); !bytes.Equal(got, bundle) {
			t.Error("the caBundle changed across a restart")
		}
		checkInjects(t, "after-restart")
	})

	t.Run("deleted secret is recreated", func(t *testing.T) {
		kubectl(t, "delete", "secret", deploySecret, "-n", deployNS)
		s := &corev1.Secret{}
		testenv.Eventually(t, 30*time.Second, 500*time.Millisecond, func() error {
			out, err := kubectlOut("get", "secret", deploySecret, "-n", deployNS, "-o", "json")
			if err != nil {
				return fmt.Errorf("secret %s/%s not recreated: %v", deployNS, deploySecret, err)
			}
			return json.Unmarshal([]byte(out), s)
		})
		if bytes.Equal(s.Data["tls.crt"], secret.Data["tls.crt"]) {
			t.Fatal("recreated secret holds the old certificate")
		}
		got := waitCABundle(t, func(b []byte) bool { return !bytes.Equal(b, bundle) })
		// The new CA is trusted; the old one stays until it expires (replicas reload meanwhile).
		newCA, _, _ := bytes.Cut(s.Data["ca.crt"], []byte("-----END CERTIFICATE-----"))
		if !bytes.Contains(got, newCA) {
			t.Error("the caBundle does not hold the recreated secret's CA")
		}
		checkInjects(t, "after-secret-deleted")
	})
}

// setAsideWebhook removes the webhook configuration test/node/webhook.sh made, so only deploy/'s
// injector injects, and puts it back when the test ends.
func setAsideWebhook(t *testing.T) {
	out, err := kubectlOut("get", "mutatingwebhookconfiguration", nodeWebhook, "-o", "json")
	if err != nil {
		return // none
	}
	var old admissionregistrationv1.MutatingWebhookConfiguration
	if err := json.Unmarshal([]byte(out), &old); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "delete", "mutatingwebhookconfiguration", nodeWebhook)
	t.Cleanup(func() {
		old.ObjectMeta = metav1.ObjectMeta{Name: old.Name, Labels: old.Labels}
		old.APIVersion, old.Kind = "admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"
		kubectlStdin(nil, "delete", "mutatingwebhookconfiguration", nodeWebhook, "--ignore-not-found")
		b, _ := json.Marshal(&old)
		if r := kubectlStdin(b, "create", "-f", "-"); r.err != nil {
			t.Errorf("restore the node's webhook configuration: %v", r.err)
		}
	})
}

// deployDir is the kustomization to apply: deploy/ itself, or an overlay of it that points the
// injector at PROCVIEW_E2E_APISERVER.
func deployDir(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(wd, "..", "..")
	host, port := e2eAPIServer(t)
	if host == "" {
		return filepath.Join(root, "deploy")
	}
	dir := filepath.Join(wd, ".work", "deploy-overlay")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, filepath.Join(root, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf(`resources: [%s]
patches:
- target: {kind: Deployment, name: %s}
  patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: %s}
    spec:
      template:
        spec:
          containers:
          - name: injector
            env:
            - {name: KUBERNETES_SERVICE_HOST, value: %q}
            - {name: KUBERNETES_SERVICE_PORT, value: %q}
`, rel, deployName, deployName, host, port)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// e2eAPIServer is PROCVIEW_E2E_APISERVER split into host and port; "", "" when it is not set.
func e2eAPIServer(t *testing.T) (host, port string) {
	t.Helper()
	api := os.Getenv("PROCVIEW_E2E_APISERVER")
	if api == "" {
		return "", ""
	}
	host, port, ok := strings.Cut(api, ":")
	if !ok {
		t.Fatalf("PROCVIEW_E2E_APISERVER=%q: want host:port", api)
	}
	return host, port
}

func rollout(t *testing.T, ns, name string) {
	t.Helper()
	if r := kubectlStdin(nil, "rollout", "status", "deployment/"+name, "-n", ns, "--timeout=180s"); r.err != nil {
		desc := kubectlStdin(nil, "describe", "pods", "-n", ns)
		t.Fatalf("deployment %s/%s not ready: %v\n%s", ns, name, r.err, desc.stdout)
	}
}

func getSecret(t *testing.T) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	if err := json.Unmarshal([]byte(kubectl(t, "get", "secret", deploySecret, "-n", deployNS, "-o", "json")), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// waitCABundle waits until every webhook of deploy/'s configuration has a caBundle (for which
// ok holds, if given) and returns it.
func waitCABundle(t *testing.T, ok func([]byte) bool) []byte {
	t.Helper()
	var b []byte
	testenv.Eventually(t, 30*time.Second, 500*time.Millisecond, func() error {
		var m admissionregistrationv1.MutatingWebhookConfiguration
		out := kubectl(t, "get", "mutatingwebhookconfiguration", deployName, "-o", "json")
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			return err
		}
		b = nil
		all := len(m.Webhooks) > 0
		for _, w := range m.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 || (b != nil && !bytes.Equal(b, w.ClientConfig.CABundle)) {
				all = false
			}
			b = w.ClientConfig.CABundle
		}
		if all && (ok == nil || ok(b)) {
			return nil
		}
		return fmt.Errorf("caBundle of %s not set (as wanted)", deployName)
	})
	return b
}

// runWebExample creates examples/web.yaml (with the local test image in place of httpd, which
// this node cannot pull) and checks its pod's view: 256 MiB, 1 CPU.
func runWebExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatalf("examples/web.yaml: %v", err)
	}
	c := &d.Spec.Template.Spec.Containers[0]
	c.Image, c.ImagePullPolicy, c.Command = testappImage, corev1.PullIfNotPresent, []string{"sleep", "infinity"}
	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	ns := newNamespace(t, nil)
	create(t, ns, &d)
	rollout(t, ns, d.Name)
	pods := kubectl(t, "get", "pods", "-n", ns, "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
	pod := getPod(t, ns, pods)
	if !injected(pod) {
		t.Fatalf("web pod %s has no %s sidecar: deploy/'s injector did not inject it", pods, sidecarName)
	}
	v := readView(t, ns, pods, c.Name)
	if v.freeMiB != 256 || v.nproc != 1 {
		t.Errorf("web: free -m total %d, CPUs %d; want 256, 1", v.freeMiB, v.nproc)
	}
}

// checkInjects creates an opted-in pod and checks it gets the view.
func checkInjects(t *testing.T, name string) {
	t.Helper()
	ns := newNamespace(t, nil)
	create(t, ns, newPod(name, []corev1.Container{appContainer("app", "128Mi", "")}, optIn))
	p := waitReady(t, ns, name)
	if !injected(p) {
		t.Fatalf("pod %s not injected", name)
	}
	if got := freeTotalMiB(t, ns, name, "app"); got != 128 {
		t.Errorf("free -m total = %d, want 128", got)
	}
}
