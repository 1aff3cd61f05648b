package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Options name the objects the reconciler manages.
type Options struct {
	Namespace     string        // of the Secret and the Service (the injector's own namespace)
	SecretName    string        // e.g. procview-injector-tls
	ServiceName   string        // the webhook's Service, e.g. procview-injector
	WebhookConfig string        // MutatingWebhookConfiguration whose every webhook gets the caBundle
	CertDir       string        // where tls.crt and tls.key are written for the webhook server
	Validity      time.Duration // of each CA and serving certificate
}

// Validate reports the first unusable option.
func (o Options) Validate() error {
	for what, v := range map[string]string{"namespace": o.Namespace, "secret name": o.SecretName,
		"service name": o.ServiceName, "webhook configuration name": o.WebhookConfig, "certificate directory": o.CertDir} {
		if v == "" {
			return fmt.Errorf("certs: %s is empty", what)
		}
	}
	if o.Validity <= 2*clockSkew {
		return fmt.Errorf("certs: validity %v is too short (want more than %v)", o.Validity, 2*clockSkew)
	}
	return nil
}

// Reconciler keeps the Secret, the cert directory and the webhook configuration's caBundle in
// step. Several replicas may run it at once: the Secret is created only if absent and updated
// with its resourceVersion, so one write wins and the others re-read it.
type Reconciler struct {
	Client  client.Client
	Opts    Options
	Now     func() time.Time // the clock; time.Now when nil
	Log     logr.Logger
	Metrics *Metrics // optional
}

func (r *Reconciler) issued(reason string) {
	if r.Metrics != nil {
		r.Metrics.Issued.WithLabelValues(reason).Inc()
	}
}

// retryAfter is how soon a lost race (AlreadyExists, Conflict) or a missing webhook
// configuration is looked at again, besides the watch events that usually come first.
const retryAfter = 2 * time.Second

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) secretKey() types.NamespacedName {
	return types.NamespacedName{Namespace: r.Opts.Namespace, Name: r.Opts.SecretName}
}

// Reconcile implements reconcile.Reconciler; every request means "check everything".
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	return r.Sync(ctx)
}

// Sync makes the Secret hold a valid, not-yet-due key pair (creating or replacing it), writes the
// pair to the cert directory and sets every webhook's caBundle. It returns when to look again.
func (r *Reconciler) Sync(ctx context.Context) (reconcile.Result, error) {
	now := r.now()
	names := DNSNames(r.Opts.ServiceName, r.Opts.Namespace)
	log := r.Log.WithValues("secret", r.secretKey().String())

	var sec corev1.Secret
	err := r.Client.Get(ctx, r.secretKey(), &sec)
	switch {
	case apierrors.IsNotFound(err):
		// Keep trusting the CAs the webhook configuration has now: the other replicas and this
		// one serve certificates signed by them until they load the new pair.
		kp, err := Generate(now, r.Opts.Validity, names, r.currentBundle(ctx))
		if err != nil {
			return reconcile.Result{}, err
		}
		sec = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.Opts.Namespace, Name: r.Opts.SecretName,
				Labels: map[string]string{"app.kubernetes.io/name": "procview-injector", "app.kubernetes.io/component": "webhook-certificate"}},
			Type: corev1.SecretTypeTLS,
			Data: kp.Data(),
		}
		if err := r.Client.Create(ctx, &sec); err != nil {
			if apierrors.IsAlreadyExists(err) {
				log.V(1).Info("secret created by another replica, using it")
				return reconcile.Result{RequeueAfter: retryAfter}, nil
			}
			return reconcile.Result{}, fmt.Errorf("create secret %s: %w", r.secretKey(), err)
		}
		r.issued(IssuedCreated)
		log.Info("created serving certificate", "notAfter", now.Add(r.Opts.Validity).UTC(), "dnsNames", names)
	case err != nil:
		return reconcile.Result{}, fmt.Errorf("get secret %s: %w", r.secretKey(), err)
	}

	kp := KeyPair{CA: sec.Data[KeyCA], Cert: sec.Data[KeyCert], Key: sec.Data[KeyKey]}
	p, perr := Parse(kp, now, names)
	switch {
	case perr != nil || NeedsRotation(p.Leaf, now):
		if perr != nil {
			log.Error(perr, "secret does not hold a usable serving certificate, replacing it")
		} else {
			log.Info("rotating serving certificate", "notAfter", p.Leaf.NotAfter.UTC(), "rotateAt", RotateAt(p.Leaf).UTC())
		}
		nkp, err := Generate(now, r.Opts.Validity, names, kp.CA, r.currentBundle(ctx))
		if err != nil {
			return reconcile.Result{}, err
		}
		sec.Data = nkp.Data()
		if err := r.Client.Update(ctx, &sec); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				log.V(1).Info("secret changed meanwhile, re-reading it", "error", err.Error())
				return reconcile.Result{RequeueAfter: retryAfter}, nil
			}
			return reconcile.Result{}, fmt.Errorf("update secret %s: %w", r.secretKey(), err)
		}
		if perr != nil {
			r.issued(IssuedReplaced)
		} else {
			r.issued(IssuedRotated)
		}
		if p, err = Parse(nkp, now, names); err != nil {
			return reconcile.Result{}, fmt.Errorf("new key pair: %w", err) // a bug: Generate's output must parse
		}
	}

	// The caBundle first, then the files: a server never presents a certificate the API server
	// does not trust yet.
	bundle := Bundle(now, p.CA)
	found, err := r.setCABundle(ctx, bundle)
	if err != nil {
		return reconcile.Result{}, err
	}
	if err := writeFiles(r.Opts.CertDir, p.Cert, p.Key); err != nil {
		return reconcile.Result{}, err
	}
	if r.Metrics != nil {
		r.Metrics.NotAfter.Set(float64(p.Leaf.NotAfter.Unix()))
	}
	next := NextCheck(p, now).Sub(now)
	if !found {
		log.Info("webhook configuration not found, will set its caBundle once it exists", "webhookConfig", r.Opts.WebhookConfig)
		next = min(next, time.Minute)
	}
	return reconcile.Result{RequeueAfter: max(next, time.Second)}, nil
}

