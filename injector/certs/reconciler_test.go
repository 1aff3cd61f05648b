package certs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

const (
	ns         = "procview-system"
	secretName = "procview-injector-tls"
	mwcName    = "procview-injector"
	validity   = 90 * day
)

// clock is a settable clock shared by the replicas of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) logger() logr.Logger {
	return funcr.New(func(p, a string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.b.WriteString(p + " " + a + "\n")
	}, funcr.Options{Verbosity: 1})
}

func (l *logBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// mwc is a webhook configuration with two webhooks and no caBundle, as deploy/ applies it.
func mwc() *admissionregistrationv1.MutatingWebhookConfiguration {
	svc := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "procview-injector", Path: &path}}
	}
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: mwcName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			{Name: "inject.procview.dev", ClientConfig: svc("/inject")},
			{Name: "second.procview.dev", ClientConfig: svc("/inject")},
		},
	}
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	c     client.WithWatch
	clock *clock
	log   *logBuf
}

func newFixture(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) *fixture {
	b := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return &fixture{t: t, ctx: context.Background(), c: b.Build(), clock: &clock{now: t0}, log: &logBuf{}}
}

func (f *fixture) replica(name string) *Reconciler {
	return &Reconciler{
		Client: f.c,
		Opts: Options{Namespace: ns, SecretName: secretName, ServiceName: "procview-injector",
			WebhookConfig: mwcName, CertDir: filepath.Join(f.t.TempDir(), name), Validity: validity},
		Now: f.clock.Now,
		Log: f.log.logger().WithName(name),
	}
}

func (f *fixture) sync(r *Reconciler) reconcile.Result {
	f.t.Helper()
	res, err := r.Reconcile(f.ctx, reconcile.Request{})
	if err != nil {
		f.t.Fatalf("%s: Reconcile: %v\nlog:\n%s", r.Opts.CertDir, err, f.log)
	}
	return res
}

func (f *fixture) secret() *corev1.Secret {
	f.t.Helper()
	var s corev1.Secret
	if err := f.c.Get(f.ctx, client.ObjectKey{Namespace: ns, Name: secretName}, &s); err != nil {
		f.t.Fatalf("get secret: %v", err)
	}
	return &s
}

func (f *fixture) caBundles() [][]byte {
	f.t.Helper()
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if err := f.c.Get(f.ctx, client.ObjectKey{Name: mwcName}, &m); err != nil {
		f.t.Fatalf("get mwc: %v", err)
	}
	var out [][]byte
	for _, w := range m.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out
}

// checkConsistent: the files of each replica are the Secret's pair, every webhook's caBundle is
// the Secret's bundle, and the pair is valid now. It returns the pair.
func (f *fixture) checkConsistent(rs ...*Reconciler) *Parsed {
	f.t.Helper()
	s := f.secret()
	kp := KeyPair{CA: s.Data[KeyCA], Cert: s.Data[KeyCert], Key: s.Data[KeyKey]}
	p, err := Parse(kp, f.clock.Now(), names)
	if err != nil {
		f.t.Fatalf("secret: %v", err)
	}
	for _, r := range rs {
		for key, want := range map[string][]byte{KeyCert: kp.Cert, KeyKey: kp.Key} {
			got, err := os.ReadFile(filepath.Join(r.Opts.CertDir, key))
			if err != nil || !bytes.Equal(got, want) {
				f.t.Errorf("%s/%s is not the secret's (err %v)", r.Opts.CertDir, key, err)
			}
		}
	}
	for i, b := range f.caBundles() {
		if !bytes.Equal(b, Bundle(f.clock.Now(), kp.CA)) {
			f.t.Errorf("webhook %d: caBundle is not the secret's bundle", i)
		}
	}
	return p
}

// trusts tells whether the webhooks' caBundle validates cert (PEM) for the service now.
func (f *fixture) trusts(kp KeyPair) bool {
	f.t.Helper()
	_, err := Parse(KeyPair{CA: f.caBundles()[0], Cert: kp.Cert, Key: kp.Key}, f.clock.Now(), names)
	return err == nil
}

