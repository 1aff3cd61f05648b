package webhook

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/procview/procview/injector/inject"
)

// FreshNamespace is how long after its creation a namespace's ResourceQuotas and LimitRanges are
// read from the API server rather than the cache: a script that creates a namespace, its quota
// and a pod in quick succession can be ahead of the watch. Measured on the test machine the watch
// delivers an object within tens of milliseconds; 2 s leaves room for a busy API server.
const FreshNamespace = 2 * time.Second

// RulesReader reads the ResourceQuotas and LimitRanges of a namespace, from a watch-fed cache
// (list and watch on both kinds, cluster-wide) and from the API server while the namespace is
// fresh. Objects changed in an older namespace can still be behind in the cache for the time
// the watch takes (tens of milliseconds); the quota's status.used is the quota controller's,
// which lags anyway.
type RulesReader struct {
	Cache client.Reader // e.g. the manager's cache
	Live  client.Reader // e.g. the manager's API reader
	Now   func() time.Time
}

// Rules returns the namespace's rules.
func (r RulesReader) Rules(ctx context.Context, ns *corev1.Namespace) (inject.Rules, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	from := r.Cache
	if created := ns.CreationTimestamp.Time; created.IsZero() || now().Sub(created) < FreshNamespace {
		from = r.Live
	}
	var quotas corev1.ResourceQuotaList
	if err := from.List(ctx, &quotas, client.InNamespace(ns.Name)); err != nil {
		return inject.Rules{}, fmt.Errorf("list ResourceQuotas: %w", err)
	}
	var ranges corev1.LimitRangeList
	if err := from.List(ctx, &ranges, client.InNamespace(ns.Name)); err != nil {
		return inject.Rules{}, fmt.Errorf("list LimitRanges: %w", err)
	}
	return inject.Rules{Quotas: quotas.Items, LimitRanges: ranges.Items}, nil
}
