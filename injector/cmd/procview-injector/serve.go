package main

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/procview/procview/injector/webhook"
)

// serve runs the webhook until ctx ends: TLS from s.CertDir (reloaded on change), the
// webhook at webhook.Path, /healthz and /readyz on s.HealthAddr, /metrics on s.MetricsAddr.
func serve(ctx context.Context, restCfg *rest.Config, s settings, log logr.Logger) error {
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
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: s.MetricsAddr},
		HealthProbeBindAddress: s.HealthAddr,
		WebhookServer:          crwebhook.NewServer(crwebhook.Options{Host: host, Port: port, CertDir: s.CertDir}),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
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
	namespaces := webhook.NamespaceReader{Cache: mgr.GetCache(), Live: mgr.GetAPIReader()}
	inj := &webhook.Injector{Config: s.Config, Namespaces: namespaces, Metrics: metrics}
	srv.Register(webhook.Path, inj.Webhook(scheme))
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
		return err
	}
	log.Info("starting", "version", s.Version, "listen", s.ListenAddr, "path", webhook.Path, "certDir", s.CertDir,
		"metrics", s.MetricsAddr, "health", s.HealthAddr, "sidecarImage", s.SidecarImage,
		"excludedNamespaces", s.ExcludedNamespaces, "cpuView", s.CPUView)
	return mgr.Start(ctx)
}
