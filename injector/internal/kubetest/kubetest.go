// Package kubetest runs a real kube-apiserver and etcd for a test (envtest-style, for plain
// `testing`): files in t.TempDir(), loopback ports, certificates made here, every process
// stopped by PID when the test ends.
//
// Not controller-runtime's envtest (which could start the same binaries through
// TEST_ASSET_ETCD and TEST_ASSET_KUBE_APISERVER): what these tests need beyond a bare control
// plane (deploy/'s ServiceAccount identity from a token file, an AdmissionConfiguration, serving
// certificates from the apiserver's CA) would be the same flags through APIServer.Configure(),
// and envtest brings its CRD installer (apiextensions) and its own process handling along.
package kubetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ControlPlane is a running etcd + kube-apiserver.
type ControlPlane struct {
	Config *rest.Config // admin (system:masters) client configuration
	Dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	CAPEM  []byte // the CA that signed the apiserver's and ServingCert's certificates
}

// BinDir finds the Kubernetes binaries: $PROCVIEW_KUBE_BIN, else test/kube/build-bins.sh
// (which builds them once into a cache).
func BinDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PROCVIEW_KUBE_BIN"); d != "" {
		return d
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "test", "kube", "build-bins.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("test/kube/build-bins.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Option changes how Start runs the apiserver.
type Option func(dir string, args []string) []string

// WithAdmissionConfig runs the apiserver with this AdmissionConfiguration (YAML), e.g. Pod
// Security defaults.
func WithAdmissionConfig(config string) Option {
	return func(dir string, args []string) []string {
		f := filepath.Join(dir, "admission.yaml")
		if err := os.WriteFile(f, []byte(config), 0o600); err != nil {
			panic(err)
		}
		return append(args, "--admission-control-config-file", f)
	}
}

// Start runs etcd and kube-apiserver and waits until the apiserver is ready.
func Start(t testing.TB, opts ...Option) *ControlPlane {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real kube-apiserver and etcd; not in -short")
	}
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd not found (install the Debian package etcd-server, see test/apt-packages.txt): %v", err)
	}
	apiserver := filepath.Join(BinDir(t), "kube-apiserver")
	dir := t.TempDir()
	cp := &ControlPlane{Dir: dir}
	cp.newCA(t)

	etcdPort, peerPort := FreePort(t), FreePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	startProcess(t, dir, "etcd", etcd,
		"--name", "procview-test", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "procview-test="+peerURL)

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey))
	token := "procview-test-admin-token"
	tokens := token + ",admin,admin,system:masters\n" +
		injectorToken + "," + InjectorUser + ",procview-injector,\"system:serviceaccounts,system:serviceaccounts:procview-system\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	cp.ServingCert(t, dir, "apiserver")
	port := FreePort(t)
	args := []string{"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(port),
		"--tls-cert-file", filepath.Join(dir, "apiserver.crt"), "--tls-private-key-file", filepath.Join(dir, "apiserver.key"),
		"--cert-dir", filepath.Join(dir, "apiserver-certs"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--allow-privileged=true",
		"--endpoint-reconciler-type", "none",
		// Webhooks behind a Service are called at an endpoint of its EndpointSlices (no kube-proxy).
		"--enable-aggregator-routing=true",
		// No controller-manager creates the default ServiceAccount; pods need none here.
		"--disable-admission-plugins", "ServiceAccount",
	}
	for _, o := range opts {
		args = o(dir, args)
	}
	startProcess(t, dir, "kube-apiserver", apiserver, args...)
	cp.Config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(port),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.CAPEM},
		QPS:             100, Burst: 200,
	}
	cp.waitReady(t)
	return cp
}

// InjectorUser is the identity of deploy/'s ServiceAccount procview-system/procview-injector;
// InjectorConfig authenticates as it (with only the RBAC the test grants it).
const InjectorUser = "system:serviceaccount:procview-system:procview-injector"

const injectorToken = "procview-test-injector-token"

// InjectorConfig is a client configuration for InjectorUser.
// Client returns a client of the built-in types for cfg (nil: the admin cp.Config).
func (cp *ControlPlane) Client(t testing.TB, cfg *rest.Config) client.Client {
	t.Helper()
	if cfg == nil {
		cfg = cp.Config
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (cp *ControlPlane) InjectorConfig() *rest.Config {
	c := rest.CopyConfig(cp.Config)
	c.BearerToken = injectorToken
	return c
}

func (cp *ControlPlane) waitReady(t testing.TB) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.CAPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", cp.Config.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+cp.Config.BearerToken)
		resp, err := hc.Do(req)
		if err == nil {
			b := new(bytes.Buffer)
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b.String())
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(cp.Dir, "kube-apiserver.log"))
	t.Fatalf("kube-apiserver not ready after 90s: %s\n--- log tail:\n%s", last, tail(log, 3000))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// startProcess runs a server with its output in DIR/NAME.log and stops it (by PID) at cleanup.
func startProcess(t testing.TB, dir, name, path string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Die with the test binary even if it is killed before cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log tail:\n%s", name, tail(b, 2000))
		}
	})
}

func (cp *ControlPlane) newCA(t testing.TB) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "procview-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cp.caCert, _ = x509.ParseCertificate(der)
	cp.caKey = key
	cp.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// ServingCert writes DIR/NAME.crt and DIR/NAME.key: a serving certificate for 127.0.0.1 and
// localhost signed by the test CA. With NAME "tls" the directory suits controller-runtime's CertDir.
func (cp *ControlPlane) ServingCert(t testing.TB, dir, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, cp.caCert, &key.PublicKey, cp.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", kder)
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// NewCA returns the PEM of a fresh CA unrelated to the control plane's (for TLS failure tests).
func NewCA(t testing.TB) []byte {
	t.Helper()
	var other ControlPlane
	other.newCA(t)
	return other.CAPEM
}