// currentBundle is the caBundle the webhook configuration has now (nil when it cannot be read).
func (r *Reconciler) currentBundle(ctx context.Context) []byte {
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	if err := r.Client.Get(ctx, client.ObjectKey{Name: r.Opts.WebhookConfig}, &mwc); err != nil {
		return nil
	}
	var all []byte
	for _, w := range mwc.Webhooks {
		all = append(all, w.ClientConfig.CABundle...)
	}
	return all
}

// setCABundle patches the caBundle of every webhook of the configuration that differs; found is
// false when the configuration does not exist.
func (r *Reconciler) setCABundle(ctx context.Context, bundle []byte) (found bool, err error) {
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	key := client.ObjectKey{Name: r.Opts.WebhookConfig}
	if err := r.Client.Get(ctx, key, &mwc); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("get mutatingwebhookconfiguration %s: %w", key.Name, err)
	}
	orig := mwc.DeepCopy()
	changed := false
	for i := range mwc.Webhooks {
		if !bytes.Equal(mwc.Webhooks[i].ClientConfig.CABundle, bundle) {
			mwc.Webhooks[i].ClientConfig.CABundle = bundle
			changed = true
		}
	}
	if !changed {
		return true, nil
	}
	if err := r.Client.Patch(ctx, &mwc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return true, fmt.Errorf("patch caBundle of mutatingwebhookconfiguration %s: %w", key.Name, err)
	}
	r.Log.Info("updated caBundle", "webhookConfig", key.Name, "webhooks", len(mwc.Webhooks))
	return true, nil
}

// writeFiles writes tls.crt and tls.key into dir when they differ, each by rename so a reader
// never sees half a file (the key first: the certificate watcher reloads on either).
func writeFiles(dir string, cert, key []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create cert dir: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{KeyKey, key}, {KeyCert, cert}} {
		path := filepath.Join(dir, f.name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("rename %s: %w", tmp, err)
		}
	}
	return nil
}

// CacheOptions restricts a manager's cache to the one Secret and the one webhook configuration,
// so the injector needs list/watch on those names only.
func CacheOptions(o Options) cache.Options {
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {
			Namespaces: map[string]cache.Config{o.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", o.SecretName),
		},
		&admissionregistrationv1.MutatingWebhookConfiguration{}: {
			Field: fields.OneTermEqualSelector("metadata.name", o.WebhookConfig),
		},
	}}
}

// SetupWithManager runs the reconciler on changes of the Secret (including its deletion) and of
// the webhook configuration (e.g. re-applied without a caBundle).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.Opts.Validate(); err != nil {
		return err
	}
	one := func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: r.secretKey()}}
	}
	isSecret := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == r.Opts.Namespace && o.GetName() == r.Opts.SecretName
	})
	isMWC := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == r.Opts.WebhookConfig })
	return ctrl.NewControllerManagedBy(mgr).
		Named("serving-certificate").
		For(&corev1.Secret{}, builder.WithPredicates(isSecret)).
		Watches(&admissionregistrationv1.MutatingWebhookConfiguration{}, handler.EnqueueRequestsFromMapFunc(one), builder.WithPredicates(isMWC)).
		Complete(r)
}

// Bootstrap runs Sync until the cert directory holds a key pair, before the webhook server
// starts (it needs the files at start). c should be a direct (uncached) client.
func (r *Reconciler) Bootstrap(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		_, err := r.Sync(ctx)
		if err == nil && filesPresent(r.Opts.CertDir) {
			return nil
		}
		if err != nil {
			last = err
			r.Log.Error(err, "serving certificate not ready yet")
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("serving certificate: %w", errors.Join(last, ctx.Err()))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func filesPresent(dir string) bool {
	for _, f := range []string{KeyCert, KeyKey} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			return false
		}
	}
	return true
}
