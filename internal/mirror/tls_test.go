package mirror_test

import (
	"crypto/tls"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// tlsSource is a kfake cluster with a TLS listener (server certificate
// from ca for the loopback addresses) and a topic "orders" holding 300
// records; clientOpts reach it.
func tlsSource(t *testing.T, ca *tlstest.CA, srvCert tlstest.Cert, mtls bool, extra ...kfake.Opt) (seed string, clientOpts []kgo.Opt) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}}
	clientTLS := &tls.Config{RootCAs: ca.Pool()}
	if mtls {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, ca.Pool()
		clientTLS.Certificates = []tls.Certificate{ca.Client(t, "producer").TLSCertificate()}
	}
	src, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.TLS(cfg), kfake.SeedTopics(2, "orders")}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	clientOpts = []kgo.Opt{kgo.DialTLSConfig(clientTLS)}
	return src.ListenAddrs()[0], clientOpts
}

// mirrorOrders creates link name on dst with cfg (validated against the
// source), mirrors topic "orders" over it, writes 100 more records to the
// source with scl and checks that the mirror is the source byte for byte.
func mirrorOrders(t *testing.T, dst *tandemtest.Broker, name string, cfg map[string]string, scl *kgo.Client) {
	t.Helper()
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), name, "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), name, "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	produceN(t, scl, "orders", 100)
	sameBytes(t, scl, newClient(t, dst.Addr()), "orders", "orders")
}

// TestMirrorFromKfakeOverTLS mirrors byte for byte from a kfake cluster
// that only speaks TLS: with an inline PEM truststore (SSL), with a
// PKCS12 truststore file, and with SASL_SSL + SCRAM-SHA-512 where the
// source also requires a client certificate, given inline with an
// encrypted key (ssl.keystore.key + ssl.key.password).
func TestMirrorFromKfakeOverTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	srvCert := ca.Server(t)
	for _, tc := range []struct {
		name    string
		mtls    bool
		sasl    bool
		configs func(t *testing.T) map[string]string
	}{
		{name: "SSL inline PEM truststore", configs: func(*testing.T) map[string]string {
			return map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM)}
		}},
		{name: "SSL PKCS12 truststore file", configs: func(t *testing.T) map[string]string {
			path := ca.WriteTruststorePKCS12(t, filepath.Join(t.TempDir(), "trust.p12"), "trust-pw")
			return map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PKCS12",
				"ssl.truststore.location": path, "ssl.truststore.password": "trust-pw"}
		}},
		{name: "SASL_SSL SCRAM with mTLS inline keystore", mtls: true, sasl: true, configs: func(t *testing.T) map[string]string {
			c := ca.Client(t, "link")
			cfg := saslLinkConfigs("", "SCRAM-SHA-512", "link-user", "scram-pw")
			maps.Copy(cfg, map[string]string{"security.protocol": "SASL_SSL",
				"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(ca.CertPEM),
				"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": string(c.CertPEM),
				"ssl.keystore.key": string(c.EncryptedKeyPEM(t, "key-pw")), "ssl.key.password": "key-pw"})
			return cfg
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var extra []kfake.Opt
			if tc.sasl {
				extra = []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "link-user", "scram-pw")}
			}
			seed, opts := tlsSource(t, ca, srvCert, tc.mtls, extra...)
			if tc.sasl {
				opts = append(opts, kgo.SASL(scram.Auth{User: "link-user", Pass: "scram-pw"}.AsSha512Mechanism()))
			}
			scl := newClient(t, seed, opts...)
			produceN(t, scl, "orders", 300)
			dst := tandemtest.Start(t, tandemtest.Config("password.encoder.secret", "broker-secret"))
			cfg := tc.configs(t)
			maps.Copy(cfg, map[string]string{"bootstrap.servers": seed, "replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000"})
			mirrorOrders(t, dst, "tls", cfg, scl)
		})
	}
}

// TestKfakeTLSRefused: a source whose certificate the link does not trust,
// or whose certificate does not name the address the link dials, is
// refused at creation with validation, and without it the link is FAILED
// with AUTHENTICATION_ERROR saying the TLS handshake failed. With
// ssl.endpoint.identification.algorithm empty (Kafka's way to turn host
// name verification off) the second source is accepted: its chain is
// still verified.
func TestKfakeTLSRefused(t *testing.T) {
	ca, other := tlstest.NewCA(t), tlstest.NewCA(t)
	for _, tc := range []struct {
		name    string
		srvCert tlstest.Cert
		trust   []byte
		msg     string
	}{
		{"untrusted CA", ca.Server(t), other.CertPEM, "certificate signed by unknown authority"},
		{"host name", ca.Server(t, "kafka.example.com"), ca.CertPEM, "doesn't contain any IP SANs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seed, _ := tlsSource(t, ca, tc.srvCert, false)
			dst := tandemtest.Start(t)
			lm := dst.Node.Links()
			cfg := map[string]string{"bootstrap.servers": seed, "security.protocol": "SSL", "availability.check.ms": "200",
				"ssl.truststore.type": "PEM", "ssl.truststore.certificates": string(tc.trust)}
			err := lm.CreateLink(ctxT(t), "tls", "", cfg, false, true)
			if !errors.Is(err, link.ErrAuthentication) || !strings.Contains(err.Error(), "TLS handshake with source broker") ||
				!strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("create with validation: %v", err)
			}
			if err := lm.CreateLink(ctxT(t), "tls", "", cfg, false, false); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 20*time.Second, "link FAILED with AUTHENTICATION_ERROR", func() bool {
				li, _ := lm.Link("tls")
				return li.State == link.LinkFailed && li.ErrorCode == "AUTHENTICATION_ERROR" && strings.Contains(li.ErrorMessage, tc.msg)
			})
			if tc.name == "host name" {
				cfg["ssl.endpoint.identification.algorithm"] = ""
				if err := lm.CreateLink(ctxT(t), "nohost", "", cfg, false, true); err != nil {
					t.Fatalf("without host name verification: %v", err)
				}
			}
		})
	}
}
