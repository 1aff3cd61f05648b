package certs

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a replica writes a new key pair to the Secret (the "reason" label of Metrics.Issued).
const (
	IssuedCreated  = "created"  // the Secret was absent
	IssuedRotated  = "rotated"  // less than a third of the certificate's life remained
	IssuedReplaced = "replaced" // the Secret's content was unusable
)

// Metrics of the serving certificate.
type Metrics struct {
	NotAfter prometheus.Gauge       // procview_injector_serving_cert_expiry_timestamp_seconds
	Issued   *prometheus.CounterVec // procview_injector_serving_cert_issued_total{reason}
}

// NewMetrics creates the metrics and registers them with reg (a second call with the same
// registry returns the collectors already there).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		NotAfter: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "procview_injector_serving_cert_expiry_timestamp_seconds",
			Help: "When the serving certificate this replica serves expires (Unix time); it is replaced once a third of its life remains.",
		}),
		Issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procview_injector_serving_cert_issued_total",
			Help: "Key pairs this replica wrote to the certificate Secret, by reason (created, rotated, replaced).",
		}, []string{"reason"}),
	}
	if err := reg.Register(m.NotAfter); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("register certificate metrics: %w", err)
		}
		m.NotAfter = are.ExistingCollector.(prometheus.Gauge)
	}
	if err := reg.Register(m.Issued); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("register certificate metrics: %w", err)
		}
		m.Issued = are.ExistingCollector.(*prometheus.CounterVec)
	}
	for _, r := range []string{IssuedCreated, IssuedRotated, IssuedReplaced} {
		m.Issued.WithLabelValues(r)
	}
	return m, nil
}
