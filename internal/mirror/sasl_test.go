package mirror_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// saslSource is a kfake cluster (franz-go's Kafka, not ours) that only
// admits SASL-authenticated clients: user "link-user" with mech.
func saslSource(t *testing.T, mech, password string, topics ...string) (*kfake.Cluster, kgo.Opt) {
	t.Helper()
	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, "link-user", password),
		kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	var m kgo.Opt
	switch mech {
	case "PLAIN":
		m = kgo.SASL(plain.Auth{User: "link-user", Pass: password}.AsMechanism())
	case "SCRAM-SHA-256":
		m = kgo.SASL(scram.Auth{User: "link-user", Pass: password}.AsSha256Mechanism())
	default:
		m = kgo.SASL(scram.Auth{User: "link-user", Pass: password}.AsSha512Mechanism())
	}
	return src, m
}

// saslLinkConfigs is a link to bootstrap authenticating as user with
// password over SASL_PLAINTEXT and mech, with a JAAS line quoted as
// Kafka's clients take it.
func saslLinkConfigs(bootstrap, mech, user, password string) map[string]string {
	module := "org.apache.kafka.common.security.scram.ScramLoginModule"
	if mech == "PLAIN" {
		module = "org.apache.kafka.common.security.plain.PlainLoginModule"
	}
	return map[string]string{
		"bootstrap.servers": bootstrap, "replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000",
		"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mech,
		"sasl.jaas.config": fmt.Sprintf(`%s required username="%s" password="%s";`, module, user, password),
	}
}

// TestMirrorFromKfakeWithSASL mirrors from a kfake cluster that requires
// SASL, with each mechanism the link supports, byte for byte. The
// password has characters JAAS quoting must carry (a quote, a backslash,
// a semicolon).
func TestMirrorFromKfakeWithSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			password := `p"w\;` + mech
			src, auth := saslSource(t, mech, password, "orders")
			seeds := src.ListenAddrs()
			dst := tandemtest.Start(t, tandemtest.Config("password.encoder.secret", "broker-secret"))
			scl := newClient(t, seeds[0], auth)
			produceN(t, scl, "orders", 300)

			cfg := saslLinkConfigs(seeds[0], mech, "link-user", "")
			cfg["sasl.jaas.config"] = strings.Replace(cfg["sasl.jaas.config"], `password=""`,
				`password="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(password)+`"`, 1)
			mirrorOrders(t, dst, "sasl", cfg, scl)
			li, err := dst.Node.Links().Link("sasl")
			if err != nil || li.State != link.LinkActive || li.ErrorCode != "NO_ERROR" {
				t.Fatalf("link %s %s %q, %v", li.State, li.ErrorCode, li.ErrorMessage, err)
			}
		})
	}
}

// TestKfakeSASLWrongPassword: a link whose password the source refuses is
// refused at creation with validation, and without it is FAILED with
// AUTHENTICATION_ERROR and an error that says authentication failed (and
// never the password); mirrors cannot be created and nothing flows. Once
// the link's password is corrected, it becomes ACTIVE.
func TestKfakeSASLWrongPassword(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			src, auth := saslSource(t, mech, "right-password", "orders")
			seeds := src.ListenAddrs()
			produceN(t, newClient(t, seeds[0], auth), "orders", 10)
			dst := tandemtest.Start(t, tandemtest.Config("password.encoder.secret", "broker-secret"))
			lm := dst.Node.Links()
			cfg := saslLinkConfigs(seeds[0], mech, "link-user", "wrong-password")
			cfg["availability.check.ms"] = "200"

			err := lm.CreateLink(ctxT(t), "bad", "", cfg, false, true)
			if !errors.Is(err, link.ErrAuthentication) || !strings.Contains(err.Error(), "authentication failed") {
				t.Fatalf("create with validation: %v", err)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("the error quotes the password: %v", err)
			}
			if err := lm.CreateLink(ctxT(t), "bad", "", cfg, false, false); err != nil {
				t.Fatal(err)
			}
			var li link.LinkInfo
			waitUntil(t, 20*time.Second, "link FAILED with AUTHENTICATION_ERROR", func() bool {
				li, _ = lm.Link("bad")
				return li.State == link.LinkFailed && li.ErrorCode == "AUTHENTICATION_ERROR"
			})
			if !strings.Contains(li.ErrorMessage, "authentication failed (SASL "+mech+" as user 'link-user')") ||
				strings.Contains(li.ErrorMessage, "wrong-password") {
				t.Errorf("link error message: %q", li.ErrorMessage)
			}
			t.Logf("link error: %s", li.ErrorMessage)
			if err := lm.CreateMirror(ctxT(t), "bad", "orders", "", nil, false); err == nil {
				t.Fatal("a mirror was created over a link that cannot authenticate")
			}
			if hasTopic(dst, "orders") {
				t.Error("the mirror topic exists")
			}

			// The right password: the link recovers and mirrors.
			cfg["sasl.jaas.config"] = strings.Replace(cfg["sasl.jaas.config"], "wrong-password", "right-password", 1)
			if err := lm.AlterLinkConfigs("bad", cfg, false); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 20*time.Second, "link ACTIVE", func() bool {
				li, _ = lm.Link("bad")
				return li.State == link.LinkActive
			})
			if err := lm.CreateMirror(ctxT(t), "bad", "orders", "", nil, false); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, newClient(t, seeds[0], auth), newClient(t, dst.Addr()), "orders", "orders")
		})
	}
}
