package node_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// tlsNode is a broker with a PLAINTEXT and an SSL listener requiring client
// certificates from ca, and its logs.
type tlsNode struct {
	b    *tandemtest.Broker
	logs *tandemtest.Logs
	ca   *tlstest.CA
}

func startTLSNode(t *testing.T) *tlsNode {
	t.Helper()
	ca := tlstest.NewCA(t)
	b, logs := tandemtest.StartLogged(t, append(tandemtest.TLS(t, ca, "required"),
		tandemtest.Config("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"))...)
	return &tlsNode{b: b, logs: logs, ca: ca}
}

// clientTLS is a client config trusting tn's CA and presenting cert.
func (tn *tlsNode) clientTLS(certs ...tlstest.Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: tn.ca.Pool(), ServerName: "127.0.0.1"}
	for _, c := range certs {
		cfg.Certificates = append(cfg.Certificates, c.TLSCertificate())
	}
	return cfg
}

// A broker with a PLAINTEXT and an SSL listener (ssl.client.auth=required):
// franz-go on each produces and consumes in a group and is only ever given
// its own listener's address; every address-bearing answer on the SSL
// listener is the SSL listener's.
func TestSSLAndPlaintextListeners(t *testing.T) {
	tn := startTLSNode(t)
	plain, ssl := tn.b.ListenerAddr("PLAINTEXT"), tn.b.ListenerAddr("SSL")
	if plain == ssl || ssl == "" {
		t.Fatalf("listeners %s and %s", plain, ssl)
	}
	client := tn.clientTLS(tn.ca.Client(t, "alice"))
	// A client that connects and says nothing holds up no one: the
	// handshake runs on its connection's goroutine, not the accept loop.
	silent, err := net.Dial("tcp", ssl)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	var plainLog, sslLog connectLog
	produceConsume(t, "over-plaintext", kgo.SeedBrokers(plain), kgo.WithHooks(&plainLog))
	produceConsume(t, "over-ssl", kgo.SeedBrokers(ssl), kgo.DialTLSConfig(client), kgo.WithHooks(&sslLog))
	for a := range plainLog.addrs {
		if a != plain {
			t.Errorf("PLAINTEXT client connected to %s", a)
		}
	}
	for a := range sslLog.addrs {
		if a != ssl {
			t.Errorf("SSL client connected to %s", a)
		}
	}

	nc, err := tls.Dial("tcp", ssl, client)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, got := range endpointsSeen(t, nc) {
		if got != ssl {
			t.Errorf("SSL listener handed out %s, want only %s", got, ssl)
		}
	}
}

// tlsRefused dials addr with cfg and returns the error the client sees: at
// the handshake, or (TLS 1.3, where the server checks the client's
// certificate after the client's handshake is done) at the first read.
func tlsRefused(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(rawFormatter.AppendRequest(nil, apiVersionsRequest(), 1)); err != nil {
		return err
	}
	var b [1]byte
	_, err = nc.Read(b[:])
	return err
}

