package security

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
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// TestSASLSSL: SCRAM over a SASL_SSL listener (a real TLS handshake, then
// the SASL exchange inside it) with franz-go and kcat.
func TestSASLSSL(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	caFile := ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem"))
	b := tandemtest.StartSASL(t, map[string]string{
		"listeners":               "SASL_SSL://127.0.0.1:0",
		"ssl.keystore.type":       "PEM",
		"ssl.keystore.location":   ca.Server(t, "127.0.0.1").WriteKeystorePEM(t, filepath.Join(dir, "server.pem"), ""),
		"sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": auth.PlainLoginModule + ` required user_admin="` + adminPass + `";`,
	})
	tlsOpt := kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	e := &env{SASLBroker: b}
	e.admin = kadm.NewClient(e.client(t, plain.Auth{User: "admin", Pass: adminPass}.AsMechanism(), tlsOpt))
	ctx := ctxT(t)
	res, err := e.admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: scramUser, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: scramPass}})
	if err != nil || res.Error() != nil {
		t.Fatalf("creating %s: %v %v", scramUser, res, err)
	}
	topic := e.topic(t, "sasl-ssl")
	cl := e.client(t, scram.Auth{User: scramUser, Pass: scramPass}.AsSha512Mechanism(), tlsOpt)
	for _, v := range values("tls") {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	e.checkTopic(t, topic, values("tls"), tlsOpt)
	err = e.client(t, scram.Auth{User: scramUser, Pass: wrongPass}.AsSha512Mechanism(), tlsOpt).Ping(ctx)
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), invalidCredentials("SCRAM-SHA-512")) {
		t.Fatalf("wrong password: %v", err)
	}
	e.checkFailureLogged(t, "SCRAM-SHA-512", scramUser)

	t.Run("kcat", func(t *testing.T) {
		kcatBinary(t)
		out, stderr, err := kcat(t, "", "SCRAM-SHA-512", scramUser, scramPass, "-X", "security.protocol=SASL_SSL",
			"-X", "ssl.ca.location="+caFile, "-C", "-b", b.Addr, "-t", topic, "-o", "beginning", "-e", "-c", "3", "-q")
		if err != nil || strings.Join(strings.Fields(out), ",") != strings.Join(values("tls"), ",") {
			t.Fatalf("kcat over SASL_SSL: %q %v\n%s", out, err, stderr)
		}
	})
}

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
	m := tandemtest.Get(t, "http://"+b.Node.HTTPAddr()+"/metrics")
	if metricValue(m, `tandem_authentication_total{listener="SSL",mechanism="SSL",result="success"}`) < 1 ||
		metricValue(m, `tandem_authentication_total{listener="SSL",mechanism="SSL",result="failure"}`) < 1 {
		t.Fatalf("SSL authentications not counted:\n%s", m)
	}
}
