package webhook

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NamespaceReader reads namespaces from a watch-fed cache, and from the API server only when
// the cache does not have one yet (a namespace created a moment before its first pod).
//
// A live GET per admission costs an API round trip on every opted-in pod and, through the
// client's rate limiter (client-go's default 5 requests/s with a kubeconfig), made 200 pods/s
// queue for seconds and time out. The cache needs list and watch on namespaces besides get.
type NamespaceReader struct {
	Cache client.Reader // e.g. the manager's cache
	Live  client.Reader // e.g. the manager's API reader
}

var _ client.Reader = NamespaceReader{}

// Get implements client.Reader.
func (r NamespaceReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := r.Cache.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) {
		return r.Live.Get(ctx, key, obj, opts...)
	}
	return err
}

// List implements client.Reader, from the cache.
func (r NamespaceReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.Cache.List(ctx, list, opts...)
}
