// Package certs gives the injector a serving certificate with no manual steps: a self-signed CA
// and a serving certificate for the webhook Service's DNS names, kept in one Secret that every
// replica shares, rotated before expiry, written to the webhook server's certificate directory
// and published as the caBundle of the MutatingWebhookConfiguration.
//
// This file holds the pure parts (generate, parse, check, bundle, timing); reconciler.go applies
// them to the cluster.
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Keys of the Secret's data (the layout of a kubernetes.io/tls Secret plus the CA bundle).
const (
	KeyCA   = "ca.crt"  // PEM: the CA that signed tls.crt, then older CAs still trusted (rotation overlap)
	KeyCert = "tls.crt" // PEM: the serving certificate
	KeyKey  = "tls.key" // PEM: its private key
)

// RotateFraction: a certificate is replaced once less than this part of its lifetime remains.
const RotateFraction = 3 // 1/3

// MaxCAs bounds the CA bundle: the new CA and at most MaxCAs-1 earlier ones still valid (a
// Secret deleted again and again must not grow the webhook configuration without end).
const MaxCAs = 4

// clockSkew backdates NotBefore so a peer whose clock is a little behind accepts a fresh certificate.
const clockSkew = 5 * time.Minute

// DNSNames are the names a Service is reached by inside the cluster.
func DNSNames(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// KeyPair is the Secret's content: the serving certificate, its key and the CA bundle.
type KeyPair struct {
	CA   []byte // PEM bundle, the signing CA first
	Cert []byte // PEM
	Key  []byte // PEM
}

// Data is the Secret data holding kp.
func (kp KeyPair) Data() map[string][]byte {
	return map[string][]byte{KeyCA: kp.CA, KeyCert: kp.Cert, KeyKey: kp.Key}
}

// Generate creates a new CA and a serving certificate for dnsNames signed by it, both valid from
// now (minus a little clock skew) for validity. The CA's private key is not kept: the next
// rotation creates a new CA. The CA bundle is the new CA followed by the CA certificates of
// previous (PEM bundles, newest first) that are still valid at now, MaxCAs in all, so servers
// still presenting a certificate of an older CA keep being trusted until they reload.
func Generate(now time.Time, validity time.Duration, dnsNames []string, previous ...[]byte) (KeyPair, error) {
	if validity <= 2*clockSkew {
		return KeyPair{}, fmt.Errorf("certificate validity %v is too short (want more than %v)", validity, 2*clockSkew)
	}
	if len(dnsNames) == 0 {
		return KeyPair{}, errors.New("no DNS names for the serving certificate")
	}
	notBefore, notAfter := now.Add(-clockSkew), now.Add(validity)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("procview-injector-ca@%d", now.Unix())},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return KeyPair{}, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("create serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("marshal serving key: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return KeyPair{
		CA:   firstCerts(Bundle(now, append([][]byte{caPEM}, previous...)...), MaxCAs),
		Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil { // crypto/rand does not fail on Linux; a fixed serial is still a valid certificate
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// Bundle concatenates the CA certificates of the PEM bundles, in order, leaving out those that
// are not CAs, are expired or not yet valid at now, do not parse, or repeat an earlier one.
func Bundle(now time.Time, bundles ...[]byte) []byte {
	var out bytes.Buffer
	seen := map[string]bool{}
	for _, b := range bundles {
		for _, c := range parseCerts(b) {
			if !c.IsCA || now.Before(c.NotBefore) || now.After(c.NotAfter) || seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	}
	return out.Bytes()
}

// firstCerts keeps the first n PEM blocks of b.
func firstCerts(b []byte, n int) []byte {
	rest := b
	for i := 0; i < n; i++ {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			return b
		}
	}
	return b[:len(b)-len(rest)]
}

// parseCerts returns the certificates of a PEM bundle that parse (other blocks are skipped).
func parseCerts(b []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

// Parsed is a checked KeyPair.
type Parsed struct {
	KeyPair
	Leaf *x509.Certificate // the serving certificate
	CAs  []*x509.Certificate
}

// Parse checks that kp is usable at now for dnsNames: the key matches the certificate, the
// certificate is valid now, covers every name and chains to a CA of the bundle.
func Parse(kp KeyPair, now time.Time, dnsNames []string) (*Parsed, error) {
	for _, f := range []struct {
		key  string
		data []byte
	}{{KeyCA, kp.CA}, {KeyCert, kp.Cert}, {KeyKey, kp.Key}} {
		if len(f.data) == 0 {
			return nil, fmt.Errorf("%s is missing or empty", f.key)
		}
	}
	pair, err := tls.X509KeyPair(kp.Cert, kp.Key)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", KeyCert, KeyKey, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyCert, err)
	}
	cas := parseCerts(kp.CA)
	if len(cas) == 0 {
		return nil, fmt.Errorf("%s: no certificate", KeyCA)
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	for _, n := range dnsNames {
		if _, err := leaf.Verify(x509.VerifyOptions{
			DNSName: n, Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return nil, fmt.Errorf("%s for %s: %w", KeyCert, n, err)
		}
	}
	return &Parsed{KeyPair: kp, Leaf: leaf, CAs: cas}, nil
}

// RotateAt is when a certificate should be replaced: once less than 1/RotateFraction of its
// lifetime remains.
func RotateAt(c *x509.Certificate) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotAfter.Add(-life / RotateFraction)
}

// NeedsRotation tells whether the serving certificate is due for replacement at now.
func NeedsRotation(c *x509.Certificate, now time.Time) bool {
	return !now.Before(RotateAt(c))
}

// NextCheck is the next time the key pair's state changes by itself: the serving certificate's
// rotation time, or the expiry of a CA in the bundle (after which it leaves the caBundle).
func NextCheck(p *Parsed, now time.Time) time.Time {
	next := RotateAt(p.Leaf)
	for _, c := range p.CAs {
		if exp := c.NotAfter.Add(time.Second); exp.After(now) && exp.Before(next) {
			next = exp
		}
	}
	return next
}
