package certs

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/procview/procview/injector/internal/promreg"
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
	var err error
	if m.NotAfter, err = promreg.Register(reg, m.NotAfter); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if m.Issued, err = promreg.Register(reg, m.Issued); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	for _, r := range []string{IssuedCreated, IssuedRotated, IssuedReplaced} {
		m.Issued.WithLabelValues(r)
	}
	return m, nil
}