func pairOf(p *Parsed) KeyPair { return p.KeyPair }

func TestSecretAbsentIsCreated(t *testing.T) {
	f := newFixture(t, nil, mwc())
	r := f.replica("a")
	res := f.sync(r)
	p := f.checkConsistent(r)
	if s := f.secret(); s.Type != corev1.SecretTypeTLS {
		t.Errorf("secret type %q, want %q", s.Type, corev1.SecretTypeTLS)
	}
	if want := RotateAt(p.Leaf).Sub(t0); res.RequeueAfter != want {
		t.Errorf("RequeueAfter = %v, want the rotation time %v", res.RequeueAfter, want)
	}
	// A second pass changes nothing.
	before := f.secret().ResourceVersion
	f.sync(r)
	if after := f.secret().ResourceVersion; after != before {
		t.Errorf("second reconcile rewrote the secret (resourceVersion %s -> %s)", before, after)
	}
}

func TestSecretDeletedIsRecreated(t *testing.T) {
	f := newFixture(t, nil, mwc())
	r := f.replica("a")
	f.sync(r)
	old := pairOf(f.checkConsistent(r))
	oldBundle := f.caBundles()[0]

	f.clock.Set(t0.Add(time.Hour))
	if err := f.c.Delete(f.ctx, f.secret()); err != nil {
		t.Fatal(err)
	}
	f.sync(r)
	p := f.checkConsistent(r)
	if bytes.Equal(p.Cert, old.Cert) || bytes.Equal(f.caBundles()[0], oldBundle) {
		t.Fatal("after deleting the secret: same certificate or caBundle, want new ones")
	}
	// The replicas still serving the old certificate stay trusted until they reload.
	if !f.trusts(old) || !f.trusts(p.KeyPair) {
		t.Errorf("caBundle trusts old %v, new %v; want both", f.trusts(old), f.trusts(p.KeyPair))
	}
}

func TestRotationNearExpiry(t *testing.T) {
	f := newFixture(t, nil, mwc())
	r := f.replica("a")
	res := f.sync(r)
	old := f.checkConsistent(r)

	// Just before the rotation time nothing changes.
	f.clock.Set(t0.Add(res.RequeueAfter - time.Minute))
	f.sync(r)
	if p := f.checkConsistent(r); !bytes.Equal(p.Cert, old.Cert) {
		t.Fatal("rotated before the rotation time")
	}
	f.clock.Set(t0.Add(res.RequeueAfter))
	res = f.sync(r)
	p := f.checkConsistent(r)
	if bytes.Equal(p.Cert, old.Cert) {
		t.Fatal("not rotated at the rotation time")
	}
	if len(p.CAs) != 2 || !f.trusts(old.KeyPair) || !f.trusts(p.KeyPair) {
		t.Fatalf("overlap bundle: %d CAs, trusts old %v, new %v; want 2, both", len(p.CAs), f.trusts(old.KeyPair), f.trusts(p.KeyPair))
	}
	// Next wake-up: the old CA's expiry, which drops it from the caBundle.
	if want := old.Leaf.NotAfter.Add(time.Second); !f.clock.Now().Add(res.RequeueAfter).Equal(want) {
		t.Errorf("RequeueAfter %v, want until the old CA expires (%v)", res.RequeueAfter, want)
	}
	f.clock.Set(f.clock.Now().Add(res.RequeueAfter))
	f.sync(r)
	f.checkConsistent(r)
	if f.trusts(old.KeyPair) || !f.trusts(p.KeyPair) {
		t.Errorf("after the old CA expired: trusts old %v, new %v; want only the new", f.trusts(old.KeyPair), f.trusts(p.KeyPair))
	}
	if n := len(pemCerts(t, f.caBundles()[0])); n != 1 {
		t.Errorf("caBundle has %d certificates, want 1", n)
	}
}

