package mirror_test

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// TestMirrorFromTandemOverMutualTLS mirrors, byte for byte, from a Tandem
// source whose only listener is SSL with ssl.client.auth=required: the
// link trusts the source's CA inline and presents its own certificate
// inline (ssl.keystore.type=PEM).
func TestMirrorFromTandemOverMutualTLS(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	src := tandemtest.Start(t, tandemtest.Config("listeners", "SSL://127.0.0.1:0"),
		tandemtest.Config("ssl.keystore.type", "PEM"),
		tandemtest.Config("ssl.keystore.location", ca.Server(t).WriteKeystorePEM(t, filepath.Join(dir, "server.pem"), "")),
		tandemtest.Config("ssl.truststore.type", "PEM"),
		tandemtest.Config("ssl.truststore.location", ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem"))),
		tandemtest.Config("ssl.client.auth", "required"))
	scl := newClient(t, src.Addr(), kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(),
		Certificates: []tls.Certificate{ca.Client(t, "producer").TLSCertificate()}}))
	createTopics(t, scl, 3, "orders")
	produceN(t, scl, "orders", 300)

	dst := tandemtest.Start(t, tandemtest.Config("password.encoder.secret", "broker-secret"))
	c := ca.Client(t, "link")
	mirrorOrders(t, dst, "tls", map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100",
		"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM),
		"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": string(c.CertPEM), "ssl.keystore.key": string(c.KeyPEM)}, scl)
}

// TestMirrorFromTandemSASLSSLSCRAM is issue #10's "a mirror from a
// SASL_SSL + SCRAM Tandem source", byte for byte: the source's EXTERNAL
// listener is SASL_SSL with SCRAM-SHA-512 only, its user made with
// AlterUserScramCredentials over an INTERNAL plaintext listener. A wrong
// password gets the source's SASL_AUTHENTICATION_FAILED, and the link
// says authentication failed; a mechanism the source does not enable is
// named.
func TestMirrorFromTandemSASLSSLSCRAM(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	src := tandemtest.Start(t, tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL"),
		tandemtest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
		tandemtest.Config("ssl.keystore.type", "PEM"),
		tandemtest.Config("ssl.keystore.location", ca.Server(t).WriteKeystorePEM(t, filepath.Join(t.TempDir(), "server.pem"), "")))
	internal := newClient(t, src.Node.ListenerAddr("INTERNAL"))
	if _, err := kadm.NewClient(internal).AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{
		{User: "east-link", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "link-secret"}}); err != nil {
		t.Fatal(err)
	}
	external := src.Node.ListenerAddr("EXTERNAL")
	scl := newClient(t, external, kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool()}),
		kgo.SASL(scram.Auth{User: "east-link", Pass: "link-secret"}.AsSha512Mechanism()))
	createTopics(t, scl, 3, "orders")
	produceN(t, scl, "orders", 300)

	dst := tandemtest.Start(t, tandemtest.Config("password.encoder.secret", "broker-secret"))
	lm := dst.Node.Links()
	cfg := func(password string) map[string]string {
		c := saslLinkConfigs(external, "SCRAM-SHA-512", "east-link", password)
		c["security.protocol"], c["ssl.truststore.type"], c["ssl.truststore.certificates"] = "SASL_SSL", "PEM", string(ca.CertPEM)
		c["availability.check.ms"] = "500"
		return c
	}
	err := lm.CreateLink(ctxT(t), "bad", "", cfg("wrong"), false, true)
	if !errors.Is(err, link.ErrAuthentication) || !strings.Contains(err.Error(), "authentication failed (SASL SCRAM-SHA-512 as user 'east-link'): the source cluster refused the link's credentials") {
		t.Fatalf("wrong password: %v", err)
	}
	// A mechanism the source does not enable.
	c256 := cfg("link-secret")
	c256["sasl.mechanism"] = "SCRAM-SHA-256"
	if err := lm.CreateLink(ctxT(t), "bad", "", c256, false, true); !errors.Is(err, link.ErrAuthentication) ||
		!strings.Contains(err.Error(), "the source cluster does not enable sasl.mechanism=SCRAM-SHA-256") {
		t.Fatalf("unsupported mechanism: %v", err)
	}
	if err := lm.CreateLink(ctxT(t), "bad", "", cfg("wrong"), false, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "link FAILED with AUTHENTICATION_ERROR", func() bool {
		li, _ := lm.Link("bad")
		return li.State == link.LinkFailed && li.ErrorCode == "AUTHENTICATION_ERROR"
	})

	mirrorOrders(t, dst, "east", cfg("link-secret"), scl)
}
