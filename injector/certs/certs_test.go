package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	names = DNSNames("procview-injector", "procview-system")
)

const day = 24 * time.Hour

func mustGenerate(t *testing.T, now time.Time, validity time.Duration, previous ...[]byte) KeyPair {
	t.Helper()
	kp, err := Generate(now, validity, names, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func mustParse(t *testing.T, kp KeyPair, now time.Time) *Parsed {
	t.Helper()
	p, err := Parse(kp, now, names)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDNSNames(t *testing.T) {
	want := []string{"svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.local"}
	if diff := cmp.Diff(want, DNSNames("svc", "ns")); diff != "" {
		t.Error(diff)
	}
}

func TestGenerate(t *testing.T) {
	kp := mustGenerate(t, t0, 90*day)
	p := mustParse(t, kp, t0)
	if diff := cmp.Diff(names, p.Leaf.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	if got, want := p.Leaf.NotAfter, t0.Add(90*day); !got.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", got, want)
	}
	if got := p.Leaf.NotBefore; !got.Before(t0) {
		t.Errorf("NotBefore = %v, want before %v (clock skew)", got, t0)
	}
	if len(p.CAs) != 1 || !p.CAs[0].IsCA || !p.CAs[0].NotAfter.Equal(p.Leaf.NotAfter) {
		t.Fatalf("CA bundle: want one CA expiring with the leaf, got %d certs", len(p.CAs))
	}
	if p.Leaf.IsCA || len(p.Leaf.ExtKeyUsage) != 1 || p.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("leaf: IsCA %v ExtKeyUsage %v, want a serverAuth end-entity certificate", p.Leaf.IsCA, p.Leaf.ExtKeyUsage)
	}
	// A fresh pair each time: new CA, new key.
	kp2 := mustGenerate(t, t0, 90*day)
	if bytes.Equal(kp.CA, kp2.CA) || bytes.Equal(kp.Key, kp2.Key) {
		t.Error("two Generate calls returned the same CA or key")
	}
	// Not valid before its time (minus skew) or after it.
	if _, err := Parse(kp, t0.Add(-time.Hour), names); err == nil {
		t.Error("Parse an hour before NotBefore: want an error")
	}
	if _, err := Parse(kp, t0.Add(91*day), names); err == nil {
		t.Error("Parse after NotAfter: want an error")
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(t0, time.Minute, names); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("validity 1m: err = %v, want too short", err)
	}
	if _, err := Generate(t0, day, nil); err == nil {
		t.Error("no DNS names: want an error")
	}
}

func TestParseRejects(t *testing.T) {
	good := mustGenerate(t, t0, 90*day)
	other := mustGenerate(t, t0, 90*day)
	otherNames, err := Generate(t0, 90*day, DNSNames("other", "procview-system"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kp   KeyPair
		want string
	}{
		{"empty", KeyPair{}, "missing or empty"},
		{"no key", KeyPair{CA: good.CA, Cert: good.Cert}, "tls.key is missing"},
		{"garbage cert", KeyPair{CA: good.CA, Cert: []byte("not PEM"), Key: good.Key}, "tls.crt/tls.key"},
		{"key of another cert", KeyPair{CA: good.CA, Cert: good.Cert, Key: other.Key}, "tls.crt/tls.key"},
		{"garbage CA", KeyPair{CA: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), Cert: good.Cert, Key: good.Key}, "ca.crt: no certificate"},
		{"wrong CA", KeyPair{CA: other.CA, Cert: good.Cert, Key: good.Key}, "unknown authority"},
		{"other service's names", otherNames, "procview-injector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.kp, t0, names)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRotationTiming(t *testing.T) {
	for _, validity := range []time.Duration{time.Hour, 90 * day, 365 * day} {
		p := mustParse(t, mustGenerate(t, t0, validity), t0)
		life := validity + clockSkew // NotBefore is backdated by the skew
		rotateAt := t0.Add(validity - life/3)
		if got := RotateAt(p.Leaf); !got.Equal(rotateAt) {
			t.Errorf("validity %v: RotateAt = %v, want %v", validity, got, rotateAt)
		}
		for _, tc := range []struct {
			at   time.Time
			want bool
		}{
			{t0, false},
			{t0.Add(validity / 2), false},
			{rotateAt.Add(-time.Second), false},
			{rotateAt, true},
			{t0.Add(validity - time.Second), true},
			{t0.Add(2 * validity), true},
		} {
			if got := NeedsRotation(p.Leaf, tc.at); got != tc.want {
				t.Errorf("validity %v: NeedsRotation at t0+%v = %v, want %v", validity, tc.at.Sub(t0), got, tc.want)
			}
		}
	}
}

// pemCerts returns the DER of each certificate in a PEM bundle.
func pemCerts(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		out = append(out, blk.Bytes)
	}
}

func TestBundle(t *testing.T) {
	old := mustGenerate(t, t0, 30*day)             // expires t0+30d
	cur := mustGenerate(t, t0.Add(20*day), 30*day) // valid t0+20d .. t0+50d
	leafOnly := old.Cert                           // not a CA
	caOf := func(kp KeyPair) []byte { return pemCerts(t, kp.CA)[0] }
	for _, tc := range []struct {
		name    string
		now     time.Time
		bundles [][]byte
		want    [][]byte
	}{
		{"order kept", t0.Add(25 * day), [][]byte{cur.CA, old.CA}, [][]byte{caOf(cur), caOf(old)}},
		{"duplicates dropped", t0.Add(25 * day), [][]byte{cur.CA, old.CA, cur.CA, append(append([]byte{}, old.CA...), cur.CA...)}, [][]byte{caOf(cur), caOf(old)}},
		{"expired dropped", t0.Add(31 * day), [][]byte{cur.CA, old.CA}, [][]byte{caOf(cur)}},
		{"not yet valid dropped", t0.Add(10 * day), [][]byte{cur.CA, old.CA}, [][]byte{caOf(old)}},
		{"non-CA and garbage dropped", t0.Add(25 * day), [][]byte{leafOnly, []byte("junk"), nil, cur.Key, cur.CA}, [][]byte{caOf(cur)}},
		{"nothing", t0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pemCerts(t, Bundle(tc.now, tc.bundles...))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Bundle (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRotationOverlap: after a rotation the bundle trusts both the new and the old serving
// certificate, until the old CA expires.
func TestRotationOverlap(t *testing.T) {
	old := mustGenerate(t, t0, 90*day)
	pOld := mustParse(t, old, t0)
	now := RotateAt(pOld.Leaf)
	nkp := mustGenerate(t, now, 90*day, old.CA)
	pNew := mustParse(t, nkp, now)
	if len(pNew.CAs) != 2 {
		t.Fatalf("bundle after rotation has %d CAs, want 2 (new, old)", len(pNew.CAs))
	}
	if bytes.Equal(pNew.CAs[0].Raw, pOld.CAs[0].Raw) || !bytes.Equal(pNew.CAs[1].Raw, pOld.CAs[0].Raw) {
		t.Error("bundle after rotation: want the new CA first, then the old one")
	}
	// The old serving certificate verifies against the new bundle.
	if _, err := Parse(KeyPair{CA: nkp.CA, Cert: old.Cert, Key: old.Key}, now, names); err != nil {
		t.Errorf("old certificate against the overlap bundle: %v", err)
	}
	// The next state change is the old CA's expiry, which drops it from the bundle.
	next := NextCheck(pNew, now)
	if want := pOld.Leaf.NotAfter.Add(time.Second); !next.Equal(want) {
		t.Errorf("NextCheck = %v, want the old CA's expiry %v", next, want)
	}
	if got := pemCerts(t, Bundle(next, nkp.CA)); len(got) != 1 {
		t.Errorf("bundle after the old CA expired has %d CAs, want 1", len(got))
	}
	// With only one CA, the next check is the rotation.
	pOnly := mustParse(t, KeyPair{CA: Bundle(next, nkp.CA), Cert: nkp.Cert, Key: nkp.Key}, next)
	if got, want := NextCheck(pOnly, next), RotateAt(pNew.Leaf); !got.Equal(want) {
		t.Errorf("NextCheck = %v, want RotateAt %v", got, want)
	}
}

// TestBundleBounded: however many earlier CAs are still valid, a new pair carries MaxCAs-1 of
// them, the newest first.
func TestBundleBounded(t *testing.T) {
	var previous []byte
	var cas [][]byte // newest first
	for i := 0; i < MaxCAs+3; i++ {
		kp := mustGenerate(t, t0, 90*day)
		previous = append(append([]byte{}, kp.CA...), previous...)
		cas = append([][]byte{pemCerts(t, kp.CA)[0]}, cas...)
	}
	kp := mustGenerate(t, t0, 90*day, previous)
	got := pemCerts(t, kp.CA)
	if len(got) != MaxCAs {
		t.Fatalf("bundle has %d CAs, want %d", len(got), MaxCAs)
	}
	if diff := cmp.Diff(cas[:MaxCAs-1], got[1:]); diff != "" {
		t.Errorf("carried-over CAs (-want +got):\n%s", diff)
	}
	if _, err := Parse(kp, t0, names); err != nil {
		t.Errorf("bounded bundle: %v", err)
	}
}
