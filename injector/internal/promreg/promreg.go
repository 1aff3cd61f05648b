// Package promreg registers Prometheus collectors that a second server in the same process
// (the tests start several) shares with the first.
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns it, or the collector already registered there
// under the same name.
func Register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		return c, fmt.Errorf("register metrics: %w", err)
	}
	existing, ok := are.ExistingCollector.(T)
	if !ok {
		return c, fmt.Errorf("register metrics: a collector of type %T is already registered", are.ExistingCollector)
	}
	return existing, nil
}
