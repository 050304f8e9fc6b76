package compat

import (
	"context"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// confluent is librdkafka through confluent-kafka-go (the librdkafka bundled
// in the module, linked with cgo). The consumer assigns partitions itself
// (Assign, not Subscribe); librdkafka insists on a group.id anyway, and we
// keep its default read_committed isolation, so the broker must serve the
// last stable offset correctly.
var confluent = client{
	Name:       "confluent",
	Librdkafka: true,
	Produce:    confluentProduce,
	Consume:    confluentConsume,
	Nulls:      true,
	Idempotent: true,
}

func confluentProduce(ctx context.Context, t *testing.T, req produceReq) []record {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":  req.Addr,
		"client.id":          "tandem-compat",
		"compression.codec":  req.Codec.Name,
		"linger.ms":          5,
		"acks":               "all",
		"enable.idempotence": req.Idempotent,
	})
	if err != nil {
		t.Fatalf("confluent NewProducer: %v", err)
	}
	drained := drainEvents(t, "confluent producer", p.Events())
	defer func() {
		p.Close() // closes the events channel
		<-drained
	}()

	reports := make(chan kafka.Event, len(req.Records))
	for _, r := range req.Records {
		m := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &req.Topic, Partition: r.Partition},
			Key:            r.Key,
			Value:          r.Value,
			Timestamp:      r.Timestamp,
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		if err := p.Produce(m, reports); err != nil {
			t.Fatalf("confluent Produce: %v", err)
		}
	}
	for n := range req.Records {
		select {
		case ev := <-reports:
			m, ok := ev.(*kafka.Message)
			if !ok {
				t.Fatalf("confluent delivery report: unexpected %T %v", ev, ev)
			}
			if m.TopicPartition.Error != nil {
				t.Fatalf("confluent delivery report: %v", m.TopicPartition.Error)
			}
		case <-ctx.Done():
			t.Fatalf("confluent produce: %v after %d of %d delivery reports", ctx.Err(), n, len(req.Records))
		}
	}
	return req.Records
}

// drainEvents logs the client's asynchronous errors until evs closes (when
// the client closes), so the channel never fills. The returned channel
// closes when it is done.
func drainEvents(t *testing.T, who string, evs chan kafka.Event) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range evs {
			if e, ok := ev.(kafka.Error); ok {
				t.Logf("%s: %v", who, e)
			}
		}
	}()
	return done
}

func confluentConsume(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int) []record {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  addr,
		"client.id":          "tandem-compat",
		"group.id":           "tandem-compat-" + topic,
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
	})
	if err != nil {
		t.Fatalf("confluent NewConsumer: %v", err)
	}
	defer c.Close()

	var parts []kafka.TopicPartition
	for p := range counts {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(parts); err != nil {
		t.Fatalf("confluent Assign: %v", err)
	}

	seen := make(map[int32]int)
	remaining := 0
	for _, n := range counts {
		remaining += n
	}
	var got []record
	for remaining > 0 {
		if err := ctx.Err(); err != nil {
			t.Fatalf("confluent consume: %v after %d records (%v)", err, len(got), seen)
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				t.Fatalf("confluent consume: %v", e.TopicPartition.Error)
			}
			r := record{
				Partition: e.TopicPartition.Partition,
				Offset:    int64(e.TopicPartition.Offset),
				Key:       e.Key,
				Value:     e.Value,
				Timestamp: e.Timestamp,
			}
			for _, h := range e.Headers {
				r.Headers = append(r.Headers, header{h.Key, h.Value})
			}
			got = append(got, r)
			if seen[r.Partition] < counts[r.Partition] {
				remaining--
			}
			seen[r.Partition]++
		case kafka.Error:
			if e.IsFatal() {
				t.Fatalf("confluent consume: %v", e)
			}
			t.Logf("confluent consumer: %v", e)
		}
	}
	return got
}
