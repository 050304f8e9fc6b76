package security

import (
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// TestSSLAuthenticationMetric: TLS client authentication on an SSL listener
// is counted as mechanism SSL, successes and failed handshakes.
func TestSSLAuthenticationMetric(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	b := tandemtest.StartSASL(t, map[string]string{
		"listeners":               "SSL://127.0.0.1:0",
		"ssl.keystore.type":       "PEM",
		"ssl.keystore.location":   ca.Server(t, "127.0.0.1").WriteKeystorePEM(t, filepath.Join(dir, "server.pem"), ""),
		"ssl.truststore.type":     "PEM",
		"ssl.truststore.location": ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem")),
		"ssl.client.auth":         "required",
	})
	ctx := ctxT(t)
	good := tandemtest.NewClient(t, b.Addr, kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{ca.Client(t, "alice").TLSCertificate()}}))
	if err := good.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	bad := tandemtest.NewClient(t, b.Addr, kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}),
		kgo.RetryTimeout(time.Second))
	if err := bad.Ping(ctx); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	// The client may see the refusal before the broker's side of the
	// handshake has counted it: wait for the count.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := tandemtest.Get(t, "http://"+b.Node.HTTPAddr()+"/metrics")
		if metricValue(m, `tandem_authentication_total{listener="SSL",mechanism="SSL",result="success"}`) >= 1 &&
			metricValue(m, `tandem_authentication_total{listener="SSL",mechanism="SSL",result="failure"}`) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SSL authentications not counted:\n%s", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
