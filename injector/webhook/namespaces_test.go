package webhook

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestNamespaceReader(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ns := func(name, level string) client.Object {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": level}}}
	}
	// The cache lags: "old" is in both (with the cache's labels winning), "new" only live.
	r := NamespaceReader{
		Cache: fake.NewClientBuilder().WithScheme(scheme).WithObjects(ns("old", "cached")).Build(),
		Live:  fake.NewClientBuilder().WithScheme(scheme).WithObjects(ns("old", "live"), ns("new", "live")).Build(),
	}
	for _, tc := range []struct {
		name, want string
		notFound   bool
	}{
		{"old", "cached", false},
		{"new", "live", false},
		{"gone", "", true},
	} {
		var got corev1.Namespace
		err := r.Get(context.Background(), client.ObjectKey{Name: tc.name}, &got)
		if tc.notFound {
			if !apierrors.IsNotFound(err) {
				t.Errorf("Get(%s) = %v, want NotFound", tc.name, err)
			}
			continue
		}
		if err != nil || got.Labels["pod-security.kubernetes.io/enforce"] != tc.want {
			t.Errorf("Get(%s) = %v, %v; want labels from %s", tc.name, got.Labels, err, tc.want)
		}
	}
	// Other errors from the cache (e.g. not synced before the request's deadline) are not
	// retried live: the webhook skips injection and says why.
	r.Cache = failingReader{}
	if err := r.Get(context.Background(), client.ObjectKey{Name: "old"}, &corev1.Namespace{}); err == nil {
		t.Error("Get with a failing cache = nil error, want the cache's error")
	}
}