// TestReplicasRace: two replicas find the secret absent at once; one creation wins, the other
// gets AlreadyExists and both end up with the winner's pair. The same for a rotation (Conflict).
func TestReplicasRace(t *testing.T) {
	var a, b *Reconciler
	var f *fixture
	raced := map[string]bool{}
	funcs := &interceptor.Funcs{
		// When replica a writes the secret, replica b gets there first.
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.Secret); ok && ctx.Value(replicaKey{}) == "a" && !raced["create"] {
				raced["create"] = true
				f.sync(b)
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if _, ok := obj.(*corev1.Secret); ok && ctx.Value(replicaKey{}) == "a" && !raced["update"] {
				raced["update"] = true
				f.sync(b)
			}
			return c.Update(ctx, obj, opts...)
		},
	}
	f = newFixture(t, funcs, mwc())
	a, b = f.replica("a"), f.replica("b")
	ctxA := context.WithValue(f.ctx, replicaKey{}, "a")

	resA, err := a.Reconcile(ctxA, reconcile.Request{})
	if err != nil {
		t.Fatalf("a: %v", err)
	}
	if !raced["create"] || resA.RequeueAfter != retryAfter {
		t.Fatalf("a lost the creation race: raced %v, RequeueAfter %v, want %v", raced["create"], resA.RequeueAfter, retryAfter)
	}
	if _, err := a.Reconcile(ctxA, reconcile.Request{}); err != nil {
		t.Fatalf("a again: %v", err)
	}
	first := f.checkConsistent(a, b)
	var list corev1.SecretList
	if err := f.c.List(f.ctx, &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("secrets: %d (err %v), want 1", len(list.Items), err)
	}

	f.clock.Set(RotateAt(first.Leaf))
	resA, err = a.Reconcile(ctxA, reconcile.Request{})
	if err != nil {
		t.Fatalf("a rotating: %v", err)
	}
	if !raced["update"] || resA.RequeueAfter != retryAfter {
		t.Fatalf("a lost the rotation race: raced %v, RequeueAfter %v, want %v", raced["update"], resA.RequeueAfter, retryAfter)
	}
	if _, err := a.Reconcile(ctxA, reconcile.Request{}); err != nil {
		t.Fatalf("a again: %v", err)
	}
	second := f.checkConsistent(a, b)
	if bytes.Equal(second.Cert, first.Cert) {
		t.Error("not rotated")
	}
	if !f.trusts(first.KeyPair) {
		t.Error("the pre-rotation certificate is not trusted during the overlap")
	}
}

type replicaKey struct{}

func TestMalformedSecretIsReplaced(t *testing.T) {
	good, err := Generate(t0, validity, names)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := Generate(t0.Add(-2*validity), validity, names)
	if err != nil {
		t.Fatal(err)
	}
	wrongNames, err := Generate(t0, validity, DNSNames("elsewhere", ns))
	if err != nil {
		t.Fatal(err)
	}
	other, err := Generate(t0, validity, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data map[string][]byte
		want string // in the log
	}{
		{"no data", nil, "ca.crt is missing"},
		{"garbage", map[string][]byte{KeyCA: []byte("x"), KeyCert: []byte("y"), KeyKey: []byte("z")}, "tls.crt/tls.key"},
		{"mismatched key", map[string][]byte{KeyCA: good.CA, KeyCert: good.Cert, KeyKey: other.Key}, "private key does not match"},
		{"expired", expired.Data(), "expired"},
		{"wrong names", wrongNames.Data(), "procview-injector"},
		{"missing key", map[string][]byte{KeyCA: good.CA, KeyCert: good.Cert}, "tls.key is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName}, Data: tc.data}
			f := newFixture(t, nil, mwc(), sec)
			r := f.replica("a")
			f.sync(r)
			f.checkConsistent(r)
			log := f.log.String()
			if !strings.Contains(log, "does not hold a usable serving certificate") || !strings.Contains(log, tc.want) {
				t.Errorf("log does not explain the replacement (want %q):\n%s", tc.want, log)
			}
		})
	}
}

