// Command procview-injector adds the procview sidecar and view mounts to opted-in pods.
//
//	procview-injector serve                 run the mutating admission webhook (TLS), health and metrics endpoints
//	procview-injector inject -f FILE|-      print Pods and workloads from a YAML stream, injected (dry run)
//	procview-injector version               print the version (also --version)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/kelseyhightower/envconfig"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/procview/procview/injector/certs"
	"github.com/procview/procview/injector/inject"
)

// version is recorded in every injected pod's status annotation and printed by `version`; the
// Makefile stamps it with -ldflags -X main.version=... (`make build VERSION=v1.2.3`). Unstamped
// builds, tests and the goldens say "dev".
var version = "dev"

// settings are all of the injector's settings: the mutation's and the server's.
type settings struct {
	inject.Config
	ListenAddr  string `envconfig:"LISTEN_ADDR" default:":9443" desc:"host:port of the webhook's TLS listener"`
	CertDir     string `envconfig:"CERT_DIR" default:"/tmp/k8s-webhook-server/serving-certs" desc:"directory holding the serving certificate tls.crt and key tls.key (reloaded when they change)"`
	MetricsAddr string `envconfig:"METRICS_ADDR" default:":8080" desc:"host:port of the Prometheus endpoint /metrics; 0 disables it"`
	HealthAddr  string `envconfig:"HEALTH_ADDR" default:":8081" desc:"host:port of /healthz and /readyz; 0 disables them"`
	Kubeconfig  string `envconfig:"KUBECONFIG" desc:"kubeconfig file for the namespace lookups (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)"`
	CertSettings
}

// CertSettings say where the serving certificate comes from.
type CertSettings struct {
	CertMode      string        `envconfig:"CERT_MODE" default:"external" desc:"external: tls.crt/tls.key in CERT_DIR are provided (cert-manager, a mounted Secret, files); self: the injector creates and rotates them in the Secret CERT_SECRET and keeps the caBundle of WEBHOOK_CONFIG current"`
	Namespace     string        `envconfig:"NAMESPACE" default:"procview-system" desc:"the injector's namespace (self mode: where CERT_SECRET and SERVICE_NAME live; set it from the downward API metadata.namespace)"`
	CertSecret    string        `envconfig:"CERT_SECRET" default:"procview-injector-tls" desc:"self mode: Secret (type kubernetes.io/tls, plus ca.crt) shared by the replicas"`
	ServiceName   string        `envconfig:"SERVICE_NAME" default:"procview-injector" desc:"self mode: the webhook's Service; the certificate is for <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local"`
	WebhookConfig string        `envconfig:"WEBHOOK_CONFIG" default:"procview-injector" desc:"self mode: MutatingWebhookConfiguration whose webhooks get the caBundle"`
	CertValidity  time.Duration `envconfig:"CERT_VALIDITY" default:"8760h" desc:"self mode: lifetime of each CA and serving certificate; replaced when less than a third remains"`
}

// Validate reports the first unusable certificate setting.
func (c CertSettings) Validate() error {
	switch c.CertMode {
	case certModeExternal:
		return nil
	case certModeSelf:
		return c.options("-").Validate()
	}
	return fmt.Errorf("%s_CERT_MODE=%q: want %s or %s", inject.EnvPrefix, c.CertMode, certModeSelf, certModeExternal)
}

const (
	certModeSelf     = "self"
	certModeExternal = "external"
)

func (c CertSettings) options(certDir string) certs.Options {
	return certs.Options{Namespace: c.Namespace, SecretName: c.CertSecret, ServiceName: c.ServiceName,
		WebhookConfig: c.WebhookConfig, CertDir: certDir, Validity: c.CertValidity}
}

