package security

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// Users of every test broker: admin and alice by PLAIN (JAAS), and the
// SCRAM users created with AlterUserScramCredentials.
const (
	adminPass = "admin-secret"
	alicePass = "alice-secret"
	scramUser = "sam"
	scramPass = "sam-scram-secret"
	// wrongPass must never appear in a log or an error.
	wrongPass = "definitely-not-it"
)

type env struct {
	*tandemtest.SASLBroker
	admin *kadm.Client
	// protocol is the listener's: SASL_PLAINTEXT or SASL_SSL. For
	// SASL_SSL, tls is the clients' TLS configuration and caFile the CA
	// that signed the broker's certificate (librdkafka's ssl.ca.location).
	protocol string
	tls      *tls.Config
	caFile   string
}

// protocols are the SASL listener types every client is run against.
var protocols = []string{"SASL_PLAINTEXT", "SASL_SSL"}

// start starts a broker with a SASL_PLAINTEXT listener; see startProto.
func start(t *testing.T) *env { return startProto(t, "SASL_PLAINTEXT") }

// startProto starts a broker with one listener of protocol (SASL_PLAINTEXT,
// or SASL_SSL with a certificate of a test CA) offering PLAIN and both
// SCRAM mechanisms, and creates sam's SCRAM credentials.
func startProto(t *testing.T, protocol string) *env {
	t.Helper()
	name := strings.ToLower(protocol)
	props := map[string]string{
		"listeners":               protocol + "://127.0.0.1:0",
		"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name." + name + ".plain.sasl.jaas.config": auth.PlainLoginModule +
			` required username="admin" password="` + adminPass + `" user_admin="` + adminPass + `" user_alice="` + alicePass + `";`,
	}
	e := &env{protocol: protocol}
	if protocol == "SASL_SSL" {
		ca := tlstest.NewCA(t)
		dir := t.TempDir()
		props["ssl.keystore.type"] = "PEM"
		props["ssl.keystore.location"] = ca.Server(t, "127.0.0.1").WriteKeystorePEM(t, filepath.Join(dir, "server.pem"), "")
		e.caFile = ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem"))
		e.tls = &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	}
	e.SASLBroker = tandemtest.StartSASL(t, props)
	e.admin = kadm.NewClient(e.client(t, plain.Auth{User: "admin", Pass: adminPass}.AsMechanism()))
	ctx := ctxT(t)
	res, err := e.admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: scramUser, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: scramPass},
	})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("creating SCRAM-SHA-256 credentials: %v", err)
	}
	res, err = e.admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: scramUser, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: scramPass},
	})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("creating SCRAM-SHA-512 credentials: %v", err)
	}
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) client(t *testing.T, m sasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SASL(m), kgo.RetryTimeout(5 * time.Second)}
	if e.tls != nil {
		base = append(base, kgo.DialTLSConfig(e.tls.Clone()))
	}
	return tandemtest.NewClient(t, e.Addr, append(base, opts...)...)
}

// topic creates a one-partition topic named after the test.
func (e *env) topic(t *testing.T, name string) string {
	t.Helper()
	if _, err := e.admin.CreateTopic(ctxT(t), 1, 1, nil, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// values are what every client produces.
func values(who string) []string {
	return []string{who + "-1", who + "-2", who + "-3"}
}

// checkTopic reads topic with the admin's franz-go client and compares
// its values with want.
func (e *env) checkTopic(t *testing.T, topic string, want []string, opts ...kgo.Opt) {
	t.Helper()
	cl := e.client(t, plain.Auth{User: "admin", Pass: adminPass}.AsMechanism(),
		append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	var got []string
	ctx := ctxT(t)
	for len(got) < len(want) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading %s: %v (got %q)", topic, err, got)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s holds %q, want %q", topic, got, want)
	}
}

// checkFailureLogged checks that the broker logged the failed
// authentication of user once (rate limiting may fold repeats), never a
// password, and still serves.
func (e *env) checkFailureLogged(t *testing.T, mechanism, user string) {
	t.Helper()
	want := fmt.Sprintf("user '%s' failed", user)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.Logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed-authentication line for %s in:\n%s", user, e.Logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	logs := e.Logs.String()
	for _, secret := range []string{wrongPass, adminPass, alicePass, scramPass} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a password reached the log:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "mechanism="+mechanism) {
		t.Fatalf("the failure line does not name %s:\n%s", mechanism, logs)
	}
	if _, err := e.admin.ListBrokers(ctxT(t)); err != nil {
		t.Fatalf("broker unhealthy after a failed authentication: %v", err)
	}
}

// invalidCredentials is Kafka's message for a failed SCRAM exchange.
func invalidCredentials(mech string) string {
	return "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mech
}
