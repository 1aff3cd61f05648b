//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/postrenderer"
	release "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"

	"github.com/procview/procview/internal/testenv"
	"github.com/procview/procview/internal/yamlstream"
)

const (
	releaseName = "procview"
	chartPath   = "../../deploy/helm/procview"
	// The images test/node/images.sh imports: version N of the upgrade.
	sidecarRepo, injectorRepo, nodeTag = "localhost/procview-sidecar", "localhost/procview-injector", "dev"
)

// TestUpgrade installs the injector with the Helm chart (Helm's Go library, as `helm install`
// does), creates a pod, upgrades the release to a second build with another version and image
// tag (PROCVIEW_E2E_NEXT_VERSION: test/e2e.sh builds and imports it with `make images`), creates
// another pod, and checks: both pods see their limits; the first pod's sidecar is untouched
// (same container, no restart, old image); the status annotations record the two versions;
// deploy/README.md's query for pods on an old sidecar lists exactly the first pod; the
// uninstall leaves nothing of the release and the pods keep their views.
func TestUpgrade(t *testing.T) {
	oldVersion := binaryVersion(t)
	newVersion := os.Getenv("PROCVIEW_E2E_NEXT_VERSION")
	if newVersion == "" || newVersion == oldVersion {
		t.Fatalf("PROCVIEW_E2E_NEXT_VERSION=%q: want the version of a second image build other than %q (test/e2e.sh sets it)", newVersion, oldVersion)
	}
	oldSidecar, newSidecar := sidecarRepo+":"+nodeTag, sidecarRepo+":"+newVersion

	setAsideWebhook(t)
	h := newHelm(t)
	// TestDeploy's namespace of the same name may still be going away.
	kubectl(t, "wait", "--for=delete", "namespace/"+deployNS, "--timeout=120s")
	kubectl(t, "create", "namespace", deployNS)
	kubectl(t, "label", "namespace", deployNS, "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted")
	uninstalled := false
	t.Cleanup(func() {
		if t.Failed() {
			logs := kubectlStdin(nil, "logs", "-n", deployNS, "-l", deploySel, "--tail=40", "--prefix")
			t.Logf("injector logs:\n%s%s", logs.stdout, logs.stderr)
		}
		if !uninstalled {
			if err := h.uninstall(); err != nil {
				t.Errorf("helm uninstall: %v", err)
			}
			kubectlStdin(nil, "delete", "namespace", deployNS, "--wait=true", "--timeout=120s")
		}
	})

	start := time.Now()
	h.install(t, nodeTag)
	rollout(t, deployNS, deployName)
	waitInjectorImage(t, injectorRepo+":"+nodeTag)
	waitCABundle(t, nil)
	t.Logf("helm install of version %s: injector ready in %v", oldVersion, time.Since(start).Round(time.Millisecond))

	ns := newNamespace(t, nil)
	create(t, ns, newPod("old", []corev1.Container{appContainer("app", "128Mi", "500m")}, optIn))
	oldPod := waitReady(t, ns, "old")
	checkUpgradePod(t, ns, oldPod, oldVersion, oldSidecar, 128, 1)
	oldSide := sidecarStatus(oldPod)

	start = time.Now()
	h.upgrade(t, newVersion)
	rollout(t, deployNS, deployName)
	waitInjectorImage(t, injectorRepo+":"+newVersion)
	t.Logf("helm upgrade to version %s: every injector replica on the new image %v after the upgrade call", newVersion, time.Since(start).Round(time.Millisecond))

	create(t, ns, newPod("new", []corev1.Container{appContainer("app", "192Mi", "1500m")}, optIn))
	np := waitReady(t, ns, "new")
	checkUpgradePod(t, ns, np, newVersion, newSidecar, 192, 2)

	t.Run("old pod untouched", func(t *testing.T) {
		p := getPod(t, ns, "old")
		s := sidecarStatus(p)
		if s.ContainerID != oldSide.ContainerID || s.RestartCount != 0 || s.Image != oldSide.Image || s.ImageID != oldSide.ImageID || s.State.Running == nil {
			t.Errorf("old pod's sidecar after the upgrade: %s image %s (%s), %d restarts, state %+v; want %s image %s (%s), no restart, running",
				s.ContainerID, s.Image, s.ImageID, s.RestartCount, s.State, oldSide.ContainerID, oldSide.Image, oldSide.ImageID)
		}
		if n := appRestarts(p); n != 0 {
			t.Errorf("old pod's app restarted %d times", n)
		}
		checkUpgradePod(t, ns, p, oldVersion, oldSidecar, 128, 1)
	})

	t.Run("README query lists the old pod", func(t *testing.T) {
		got := oldSidecarPods(t, newVersion, ns)
		want := []string{fmt.Sprintf("%s/old\t%s\t%s", ns, oldVersion, oldSidecar)}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("deploy/README.md's query, lines of namespace %s:\n%q\nwant\n%q", ns, got, want)
		}
	})

	t.Run("uninstall is clean", func(t *testing.T) {
		manifest := h.manifest(t)
		start := time.Now()
		if err := h.uninstall(); err != nil {
			t.Fatalf("helm uninstall: %v", err)
		}
		kubectl(t, "delete", "namespace", deployNS, "--wait=true", "--timeout=120s")
		uninstalled = true
		t.Logf("helm uninstall and namespace deletion: %v", time.Since(start).Round(time.Millisecond))
		for _, obj := range manifestObjects(t, manifest) {
			ons := obj.namespace // unset in the chart: the release's (ignored for cluster-scoped kinds)
			if ons == "" {
				ons = deployNS
			}
			if out := kubectl(t, "get", obj.kind, obj.name, "-n", ons, "--ignore-not-found", "-o", "name"); out != "" {
				t.Errorf("left after uninstall: %s", out)
			}
		}
		// Injected pods keep their sidecars and views without an injector.
		checkUpgradePod(t, ns, getPod(t, ns, "old"), oldVersion, oldSidecar, 128, 1)
		checkUpgradePod(t, ns, getPod(t, ns, "new"), newVersion, newSidecar, 192, 2)
	})
}

