package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/procview/procview/injector/internal/kubetest"
	"github.com/procview/procview/internal/testenv"
)

// BenchmarkWebhookLoad runs the injector binary ($PROCVIEW_INJECTOR_BIN) the way a node runs
// it (its own process, TLS, a kubeconfig for a real kube-apiserver + etcd to read namespaces)
// and drives it with the load generator ($PROCVIEW_WEBHOOKLOAD_BIN, test/bench/webhookload) at
// $WEBHOOK_RATE requests/s (200) for $WEBHOOK_DURATION (10s). The generator's lines, ending in
// key=value pairs, go to stdout for `make bench`; p50/p99 are reported as benchmark metrics.
// It fails when a request fails (the generator checks every response is an injection).
//
//	go test -run '^$' -bench WebhookLoad -benchtime 1x ./injector/cmd/procview-injector
func BenchmarkWebhookLoad(b *testing.B) {
	injector, load := os.Getenv("PROCVIEW_INJECTOR_BIN"), os.Getenv("PROCVIEW_WEBHOOKLOAD_BIN")
	if injector == "" || load == "" {
		b.Skip("set PROCVIEW_INJECTOR_BIN and PROCVIEW_WEBHOOKLOAD_BIN (make bench does)")
	}
	rate, duration := envOr("WEBHOOK_RATE", "200"), envOr("WEBHOOK_DURATION", "10s")
	cp := kubetest.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)

	c := cp.Client(b, nil)
	const ns = "apps"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}

	dir := b.TempDir()
	certDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		b.Fatal(err)
	}
	cp.ServingCert(b, certDir, "tls")
	caFile := filepath.Join(dir, "ca.crt")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeFile(b, caFile, cp.CAPEM)
	writeFile(b, kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: bench
  user: {token: %q}
contexts:
- name: bench
  context: {cluster: bench, user: bench}
current-context: bench
`, cp.Config.Host, base64.StdEncoding.EncodeToString(cp.CAPEM), cp.Config.BearerToken)))

	hookPort, healthPort := kubetest.FreePort(b), kubetest.FreePort(b)
	logFile, err := os.Create(filepath.Join(dir, "injector.log"))
	if err != nil {
		b.Fatal(err)
	}
	inj := exec.Command(injector, "serve", "--cert-dir", certDir,
		"--listen-addr", "127.0.0.1:"+strconv.Itoa(hookPort), "--kubeconfig", kubeconfig,
		"--metrics-addr", "0", "--health-addr", "127.0.0.1:"+strconv.Itoa(healthPort))
	inj.Stdout, inj.Stderr = logFile, logFile
	if err := inj.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		inj.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { inj.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			inj.Process.Kill()
			<-done
		}
		logFile.Close()
		if b.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			b.Logf("--- injector log (tail):\n%s", tailLines(log, 30))
		}
	})
	if err := testenv.Poll(30*time.Second, 200*time.Millisecond, func() error {
		return httpGetOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort))
	}); err != nil {
		b.Fatalf("injector not ready: %v", err)
	}

	for b.Loop() {
		cmd := exec.CommandContext(ctx, load, "-url", fmt.Sprintf("https://127.0.0.1:%d/inject", hookPort),
			"-cacert", caFile, "-rate", rate, "-duration", duration, "-namespace", ns)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		os.Stdout.Write(out)
		if err != nil {
			b.Fatalf("%s: %v\n%s", load, err, stderr.String())
		}
		for _, line := range strings.Split(string(out), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if f, err := strconv.ParseFloat(v, 64); ok && err == nil && (k == "webhook_p50_us" || k == "webhook_p99_us") {
				b.ReportMetric(f, strings.TrimPrefix(k, "webhook_")[:3]+"-us")
			}
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func writeFile(b *testing.B, p string, data []byte) {
	b.Helper()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

func tailLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