// Untrusted, expired and missing client certificates fail the handshake:
// the client sees a TLS alert, the broker logs one line per refusal and
// keeps serving.
func TestSSLListenerRefusesBadClientCertificates(t *testing.T) {
	tn := startTLSNode(t)
	ssl := tn.b.ListenerAddr("SSL")
	other := tlstest.NewCA(t)
	cases := []struct {
		name string
		cfg  *tls.Config
		want string // in the client's error
	}{
		{"untrusted CA", tn.clientTLS(other.Client(t, "mallory")), "tls:"},
		{"expired", tn.clientTLS(tn.ca.ExpiredClient(t, "bob")), "tls:"},
		{"no certificate", tn.clientTLS(), "tls:"},
		{"TLS 1.2 untrusted", func() *tls.Config {
			c := tn.clientTLS(other.Client(t, "mallory"))
			c.MaxVersion = tls.VersionTLS12
			return c
		}(), "tls:"},
	}
	for i, c := range cases {
		err := tlsRefused(t, ssl, c.cfg)
		t.Logf("%s: client saw %v", c.name, err)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: client saw %v, want a TLS alert", c.name, err)
		}
		waitFor(t, func() bool { return len(tn.logs.Lines("TLS handshake failed")) == i+1 })
	}
	// franz-go reports the refusal as an error, not a hang.
	cl, err := kgo.NewClient(kgo.SeedBrokers(ssl), kgo.DialTLSConfig(tn.clientTLS(other.Client(t, "mallory"))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err == nil {
		t.Error("franz-go with an untrusted certificate pinged the broker")
	} else {
		t.Logf("franz-go saw %v", err)
	}
	cl.Close()
	// A plaintext client on the SSL listener is refused the same way.
	nc, err := net.Dial("tcp", ssl)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = nc.Write(rawFormatter.AppendRequest(nil, apiVersionsRequest(), 1))
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [64]byte
	if n, err := nc.Read(b[:]); err == nil && n > 0 && b[0] != 0x15 { // 0x15: a TLS alert record
		t.Errorf("plaintext request on the SSL listener got %x", b[:n])
	}
	nc.Close()

	t.Logf("broker log:\n%s", strings.Join(tn.logs.Lines("TLS handshake failed"), "\n"))
	// Still healthy on both listeners.
	produceConsume(t, "after-refusals", kgo.SeedBrokers(ssl), kgo.DialTLSConfig(tn.clientTLS(tn.ca.Client(t, "alice"))))
	produceConsume(t, "after-refusals-plain", kgo.SeedBrokers(tn.b.ListenerAddr("PLAINTEXT")))
}

// A TLS listener whose keystore cannot be loaded stops the start with an
// error naming the listener.
func TestSSLListenerBadKeystoreFailsStart(t *testing.T) {
	props := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0,EXTERNAL://127.0.0.1:0", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,EXTERNAL:SSL",
		"http.listeners": "", "log.dirs": t.TempDir(),
		"ssl.keystore.type": "PEM", "ssl.keystore.location": filepath.Join(t.TempDir(), "missing.pem"),
	}
	n, err := node.Start(props, nil)
	if err == nil {
		_ = n.Shutdown(context.Background())
		t.Fatal("started with a missing keystore")
	}
	if !strings.Contains(err.Error(), "listener EXTERNAL (SSL)") {
		t.Errorf("error = %v, want it to name the listener", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Error("condition not met in 10s")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Per-listener TLS settings (listener.name.<name>.ssl.*) win over the
// broker-wide ones: two SSL listeners, one with a PKCS12 keystore and a JKS
// truststore (with passwords) of its own, the other with the broker-wide
// PEM files and no client certificates. Each serves its own certificate.
func TestSSLListenerOverrides(t *testing.T) {
	caA, caB := tlstest.NewCA(t), tlstest.NewCA(t)
	dir := t.TempDir()
	b := tandemtest.Start(t, append(tandemtest.TLS(t, caA, "none"),
		tandemtest.Config("listeners", "SSL://127.0.0.1:0,PARTNER://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "SSL:SSL,PARTNER:SSL"),
		tandemtest.Config("listener.name.partner.ssl.keystore.type", "PKCS12"),
		tandemtest.Config("listener.name.partner.ssl.keystore.location", caB.Server(t).WritePKCS12(t, filepath.Join(dir, "p.p12"), "ks-secret")),
		tandemtest.Config("listener.name.partner.ssl.keystore.password", "ks-secret"),
		tandemtest.Config("listener.name.partner.ssl.truststore.type", "JKS"),
		tandemtest.Config("listener.name.partner.ssl.truststore.location", caB.WriteTruststoreJKS(t, filepath.Join(dir, "t.jks"), "ts-secret")),
		tandemtest.Config("listener.name.partner.ssl.truststore.password", "ts-secret"),
		tandemtest.Config("listener.name.partner.ssl.client.auth", "required"))...)

	// SSL: caA's certificate, no client certificate needed.
	produceConsume(t, "over-ssl", kgo.SeedBrokers(b.ListenerAddr("SSL")), kgo.DialTLSConfig(&tls.Config{RootCAs: caA.Pool()}))
	// PARTNER: caB's certificate, a client certificate from caB required.
	partner := b.ListenerAddr("PARTNER")
	produceConsume(t, "over-partner", kgo.SeedBrokers(partner),
		kgo.DialTLSConfig(&tls.Config{RootCAs: caB.Pool(), Certificates: []tls.Certificate{caB.Client(t, "partner").TLSCertificate()}}))
	if err := tlsRefused(t, partner, &tls.Config{RootCAs: caA.Pool()}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("PARTNER with caA's trust: %v, want a certificate error (it serves caB's certificate)", err)
	}
	if err := tlsRefused(t, partner, &tls.Config{RootCAs: caB.Pool()}); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("PARTNER without a client certificate: %v, want certificate required", err)
	}
}

// On an SSL listener the client certificate is the connection's principal,
// mapped with ssl.principal.mapping.rules (the rule security.md shows):
// CN=alice,OU=apps,O=Example is User:alice, a super user, and may
// produce; User:bob and a client without a certificate (ssl.client.auth=
// requested: User:ANONYMOUS) are refused by the authorizer.
func TestSSLPrincipalFromCertificate(t *testing.T) {
	ca := tlstest.NewCA(t)
	b := tandemtest.Start(t, append(tandemtest.TLS(t, ca, "requested"),
		tandemtest.Config("listeners", "SSL://127.0.0.1:0"),
		tandemtest.Config("ssl.principal.mapping.rules", "RULE:^CN=([^,]*),.*$/$1/,DEFAULT"),
		tandemtest.Config("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		tandemtest.Config("super.users", "User:alice"))...)
	subject := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, OrganizationalUnit: []string{"apps"}, Organization: []string{"Example"}}
	}
	produce := func(certs ...tls.Certificate) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("SSL")), kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: certs}),
			kgo.DefaultProduceTopic("owned"), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if err := produce(ca.ClientSubject(t, subject("alice")).TLSCertificate()); err != nil {
		t.Fatalf("User:alice (super user) could not produce: %v", err)
	}
	if err := produce(ca.ClientSubject(t, subject("bob")).TLSCertificate()); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("User:bob produced: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := produce(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("User:ANONYMOUS produced: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// A client that opens a connection to an SSL listener and never completes
// the handshake is closed after connections.authentication.timeout.ms
// (set for this listener); successes and failures of TLS client
// authentication are counted in tandem_authentication_total.
func TestSSLHandshakeTimeoutAndMetrics(t *testing.T) {
	ca := tlstest.NewCA(t)
	b := tandemtest.Start(t, append(tandemtest.TLS(t, ca, "required"),
		tandemtest.Config("listeners", "SSL://127.0.0.1:0"),
		tandemtest.Config("listener.name.ssl.connections.authentication.timeout.ms", "200"))...)
	addr := b.ListenerAddr("SSL")
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := silent.Read(make([]byte, 1)); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("silent client: read %v after %v, want the broker to close it after 200ms", err, time.Since(start))
	}

	good := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.Client(t, "alice").TLSCertificate()}}
	// Once the handshake authenticated the client, the timeout is over:
	// a request sent later than it is answered.
	idle, err := tls.Dial("tcp", addr, good)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(400 * time.Millisecond) // twice the authentication timeout
	rawRequest(t, idle, apiVersionsRequest())
	produceConsume(t, "counted", kgo.SeedBrokers(addr), kgo.DialTLSConfig(good))
	if err := tlsRefused(t, addr, &tls.Config{RootCAs: ca.Pool()}); err == nil {
		t.Error("a client without a certificate was served")
	}
	waitFor(t, func() bool {
		m := tandemtest.Get(t, "http://"+b.HTTPAddr()+"/metrics")
		return strings.Contains(m, `tandem_authentication_total{listener="SSL",mechanism="SSL",result="failure"} 1`) &&
			strings.Contains(m, `tandem_authentication_total{listener="SSL",mechanism="SSL",result="success"}`)
	})
}

// A renewed certificate written over the keystore file is served to new
// connections without a restart (tlsconf re-reads changed store files).
func TestSSLListenerCertificateRenewal(t *testing.T) {
	caA, caB := tlstest.NewCA(t), tlstest.NewCA(t)
	keystore := filepath.Join(t.TempDir(), "broker.pem")
	caA.Server(t).WriteKeystorePEM(t, keystore, "")
	b := tandemtest.Start(t,
		tandemtest.Config("listeners", "SSL://127.0.0.1:0"),
		tandemtest.Config("ssl.keystore.type", "PEM"),
		tandemtest.Config("ssl.keystore.location", keystore))
	addr := b.ListenerAddr("SSL")
	served := func(ca *tlstest.CA) bool {
		nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.Pool()})
		if err != nil {
			return false
		}
		nc.Close()
		return true
	}
	if !served(caA) {
		t.Fatal("the first certificate is not served")
	}
	caB.Server(t).WriteKeystorePEM(t, keystore, "")
	waitFor(t, func() bool { return served(caB) })
	produceConsume(t, "renewed", kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: caB.Pool()}))
}
