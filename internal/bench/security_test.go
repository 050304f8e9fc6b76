package bench

import (
	"bytes"
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// startSASLSSLKfake is a kfake broker with SASL over TLS and one SCRAM-SHA-512
// superuser, standing in for a Tandem SASL_SSL listener.
func startSASLSSLKfake(t *testing.T, ca *tlstest.CA) string {
	t.Helper()
	cert := ca.Server(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "bench", "bench-secret"))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestRunSecurity(t *testing.T) {
	ca := tlstest.NewCA(t)
	var out bytes.Buffer
	o := SecurityOptions{
		Options: Options{
			Brokers: []string{startKfake(t)}, Topic: "sec", Partitions: 2, RecordSize: 100,
			TotalBytes: 20_000, Acks: "all", Compression: "none", CreateTopic: true, Out: &out,
		},
		SecureBrokers: []string{startSASLSSLKfake(t, ca)},
		ClientConfig: map[string]string{
			"security.protocol":           "SASL_SSL",
			"sasl.mechanism":              "SCRAM-SHA-512",
			"sasl.jaas.config":            `org.apache.kafka.common.security.scram.ScramLoginModule required username="bench" password="bench-secret";`,
			"ssl.truststore.type":         "PEM",
			"ssl.truststore.certificates": string(ca.CertPEM),
		},
		Rounds: 2,
	}
	res, err := RunSecurity(testContext(t), o)
	if err != nil {
		t.Fatalf("RunSecurity: %v\n%s", err, out.String())
	}
	if len(res.Plain) != 2 || len(res.Secure) != 2 || res.ProduceRatio <= 0 || res.ConsumeRatio <= 0 {
		t.Fatalf("result %+v", res)
	}
	for _, r := range append(res.Plain, res.Secure...) {
		if r.Records != 200 || r.ConsumedBytes != 20_000 {
			t.Fatalf("run produced %d records, consumed %d bytes; want 200 and 20000", r.Records, r.ConsumedBytes)
		}
	}
	s := out.String()
	for _, want := range []string{"SASL_SSL (SCRAM-SHA-512)", "produce MB/s: PLAINTEXT", "ratio", `"produce_ratio"`} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "bench-secret") {
		t.Errorf("output shows the password:\n%s", s)
	}

	// A wrong password fails the secured run, not silently.
	o.ClientConfig["sasl.jaas.config"] = `org.apache.kafka.common.security.scram.ScramLoginModule required username="bench" password="wrong";`
	o.Topic = "sec-wrong"
	o.Rounds = 1
	o.TotalBytes = 1000
	// franz-go retries failed authentications until its retry timeout.
	o.ClientOpts = []kgo.Opt{kgo.RetryTimeout(time.Second), kgo.RequestRetries(1)}
	if _, err := RunSecurity(testContext(t), o); err == nil {
		t.Fatal("RunSecurity with a wrong password succeeded")
	}
}

func TestSecurityClientConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "security.protocol"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI", "sasl.jaas.config": `x required username="u";`}, "sasl.mechanism"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}, "sasl.jaas.config"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": "/nonexistent"}, "no such file"},
	} {
		_, err := parseClientSecurity(tc.props)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.props, err, tc.want)
		}
	}
	if _, err := parseClientSecurity(map[string]string{"security.protocol": "PLAINTEXT"}); !errors.Is(err, ErrOptions) {
		t.Errorf("PLAINTEXT as the secured protocol: %v", err)
	}
}

// TestRunSecurityTandem runs the benchmark as scripts/bench-security.sh
// does, on a real Tandem broker with a PLAINTEXT and a SASL_SSL
// (SCRAM-SHA-512) listener, the SCRAM user created by the benchmark itself.
func TestRunSecurityTandem(t *testing.T) {
	ca := tlstest.NewCA(t)
	keystore := ca.Server(t).WriteKeystorePEM(t, filepath.Join(t.TempDir(), "broker.pem"), "")
	b := tandemtest.Start(t,
		tandemtest.Config("listeners", "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"),
		tandemtest.Config("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
		tandemtest.Config("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required;"),
		tandemtest.Config("ssl.keystore.type", "PEM"),
		tandemtest.Config("ssl.keystore.location", keystore))
	var out bytes.Buffer
	res, err := RunSecurity(testContext(t), SecurityOptions{
		Options: Options{
			Brokers: []string{b.ListenerAddr("PLAINTEXT")}, Topic: "sec", Partitions: 2, RecordSize: 100,
			TotalBytes: 20_000, Acks: "all", Compression: "none", Out: &out,
		},
		SecureBrokers: []string{b.ListenerAddr("SASL_SSL")},
		ClientConfig: map[string]string{
			"security.protocol":           "SASL_SSL",
			"sasl.mechanism":              "SCRAM-SHA-512",
			"sasl.jaas.config":            `org.apache.kafka.common.security.scram.ScramLoginModule required username="bench" password="bench-secret";`,
			"ssl.truststore.type":         "PEM",
			"ssl.truststore.certificates": string(ca.CertPEM),
		},
		CreateSCRAMUser: true,
		Rounds:          1,
	})
	if err != nil {
		t.Fatalf("RunSecurity: %v\n%s", err, out.String())
	}
	if len(res.Secure) != 1 || res.Secure[0].Records != 200 || res.Secure[0].ConsumedBytes != 20_000 {
		t.Fatalf("secured run: %+v\n%s", res.Secure, out.String())
	}
	if strings.Contains(out.String(), "bench-secret") {
		t.Errorf("output shows the password:\n%s", out.String())
	}
	// Each run's topic is gone once the run is measured.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.ListenerAddr("PLAINTEXT")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if names := topics.Names(); len(names) != 0 {
		t.Errorf("topics left behind: %v", names)
	}
}
