package security

import (
	"errors"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// xdgSCRAM adapts xdg-go/scram's client to Sarama's SCRAMClient, as
// Sarama's own examples do.
type xdgSCRAM struct {
	gen  scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (x *xdgSCRAM) Begin(user, pass, authzID string) error {
	c, err := x.gen.NewClient(user, pass, authzID)
	if err != nil {
		return err
	}
	x.conv = c.NewConversation()
	return nil
}

func (x *xdgSCRAM) Step(challenge string) (string, error) { return x.conv.Step(challenge) }
func (x *xdgSCRAM) Done() bool                            { return x.conv.Done() }

func saramaConfig(mech sarama.SASLMechanism, user, pass string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Mechanism = mech
	cfg.Net.SASL.User, cfg.Net.SASL.Password = user, pass
	switch mech {
	case sarama.SASLTypeSCRAMSHA256:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAM{gen: scram.SHA256} }
	case sarama.SASLTypeSCRAMSHA512:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAM{gen: scram.SHA512} }
	}
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Metadata.Retry.Max = 1
	return cfg
}

// TestSarama: Sarama produces and consumes with SCRAM-SHA-256/512
// (SaslHandshake v1 + SaslAuthenticate, its default) and with PLAIN over
// the raw-token framing of SaslHandshake v0 (Net.SASL.Version =
// SASLHandshakeV0, which requires ApiVersionsRequest off).
func TestSarama(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			testSarama(t, startProto(t, proto))
		})
	}
}

func testSarama(t *testing.T, e *env) {
	for _, tc := range []struct {
		name       string
		mech       sarama.SASLMechanism
		user, pass string
		v0         bool
	}{
		{"SCRAM-SHA-256", sarama.SASLTypeSCRAMSHA256, scramUser, scramPass, false},
		{"SCRAM-SHA-512", sarama.SASLTypeSCRAMSHA512, scramUser, scramPass, false},
		{"PLAIN-handshake-v0", sarama.SASLTypePlaintext, "alice", alicePass, true},
		{"SCRAM-SHA-512-handshake-v0", sarama.SASLTypeSCRAMSHA512, scramUser, scramPass, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := func(pass string) *sarama.Config {
				cfg := saramaConfig(tc.mech, tc.user, pass)
				if e.tls != nil {
					cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, e.tls.Clone()
				}
				if tc.v0 {
					cfg.Net.SASL.Version = sarama.SASLHandshakeV0
					cfg.ApiVersionsRequest = false
				}
				return cfg
			}
			topic := e.topic(t, "sarama-"+strings.ToLower(tc.name))
			want := values("sarama")
			p, err := sarama.NewSyncProducer([]string{e.Addr}, conf(tc.pass))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range want {
				if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
					t.Fatalf("produce: %v", err)
				}
			}
			_ = p.Close()
			c, err := sarama.NewConsumer([]string{e.Addr}, conf(tc.pass))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			var got []string
			for len(got) < len(want) {
				m := <-pc.Messages()
				got = append(got, string(m.Value))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("consumed %q", got)
			}
			if tc.v0 {
				// The raw framing has no error field: the broker closes.
				if _, err := sarama.NewClient([]string{e.Addr}, conf(wrongPass)); err == nil {
					t.Fatal("wrong password accepted")
				}
				return
			}
			for _, user := range []string{tc.user, "nobody"} {
				cfg := conf(wrongPass)
				cfg.Net.SASL.User = user
				_, err = sarama.NewClient([]string{e.Addr}, cfg)
				if !errors.Is(err, sarama.ErrSASLAuthenticationFailed) || !strings.Contains(err.Error(), invalidCredentials(string(tc.mech))) {
					t.Fatalf("%s with a wrong password: %v", user, err)
				}
			}
			e.checkFailureLogged(t, string(tc.mech), tc.user)
		})
	}
}