// binaryVersion is the version bin/procview-injector reports: the one test/node/images.sh put
// into the node's images.
func binaryVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join("..", "..", "bin", "procview-injector"), "version").Output()
	if err != nil {
		t.Fatalf("procview-injector version: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("procview-injector version: %q, want \"procview-injector VERSION\"", out)
	}
	return f[1]
}

// checkUpgradePod checks that the pod was injected by version with sidecar image image and that
// its app sees mem MiB and cpus CPUs.
func checkUpgradePod(t *testing.T, ns string, p *corev1.Pod, version, image string, mem int64, cpus int) {
	t.Helper()
	var st struct{ Version, Image string }
	if err := json.Unmarshal([]byte(p.Annotations[annStatus]), &st); err != nil {
		t.Fatalf("pod %s: %s %q: %v", p.Name, annStatus, p.Annotations[annStatus], err)
	}
	if st.Version != version || st.Image != image {
		t.Errorf("pod %s: %s version %q image %q; want %q, %q", p.Name, annStatus, st.Version, st.Image, version, image)
	}
	if s := sidecarStatus(p); s.Image != image {
		t.Errorf("pod %s: sidecar runs %s, want %s", p.Name, s.Image, image)
	}
	if got, n := freeTotalMiB(t, ns, p.Name, "app"), nproc(t, ns, p.Name, "app"); got != mem || n != cpus {
		t.Errorf("pod %s: free -m total %d, CPUs %d; want %d, %d", p.Name, got, n, mem, cpus)
	}
}

// waitInjectorImage waits until every injector pod runs image and none is terminating, so that
// only that version answers the webhook.
func waitInjectorImage(t *testing.T, image string) {
	t.Helper()
	testenv.Eventually(t, podReadyWithin, 500*time.Millisecond, func() error {
		var pods corev1.PodList
		if err := json.Unmarshal([]byte(kubectl(t, "get", "pods", "-n", deployNS, "-l", deploySel, "-o", "json")), &pods); err != nil {
			return err
		}
		ok := len(pods.Items) > 0
		var seen []string
		for _, p := range pods.Items {
			seen = append(seen, p.Spec.Containers[0].Image)
			if p.Spec.Containers[0].Image != image || p.DeletionTimestamp != nil || !podReady(&p) {
				ok = false
			}
		}
		if !ok {
			return fmt.Errorf("injector pods run %v, want all Ready on %s", seen, image)
		}
		return nil
	})
}

// oldSidecarPods runs the query of deploy/README.md ("Pods on an old sidecar") as written there,
// for the running version, and returns its lines for namespace ns.
func oldSidecarPods(t *testing.T, running, ns string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const example = "--arg v v0.2.0 "
	var query string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "kubectl get pods -A -o json | jq ") && strings.Contains(line, example) {
			query = strings.Replace(line, example, "--arg v "+running+" ", 1)
		}
	}
	if query == "" {
		t.Fatalf("deploy/README.md has no line `kubectl get pods -A -o json | jq ... %s...`", example)
	}
	cmd := exec.Command("bash", "-o", "pipefail", "-c", query)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+filepath.Dir(kubectlPath)+":"+os.Getenv("PATH"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", query, err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, ns+"/") {
			lines = append(lines, l)
		}
	}
	return lines
}

// --- Helm, through its Go library -------------------------------------------------------

