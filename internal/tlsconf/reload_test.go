package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// served is the certificate the server presents on a new handshake.
func served(t *testing.T, srv *Server, client *tls.Config) *x509.Certificate {
	t.Helper()
	r := handshake(t, srv.TLSConfig(), client)
	if err := r.err(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return r.client.PeerCertificates[0]
}

func TestReloadKeystoreFile(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	ksPath := filepath.Join(dir, "server.pem")
	first, second, third := ca.Server(t), ca.Server(t), ca.Server(t)
	first.WriteKeystorePEM(t, ksPath, secret)
	var logs bytes.Buffer
	srv, err := NewServer(props(map[string]string{
		"ssl.keystore.type":     "PEM",
		"ssl.keystore.location": ksPath,
		"ssl.key.password":      secret,
	}), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := trustCA(t, ca)
	if got := served(t, srv, client); !got.Equal(first.Leaf) {
		t.Fatal("not the first certificate")
	}

	// Files are looked at no more than once per interval.
	second.WriteKeystorePEM(t, ksPath, secret)
	srv.mu.Lock()
	srv.interval, srv.lastCheck = time.Hour, time.Now()
	srv.mu.Unlock()
	if got := served(t, srv, client); !got.Equal(first.Leaf) {
		t.Fatal("reloaded before the interval passed")
	}
	srv.mu.Lock()
	srv.interval = 0
	srv.mu.Unlock()
	if got := served(t, srv, client); !got.Equal(second.Leaf) {
		t.Fatal("new handshake did not see the rewritten certificate")
	}

	// A broken file keeps the old certificate and is logged once.
	tlstest.WriteFile(t, ksPath, append(second.EncryptedKeyPEM(t, "other-password"), second.CertPEM...))
	for range 3 {
		if got := served(t, srv, client); !got.Equal(second.Leaf) {
			t.Fatal("a broken keystore replaced the certificate")
		}
	}
	if n := strings.Count(logs.String(), "reloading the keystore/truststore failed"); n != 1 {
		t.Fatalf("%d failure lines, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "-----BEGIN") {
		t.Fatalf("log leaks a secret:\n%s", logs.String())
	}

	third.WriteKeystorePEM(t, ksPath, secret)
	if got := served(t, srv, client); !got.Equal(third.Leaf) {
		t.Fatal("fixed keystore not picked up")
	}

	// After Close the files are no longer read.
	srv.Close()
	first.WriteKeystorePEM(t, ksPath, secret)
	if got := served(t, srv, client); !got.Equal(third.Leaf) {
		t.Fatal("reloaded after Close")
	}
}

func TestReloadPKCS12AndTruststore(t *testing.T) {
	ca, ca2 := tlstest.NewCA(t), tlstest.NewCA(t)
	dir := t.TempDir()
	ksPath, tsPath := filepath.Join(dir, "server.p12"), filepath.Join(dir, "trust.jks")
	cert := ca.Server(t)
	cert.WritePKCS12(t, ksPath, secret)
	ca.WriteTruststoreJKS(t, tsPath, secret)
	srv := newServer(t, map[string]string{
		"ssl.keystore.type":       "PKCS12",
		"ssl.keystore.location":   ksPath,
		"ssl.keystore.password":   secret,
		"ssl.truststore.location": tsPath,
		"ssl.truststore.password": secret,
		"ssl.client.auth":         "required",
	})
	srv.interval = 0
	withCert := func(c tlstest.Cert) *tls.Config {
		cfg := trustCA(t, ca)
		cfg.Certificates = []tls.Certificate{c.TLSCertificate()}
		return cfg
	}
	alice, bob := ca.Client(t, "alice"), ca2.Client(t, "bob")
	if r := handshake(t, srv.TLSConfig(), withCert(alice)); r.err() != nil {
		t.Fatalf("alice: %v", r.err())
	}
	if r := handshake(t, srv.TLSConfig(), withCert(bob)); r.err() == nil {
		t.Fatal("bob's CA trusted before the truststore changed")
	}
	ca2.WriteTruststoreJKS(t, tsPath, secret)
	r := handshake(t, srv.TLSConfig(), withCert(bob))
	if r.err() != nil {
		t.Fatalf("bob after truststore rewrite: %v", r.err())
	}
	if p, _ := srv.Principal(&r.server); p.Name != "CN=bob" {
		t.Fatalf("principal %v", p)
	}
	renewed := ca.Server(t)
	renewed.WritePKCS12(t, ksPath, secret)
	if got := served(t, srv, withCert(bob)); !got.Equal(renewed.Leaf) {
		t.Fatal("PKCS12 keystore not reloaded")
	}
}

func TestExpiredKeystoreCertificateLogged(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert := ca.ExpiredServer(t)
	var logs bytes.Buffer
	srv, err := NewServer(props(pemServer(cert, nil)), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.Contains(logs.String(), "certificate has expired") || !strings.Contains(logs.String(), "CN=127.0.0.1") {
		t.Fatalf("no expiry warning:\n%s", logs.String())
	}
}
