package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaClient is IBM Sarama at a given protocol version. Sarama picks
// request versions statically from config.Version instead of from
// ApiVersions, so each version is a client of its own: V2_8_0_0 is its
// default, MaxVersion its newest.
func saramaClient(v sarama.KafkaVersion) client {
	return client{
		Name: "sarama-v" + v.String(),
		Produce: func(ctx context.Context, t *testing.T, req produceReq) []record {
			return saramaProduce(ctx, t, v, req)
		},
		Consume: func(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int) []record {
			return saramaConsume(ctx, t, v, addr, topic, counts)
		},
		Nulls:      true,
		Idempotent: true,
	}
}

func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.ClientID = "tandem-compat"
	return cfg
}

func saramaCodec(t *testing.T, c codec) sarama.CompressionCodec {
	switch c.Name {
	case "none":
		return sarama.CompressionNone
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	t.Fatalf("unknown codec %q", c.Name)
	return 0
}

// saramaBytes keeps a null key or value null: a nil Encoder is sent as null,
// while ByteEncoder([]byte{}) is sent as empty.
func saramaBytes(b []byte) sarama.Encoder {
	if b == nil {
		return nil
	}
	return sarama.ByteEncoder(b)
}

func saramaProduce(ctx context.Context, t *testing.T, v sarama.KafkaVersion, req produceReq) []record {
	t.Helper()
	cfg := saramaConfig(v)
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Compression = saramaCodec(t, req.Codec)
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	if req.Idempotent {
		// Sarama requires exactly this for its idempotent producer.
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	var p sarama.SyncProducer
	within(ctx, t, "sarama NewSyncProducer", func() (err error) {
		p, err = sarama.NewSyncProducer([]string{req.Addr}, cfg)
		return err
	})
	defer p.Close()

	msgs := make([]*sarama.ProducerMessage, len(req.Records))
	for i, r := range req.Records {
		m := &sarama.ProducerMessage{
			Topic:     req.Topic,
			Partition: r.Partition,
			Key:       saramaBytes(r.Key),
			Value:     saramaBytes(r.Value),
			Timestamp: r.Timestamp,
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	within(ctx, t, "sarama SendMessages", func() error { return p.SendMessages(msgs) })
	return req.Records
}

func saramaConsume(ctx context.Context, t *testing.T, v sarama.KafkaVersion, addr, topic string, counts map[int32]int) []record {
	t.Helper()
	cfg := saramaConfig(v)
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	var c sarama.Consumer
	within(ctx, t, "sarama NewConsumer", func() (err error) {
		c, err = sarama.NewConsumer([]string{addr}, cfg)
		return err
	})
	defer c.Close()

	var got []record
	for p, n := range counts {
		var pc sarama.PartitionConsumer
		within(ctx, t, fmt.Sprintf("sarama ConsumePartition %d", p), func() (err error) {
			pc, err = c.ConsumePartition(topic, p, sarama.OffsetOldest)
			return err
		})
		for read := 0; read < n; {
			select {
			case m := <-pc.Messages():
				r := record{
					Partition: m.Partition,
					Offset:    m.Offset,
					Key:       m.Key,
					Value:     m.Value,
					Timestamp: m.Timestamp,
				}
				for _, h := range m.Headers {
					r.Headers = append(r.Headers, header{string(h.Key), h.Value})
				}
				got = append(got, r)
				read++
			case err := <-pc.Errors():
				t.Fatalf("sarama consume partition %d: %v", p, err)
			case <-ctx.Done():
				t.Fatalf("sarama consume partition %d: %v after %d of %d records", p, ctx.Err(), read, n)
			}
		}
		// Whatever else is already buffered is a duplicate or an extra
		// record; hand it to the comparison.
		for drained := false; !drained; {
			select {
			case m := <-pc.Messages():
				got = append(got, record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp})
			default:
				drained = true
			}
		}
		if err := pc.Close(); err != nil {
			t.Fatalf("sarama close partition consumer: %v", err)
		}
	}
	return got
}