// TestWebhookConfigurationLater: without the configuration the files are still written; once it
// exists (or is re-applied without a caBundle) the next reconcile sets it.
func TestWebhookConfigurationLater(t *testing.T) {
	f := newFixture(t, nil)
	r := f.replica("a")
	res := f.sync(r)
	if res.RequeueAfter > time.Minute {
		t.Errorf("RequeueAfter = %v without a webhook configuration, want at most 1m", res.RequeueAfter)
	}
	if !filesPresent(r.Opts.CertDir) {
		t.Fatal("cert files not written")
	}
	if err := f.c.Create(f.ctx, mwc()); err != nil {
		t.Fatal(err)
	}
	f.sync(r)
	f.checkConsistent(r)
	// Re-applied from deploy/ (no caBundle): set again.
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if err := f.c.Get(f.ctx, client.ObjectKey{Name: mwcName}, &m); err != nil {
		t.Fatal(err)
	}
	m.Webhooks[1].ClientConfig.CABundle = nil
	if err := f.c.Update(f.ctx, &m); err != nil {
		t.Fatal(err)
	}
	f.sync(r)
	f.checkConsistent(r)
}

func TestBootstrap(t *testing.T) {
	failures := 2
	funcs := &interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok && failures > 0 {
				failures--
				return apierrors.NewServiceUnavailable("apiserver starting")
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}
	f := newFixture(t, funcs, mwc())
	r := f.replica("a")
	if err := r.Bootstrap(f.ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	f.checkConsistent(r)

	failures = 1 << 30
	r2 := f.replica("b")
	err := r2.Bootstrap(f.ctx, time.Second)
	if err == nil || !strings.Contains(err.Error(), "apiserver starting") {
		t.Errorf("Bootstrap with the API unavailable: err = %v, want the last error", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	f := newFixture(t, nil)
	good := f.replica("a").Opts
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Options){
		"no namespace":  func(o *Options) { o.Namespace = "" },
		"no secret":     func(o *Options) { o.SecretName = "" },
		"no cert dir":   func(o *Options) { o.CertDir = "" },
		"tiny validity": func(o *Options) { o.Validity = time.Second },
	} {
		o := good
		mutate(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: Validate = nil, want an error", name)
		}
	}
}

func TestMetrics(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, nil, mwc())
	r := f.replica("a")
	r.Metrics = m
	issued := func() map[string]float64 {
		out := map[string]float64{}
		for _, reason := range []string{IssuedCreated, IssuedRotated, IssuedReplaced} {
			out[reason] = value(t, m.Issued.WithLabelValues(reason))
		}
		return out
	}
	check := func(what string, want map[string]float64) {
		t.Helper()
		if diff := cmp.Diff(want, issued()); diff != "" {
			t.Errorf("%s: issued (-want +got):\n%s", what, diff)
		}
		p := f.checkConsistent(r)
		if got, want := value(t, m.NotAfter), float64(p.Leaf.NotAfter.Unix()); got != want {
			t.Errorf("%s: expiry gauge %v, want %v", what, got, want)
		}
	}
	if got := issued(); got[IssuedCreated] != 0 || len(got) != 3 {
		t.Fatalf("before: %v", got)
	}
	res := f.sync(r)
	check("created", map[string]float64{IssuedCreated: 1, IssuedRotated: 0, IssuedReplaced: 0})
	f.sync(r)
	check("unchanged", map[string]float64{IssuedCreated: 1, IssuedRotated: 0, IssuedReplaced: 0})
	f.clock.Set(t0.Add(res.RequeueAfter))
	f.sync(r)
	check("rotated", map[string]float64{IssuedCreated: 1, IssuedRotated: 1, IssuedReplaced: 0})
	s := f.secret()
	s.Data[KeyKey] = []byte("junk")
	if err := f.c.Update(f.ctx, s); err != nil {
		t.Fatal(err)
	}
	f.sync(r)
	check("replaced", map[string]float64{IssuedCreated: 1, IssuedRotated: 1, IssuedReplaced: 1})
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(reg) // a second server in one process shares the collectors
	if err != nil {
		t.Fatal(err)
	}
	b.Issued.WithLabelValues(IssuedCreated).Inc()
	if got := value(t, a.Issued.WithLabelValues(IssuedCreated)); got != 1 {
		t.Errorf("shared counter = %v, want 1", got)
	}
}

// value reads a counter's or a gauge's value.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