func main() {
	log := funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{LogTimestamp: true})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, log)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, log logr.Logger) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "procview-injector %s\n", version)
		return 0
	}
	var s settings
	if err := envconfig.Process(inject.EnvPrefix, &s); err != nil {
		fmt.Fprintf(stderr, "procview-injector: %v\n", err)
		return 2
	}
	s.Version = version
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr) }
	fs.StringVar(&s.SidecarImage, "sidecar-image", s.SidecarImage, "sidecar image")
	fs.StringVar(&s.CPUView, "cpu-view", s.CPUView, "default CPU view: quota or cpuset")
	excluded := fs.String("excluded-namespaces", strings.Join(s.ExcludedNamespaces, ","), "namespaces never injected")
	var file, nsLabels string
	switch cmd {
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	case "serve":
		fs.StringVar(&s.ListenAddr, "listen-addr", s.ListenAddr, "webhook TLS listener")
		fs.StringVar(&s.CertDir, "cert-dir", s.CertDir, "directory with tls.crt and tls.key")
		fs.StringVar(&s.MetricsAddr, "metrics-addr", s.MetricsAddr, "metrics listener")
		fs.StringVar(&s.HealthAddr, "health-addr", s.HealthAddr, "health listener")
		fs.StringVar(&s.Kubeconfig, "kubeconfig", s.Kubeconfig, "kubeconfig file")
		fs.StringVar(&s.CertMode, "cert-mode", s.CertMode, "self or external")
	case "inject":
		fs.StringVar(&file, "f", "", "YAML file to inject, - for stdin")
		fs.StringVar(&nsLabels, "namespace-labels", "", "labels of the target namespace as k=v,k=v (e.g. pod-security.kubernetes.io/enforce=restricted)")
	default:
		fmt.Fprintf(stderr, "procview-injector: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "procview-injector %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	s.ExcludedNamespaces = splitList(*excluded)
	if err := s.Config.Validate(); err != nil {
		fmt.Fprintf(stderr, "procview-injector: %v\n", err)
		return 2
	}
	if err := s.CertSettings.Validate(); err != nil && cmd == "serve" {
		fmt.Fprintf(stderr, "procview-injector: %v\n", err)
		return 2
	}
	if cmd == "inject" {
		return dryRun(file, nsLabels, s.Config, stdin, stdout, stderr)
	}
	restCfg, err := kubeConfig(s.Kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "procview-injector serve: %v\n", err)
		return 1
	}
	if err := serve(ctx, restCfg, s, log); err != nil {
		fmt.Fprintf(stderr, "procview-injector serve: %v\n", err)
		return 1
	}
	return 0
}

func dryRun(file, nsLabels string, cfg inject.Config, stdin io.Reader, stdout, stderr io.Writer) int {
	if file == "" {
		fmt.Fprintln(stderr, "procview-injector inject: -f FILE (or - for stdin) is required")
		return 2
	}
	labels := map[string]string{}
	for _, kv := range splitList(nsLabels) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			fmt.Fprintf(stderr, "procview-injector inject: --namespace-labels: %q is not k=v\n", kv)
			return 2
		}
		labels[k] = v
	}
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(stderr, "procview-injector inject: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	out, msgs, err := injectDocs(in, cfg, labels)
	for _, m := range msgs {
		fmt.Fprintln(stderr, m)
	}
	if err != nil {
		fmt.Fprintf(stderr, "procview-injector inject: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "procview-injector inject: %v\n", err)
		return 1
	}
	return 0
}

func kubeConfig(path string) (*rest.Config, error) {
	if path != "" {
		c, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		return c, nil
	}
	c, err := ctrlconfig.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("find a kubeconfig: %w", err)
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func usage(w io.Writer) {
	fmt.Fprint(w, `procview-injector adds the procview sidecar and /proc view mounts to pods annotated
procview.dev/inject: "true".

Usage:
  procview-injector serve [flags]             run the mutating admission webhook over TLS, with
                                              /healthz, /readyz and /metrics endpoints
  procview-injector inject -f FILE|- [flags]  print the Pods and workloads (Deployment, StatefulSet,
                                              DaemonSet, ReplicaSet, Job, CronJob, List) in a YAML
                                              stream injected; warnings and skips go to stderr
  procview-injector version                   print the version (also --version)
  procview-injector help                      this text

Flags (override the environment): --sidecar-image, --cpu-view, --excluded-namespaces;
serve: --listen-addr, --cert-dir, --cert-mode, --metrics-addr, --health-addr, --kubeconfig;
inject: -f FILE|-, --namespace-labels k=v,... (what the webhook would read from the namespace).

`)
	tw := tabwriter.NewWriter(w, 1, 0, 2, ' ', 0)
	envconfig.Usagef(inject.EnvPrefix, &settings{}, tw, envconfig.DefaultTableFormat)
	tw.Flush()
	fmt.Fprintf(w, "\nPod annotations:\n")
	for _, a := range inject.Annotations {
		fmt.Fprintf(w, "  %-28s %s\n", a.Key, a.Help)
	}
	fmt.Fprintf(w, "\nNamespace label:\n  %-28s %s\n", inject.LabelInject+"=enabled",
		"inject every pod in the namespace that is not annotated procview.dev/inject: \"false\"")
	fmt.Fprintf(w, "  %-28s %s\n", inject.LabelInject+"=disabled", "inject no pod in the namespace, whatever its annotation")
}
