package security

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TestKafkaGo: segmentio/kafka-go's Writer and Reader with sasl/scram
// (SHA-512) and sasl/plain.
func TestKafkaGo(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			testKafkaGo(t, startProto(t, proto))
		})
	}
}

func testKafkaGo(t *testing.T, e *env) {
	mech512 := func(user, pass string) sasl.Mechanism {
		m, err := scram.Mechanism(scram.SHA512, user, pass)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		good sasl.Mechanism
		bad  []sasl.Mechanism // wrong password, unknown user
		user string
	}{
		{"SCRAM-SHA-512", mech512(scramUser, scramPass), []sasl.Mechanism{mech512(scramUser, wrongPass), mech512("nobody", wrongPass)}, scramUser},
		{"PLAIN", plain.Mechanism{Username: "alice", Password: alicePass},
			[]sasl.Mechanism{plain.Mechanism{Username: "alice", Password: wrongPass}, plain.Mechanism{Username: "nobody", Password: wrongPass}}, "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			topic := e.topic(t, "kafkago-"+strings.ToLower(tc.name))
			want := values("kafkago")
			w := &kafka.Writer{Addr: kafka.TCP(e.Addr), Topic: topic, RequiredAcks: kafka.RequireAll,
				BatchTimeout: 5 * time.Millisecond, Transport: &kafka.Transport{SASL: tc.good, TLS: e.tls}}
			var msgs []kafka.Message
			for _, v := range want {
				msgs = append(msgs, kafka.Message{Value: []byte(v)})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("produce: %v", err)
			}
			_ = w.Close()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.Addr}, Topic: topic, Partition: 0,
				Dialer: &kafka.Dialer{Timeout: 5 * time.Second, SASLMechanism: tc.good, TLS: e.tls}, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			var got []string
			for len(got) < len(want) {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("consume: %v", err)
				}
				got = append(got, string(m.Value))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("consumed %q", got)
			}
			for _, bad := range tc.bad {
				d := &kafka.Dialer{Timeout: 5 * time.Second, SASLMechanism: bad, TLS: e.tls}
				_, err := d.DialContext(context.Background(), "tcp", e.Addr)
				if !errors.Is(err, kafka.SASLAuthenticationFailed) {
					t.Fatalf("bad credentials: %v", err)
				}
			}
			e.checkFailureLogged(t, tc.name, tc.user)
		})
	}
}
