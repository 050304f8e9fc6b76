package compat

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTransactionsRefused: Tandem has no transaction coordinator, and a
// transactional producer must fail with an error each client prints as
// "not supported" (never as an authorization failure), without retrying
// forever (internal/broker/22_init_producer_id.go says what each client
// does). librdkafka retries this error until init_transactions() times out,
// so its checks give it a short timeout and look at the code it ends with.
func TestTransactionsRefused(t *testing.T) {
	addr := startBroker(t)
	notAuth := func(t *testing.T, msg string) {
		t.Helper()
		if !strings.Contains(strings.ToLower(msg), "not supported") {
			t.Errorf("error %q does not say \"not supported\"", msg)
		}
		if strings.Contains(strings.ToLower(msg), "authorization") {
			t.Errorf("error %q reads as an authorization failure", msg)
		}
	}

	t.Run("franz-go", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("txn-franz"), kgo.DefaultProduceTopic("txn"),
			kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		start := time.Now()
		err = cl.BeginTransaction()
		if err == nil {
			err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr()
		}
		if err == nil {
			t.Fatal("transactional produce succeeded")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v: the error was retried", d)
		}
		t.Logf("franz-go: %v", err)
		notAuth(t, err.Error())
		if !strings.Contains(err.Error(), "fatal") {
			t.Errorf("error %q is not fatal", err)
		}
	})

	t.Run("sarama", func(t *testing.T) {
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V2_8_0_0
		cfg.Producer.Idempotent = true
		cfg.Producer.Transaction.ID = "txn-sarama"
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		cfg.Producer.Return.Successes = true
		cfg.Net.MaxOpenRequests = 1
		start := time.Now()
		p, err := sarama.NewSyncProducer([]string{addr}, cfg)
		if err == nil {
			p.Close()
			t.Fatal("transactional producer created")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v: the error was retried", d)
		}
		t.Logf("sarama: %v", err)
		notAuth(t, err.Error())
	})

	t.Run("confluent", func(t *testing.T) {
		p, err := kafka.NewProducer(&kafka.ConfigMap{
			"bootstrap.servers": addr,
			"transactional.id":  "txn-confluent",
			"log_level":         0,
		})
		if err != nil {
			t.Fatal(err)
		}
		drained := drainEvents(t, "confluent producer", p.Events())
		defer func() {
			p.Close()
			<-drained
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err = p.InitTransactions(ctx)
		if err == nil {
			t.Fatal("InitTransactions succeeded")
		}
		t.Logf("confluent: %v", err)
		ke, ok := err.(kafka.Error)
		if !ok {
			t.Fatalf("error %T %v is not a kafka.Error", err, err)
		}
		if ke.Code() != kafka.ErrUnsupportedVersion {
			t.Errorf("code %v, want %v (a timeout means the coordinator lookup failed)", ke.Code(), kafka.ErrUnsupportedVersion)
		}
		notAuth(t, err.Error())
	})

	// Debian's python3-confluent-kafka (librdkafka 2.0.2), seen only by
	// /usr/bin/python3; skipped where it is not installed.
	t.Run("confluent-kafka-python", func(t *testing.T) {
		py := "/usr/bin/python3"
		if exec.Command(py, "-c", "import confluent_kafka").Run() != nil {
			t.Skip("python3-confluent-kafka is not installed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		script := `
import sys
from confluent_kafka import Producer, KafkaException
p = Producer({'bootstrap.servers': sys.argv[1], 'transactional.id': 'txn-python', 'log_level': 0})
try:
    p.init_transactions(3)
except KafkaException as e:
    print(e.args[0].name(), e.args[0].str())
    sys.exit(0)
print('init_transactions succeeded')
sys.exit(1)
`
		out, err := exec.CommandContext(ctx, py, "-c", script, addr).CombinedOutput()
		t.Logf("confluent-kafka-python: %s", out)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if !strings.HasPrefix(string(out), "UNSUPPORTED_VERSION ") {
			t.Errorf("error %q is not UNSUPPORTED_VERSION", out)
		}
		notAuth(t, string(out))
	})

	t.Run("kcat", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcatBinary(t), "-b", addr, "-P", "-t", "txn",
			"-X", "transactional.id=txn-kcat", "-X", "log_level=0")
		cmd.Stdin = strings.NewReader("v\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err == nil {
			t.Fatalf("kcat produced transactionally:\n%s", out.Bytes())
		}
		t.Logf("kcat: %s", out.Bytes())
		notAuth(t, out.String())
	})
}
