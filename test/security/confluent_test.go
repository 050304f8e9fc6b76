package security

import (
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestConfluent: confluent-kafka-go (its bundled librdkafka) produces and
// consumes with SCRAM-SHA-512 and PLAIN; a wrong password and an unknown
// user fail with the broker's message.
func TestConfluent(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			testConfluent(t, startProto(t, proto))
		})
	}
}

func testConfluent(t *testing.T, e *env) {
	for _, tc := range []struct{ mech, user, pass, msg string }{
		{"SCRAM-SHA-512", scramUser, scramPass, invalidCredentials("SCRAM-SHA-512")},
		{"PLAIN", "alice", alicePass, "Authentication failed: Invalid username or password"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			conf := func(user, pass string) *kafka.ConfigMap {
				cm := &kafka.ConfigMap{
					"bootstrap.servers": e.Addr, "security.protocol": e.protocol,
					"sasl.mechanisms": tc.mech, "sasl.username": user, "sasl.password": pass,
				}
				if e.caFile != "" {
					_ = cm.SetKey("ssl.ca.location", e.caFile)
				}
				return cm
			}
			topic := e.topic(t, "confluent-"+strings.ToLower(tc.mech))
			want := values("confluent")
			p, err := kafka.NewProducer(conf(tc.user, tc.pass))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			reports := make(chan kafka.Event, len(want))
			for _, v := range want {
				if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte(v)}, reports); err != nil {
					t.Fatal(err)
				}
			}
			for range want {
				select {
				case ev := <-reports:
					if m, ok := ev.(*kafka.Message); !ok || m.TopicPartition.Error != nil {
						t.Fatalf("delivery: %v", ev)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("no delivery report")
				}
			}

			cc := conf(tc.user, tc.pass)
			_ = cc.SetKey("group.id", "g-"+topic)
			_ = cc.SetKey("enable.auto.commit", false)
			c, err := kafka.NewConsumer(cc)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
				t.Fatal(err)
			}
			var got []string
			deadline := time.Now().Add(20 * time.Second)
			for len(got) < len(want) && time.Now().Before(deadline) {
				switch ev := c.Poll(100).(type) {
				case *kafka.Message:
					got = append(got, string(ev.Value))
				case kafka.Error:
					t.Logf("consumer: %v", ev)
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("consumed %q", got)
			}

			// librdkafka reports a failed authentication as an error
			// event carrying the broker's message.
			for _, user := range []string{tc.user, "nobody"} {
				bad := conf(user, wrongPass)
				_ = bad.SetKey("log_level", 0)
				bp, err := kafka.NewProducer(bad)
				if err != nil {
					t.Fatal(err)
				}
				var got kafka.Error
				timeout := time.After(10 * time.Second)
			wait:
				for {
					select {
					case ev := <-bp.Events():
						if ke, ok := ev.(kafka.Error); ok {
							got = ke
							break wait
						}
					case <-timeout:
						break wait
					}
				}
				bp.Close()
				if got.Code() != kafka.ErrAuthentication || !strings.Contains(got.Error(), tc.msg) {
					t.Fatalf("%s with a wrong password: %v, want an authentication error: %s", user, got, tc.msg)
				}
			}
			e.checkFailureLogged(t, tc.mech, tc.user)
		})
	}
}
