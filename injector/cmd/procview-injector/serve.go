package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/procview/procview/injector/certs"
	"github.com/procview/procview/injector/webhook"
)

// serve runs the webhook until ctx ends: TLS from s.CertDir (reloaded on change), the
// webhook at webhook.Path, /healthz and /readyz on s.HealthAddr, /metrics on s.MetricsAddr.
func serve(ctx context.Context, restCfg *rest.Config, s settings, log logr.Logger) error {
	injection, err := s.Config.Parse()
	if err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(s.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", s.ListenAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("listen address %q: port: %w", s.ListenAddr, err)
	}
	ctrl.SetLogger(log)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	opts := ctrl.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: s.MetricsAddr},
		HealthProbeBindAddress: s.HealthAddr,
		WebhookServer:          crwebhook.NewServer(crwebhook.Options{Host: host, Port: port, CertDir: s.CertDir}),
	}
	certOpts := s.CertSettings.options(s.CertDir)
	if s.CertMode == certModeSelf {
		// The cache holds only the Secret and the webhook configuration: RBAC on those names suffices.
		opts.Cache = certs.CacheOptions(certOpts)
	}
	mgr, err := ctrl.NewManager(restCfg, opts)
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if s.CertMode == certModeSelf {
		if err := selfSignedCert(ctx, mgr, restCfg, scheme, certOpts, log); err != nil {
			return err
		}
	}
	metrics, err := webhook.NewMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	srv := mgr.GetWebhookServer() // also adds the server to the manager's runnables
	// Namespaces come from a watch-fed cache (registered now, started with the manager), not
	// a rate-limited API call per pod.
	if _, err := mgr.GetCache().GetInformer(ctx, &corev1.Namespace{}); err != nil {
		return fmt.Errorf("namespace informer: %w", err)
	}
	for _, obj := range []client.Object{&corev1.ResourceQuota{}, &corev1.LimitRange{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("%T informer: %w", obj, err)
		}
	}
	namespaces := webhook.NamespaceReader{Cache: mgr.GetCache(), Live: mgr.GetAPIReader()}
	rules := webhook.RulesReader{Cache: mgr.GetCache(), Live: mgr.GetAPIReader()}
	inj := &webhook.Injector{Settings: injection, Namespaces: namespaces, Rules: rules, Metrics: metrics}
	srv.Register(webhook.Path, inj.Webhook(scheme))
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
		return err
	}
	log.Info("starting", "version", s.Version, "listen", s.ListenAddr, "path", webhook.Path, "certDir", s.CertDir, "certMode", s.CertMode,
		"metrics", s.MetricsAddr, "health", s.HealthAddr, "sidecarImage", s.SidecarImage,
		"excludedNamespaces", s.ExcludedNamespaces, "cpuView", s.CPUView)
	return mgr.Start(ctx)
}

// selfSignedCert makes the serving certificate exist in the cert dir before the webhook server
// starts (it reads the files at start), then keeps it current with a reconciler.
func selfSignedCert(ctx context.Context, mgr ctrl.Manager, restCfg *rest.Config, scheme *runtime.Scheme, o certs.Options, log logr.Logger) error {
	direct, err := client.New(restCfg, client.Options{Scheme: scheme}) // the manager's cache starts after the webhook server
	if err != nil {
		return fmt.Errorf("serving certificate: client: %w", err)
	}
	log = log.WithName("certs")
	metrics, err := certs.NewMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	boot := &certs.Reconciler{Client: direct, Opts: o, Log: log, Metrics: metrics}
	if err := boot.Bootstrap(ctx, 2*time.Minute); err != nil {
		return err
	}
	r := &certs.Reconciler{Client: mgr.GetClient(), Opts: o, Log: log, Metrics: metrics}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("serving certificate controller: %w", err)
	}
	return nil
}
