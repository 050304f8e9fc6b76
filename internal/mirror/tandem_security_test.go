package mirror_test

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
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

// TestMirrorNeedsOnlyDocumentedSourceACLs: with an authorizer on the
// source, the link's user needs what docs/security.md says — READ and
// DESCRIBE_CONFIGS on the source topic — and no more to mirror it byte
// for byte; without them the mirror is refused with the source's
// TOPIC_AUTHORIZATION_FAILED.
func TestMirrorNeedsOnlyDocumentedSourceACLs(t *testing.T) {
	t.Parallel()
	src := tandemtest.Start(t, tandemtest.Config("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
		tandemtest.Config("listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT"),
		tandemtest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-256"),
		tandemtest.Config("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
		// The INTERNAL listener is the operator's.
		tandemtest.Config("super.users", "User:ANONYMOUS"))
	admin := newClient(t, src.Node.ListenerAddr("INTERNAL"))
	adm := kadm.NewClient(admin)
	if _, err := adm.AlterUserSCRAMs(ctxT(t), nil, []kadm.UpsertSCRAM{
		{User: "east-link", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "link-secret"}}); err != nil {
		t.Fatal(err)
	}
	createTopics(t, admin, 2, "orders")
	produceN(t, admin, "orders", 200)

	dst := tandemtest.Start(t, tandemtest.Config("password.encoder.secret", "broker-secret"))
	cfg := saslLinkConfigs(src.Node.ListenerAddr("EXTERNAL"), "SCRAM-SHA-256", "east-link", "link-secret")
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), "east", "", cfg, false, true); err != nil {
		t.Fatal(err) // no ACL is needed to create the link (reference §8)
	}
	if err := lm.CreateMirror(ctxT(t), "east", "orders", "", nil, false); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("mirror without ACLs: %v", err)
	}
	res, err := adm.CreateACLs(ctxT(t), kadm.NewACLs().Allow("User:east-link").Topics("orders").
		Operations(kadm.OpRead, kadm.OpDescribeConfigs).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// The link's client keeps the source's metadata (the refusal too)
	// for its minimum age, min(5 s, metadata.max.age.ms): 1 s here.
	waitUntil(t, 10*time.Second, "mirror created once the ACLs are in place", func() bool {
		return lm.CreateMirror(ctxT(t), "east", "orders", "", nil, false) == nil
	})
	produceN(t, admin, "orders", 100)
	sameBytes(t, admin, newClient(t, dst.Addr()), "orders", "orders")
}