// helmClient installs, upgrades and uninstalls the chart as the helm CLI does, with
// apiServerEnv as post-renderer.
type helmClient struct {
	cfg   *action.Configuration
	chart *chart.Chart
	post  postrenderer.PostRenderer
}

func newHelm(t *testing.T) *helmClient {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	ns, cache := deployNS, filepath.Join(nodeDir, "kubectl-cache")
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &kubeconfig, &ns, &cache
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, deployNS, "secret"); err != nil {
		t.Fatalf("helm configuration: %v", err)
	}
	c, err := loader.Load(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	return &helmClient{cfg: cfg, chart: c, post: apiServerEnv(t)}
}

// imageValues sets both images' tags, as deploy/README.md's Helm steps do.
func imageValues(tag string) map[string]any {
	return map[string]any{"image": map[string]any{
		"injector": map[string]any{"repository": injectorRepo, "tag": tag},
		"sidecar":  map[string]any{"repository": sidecarRepo, "tag": tag},
	}}
}

func (h *helmClient) install(t *testing.T, tag string) {
	t.Helper()
	in := action.NewInstall(h.cfg)
	in.ReleaseName, in.Namespace = releaseName, deployNS
	in.WaitStrategy, in.Timeout = kube.HookOnlyStrategy, 3*time.Minute
	in.PostRenderer = h.post
	vals := imageValues(tag)
	vals["namespace"] = map[string]any{"create": false} // created beforehand, as deploy/README.md says
	if _, err := in.Run(h.chart, vals); err != nil {
		t.Fatalf("helm install: %v", err)
	}
}

func (h *helmClient) upgrade(t *testing.T, tag string) {
	t.Helper()
	up := action.NewUpgrade(h.cfg)
	up.Namespace = deployNS
	up.WaitStrategy, up.Timeout = kube.HookOnlyStrategy, 3*time.Minute
	up.ReuseValues = true // helm upgrade --reuse-values --set image...tag=
	up.PostRenderer = h.post
	if _, err := up.Run(releaseName, h.chart, imageValues(tag)); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
}

func (h *helmClient) uninstall() error {
	un := action.NewUninstall(h.cfg)
	un.WaitStrategy, un.Timeout = kube.StatusWatcherStrategy, 2*time.Minute
	_, err := un.Run(releaseName)
	return err
}

// manifest is the deployed release's rendered manifest.
func (h *helmClient) manifest(t *testing.T) string {
	t.Helper()
	r, err := action.NewGet(h.cfg).Run(releaseName)
	if err != nil {
		t.Fatalf("helm get: %v", err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		t.Fatalf("helm get: a %T, want a *release.Release", r)
	}
	return rel.Manifest
}

type objRef struct{ kind, namespace, name string }

func manifestObjects(t *testing.T, manifest string) []objRef {
	t.Helper()
	objs, err := yamlstream.Objects(strings.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var refs []objRef
	for _, o := range objs {
		if u := (unstructured.Unstructured{Object: o}); u.GetKind() != "" {
			refs = append(refs, objRef{u.GetKind(), u.GetNamespace(), u.GetName()})
		}
	}
	if len(refs) == 0 {
		t.Fatal("the release's manifest holds no objects")
	}
	return refs
}

// apiServerEnv is a Helm post-renderer (what `helm --post-renderer` runs) that points the
// injector at PROCVIEW_E2E_APISERVER, as deployDir's overlay does for `kubectl apply -k`: this
// node has no kube-proxy. Nil when it is not set.
func apiServerEnv(t *testing.T) postrenderer.PostRenderer {
	t.Helper()
	host, port := e2eAPIServer(t)
	if host == "" {
		return nil
	}
	return &envPostRenderer{env: []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: host}, {Name: "KUBERNETES_SERVICE_PORT", Value: port}}}
}

type envPostRenderer struct{ env []corev1.EnvVar }

func (r *envPostRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := yamlstream.Objects(in)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, o := range objs {
		if o["kind"] == "Deployment" {
			if err := r.addEnv(o); err != nil {
				return nil, err
			}
		}
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return &out, nil
}

func (r *envPostRenderer) addEnv(deploy map[string]any) error {
	spec, _ := deploy["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pspec, _ := tmpl["spec"].(map[string]any)
	containers, _ := pspec["containers"].([]any)
	for _, c := range containers {
		c, _ := c.(map[string]any)
		if c["name"] != "injector" {
			continue
		}
		env, _ := c["env"].([]any)
		for _, e := range r.env {
			env = append(env, map[string]any{"name": e.Name, "value": e.Value})
		}
		c["env"] = env
		return nil
	}
	return fmt.Errorf("post-render: no injector container in Deployment %v", deploy["metadata"])
}
