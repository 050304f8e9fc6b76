package compat

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// kafkaGo is segmentio/kafka-go's high-level API: one Writer per partition
// (a Writer has no per-message partition, so each gets a Balancer that always
// picks its partition) and one Reader per partition without a GroupID. The
// Writer is not idempotent.
var kafkaGo = client{
	Name:    "kafka-go",
	Produce: kafkaGoProduce,
	Consume: kafkaGoConsume,
	// kafka-go's consumers return an empty key or value as nil, so they
	// cannot tell null from empty.
	Nulls: false,
}

// kafkaGoConn is kafka-go's low-level Conn: WriteCompressedMessages and
// ReadBatch on a connection to the partition leader. Conn negotiates its own
// small set of versions (Produce v2/v3/v7, Fetch v2/v5/v10).
var kafkaGoConn = client{
	Name:    "kafka-go-conn",
	Produce: kafkaGoConnProduce,
	Consume: kafkaGoConnConsume,
	Nulls:   false, // as kafkaGo
}

func kafkaGoCodec(t *testing.T, c codec) kafka.Compression {
	switch c.Name {
	case "none":
		return 0
	case "gzip":
		return kafka.Gzip
	case "snappy":
		return kafka.Snappy
	case "lz4":
		return kafka.Lz4
	case "zstd":
		return kafka.Zstd
	}
	t.Fatalf("unknown codec %q", c.Name)
	return 0
}

type fixedPartition int

func (p fixedPartition) Balance(kafka.Message, ...int) int { return int(p) }

func toKafkaGo(r record) kafka.Message {
	m := kafka.Message{Key: r.Key, Value: r.Value, Time: r.Timestamp}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

func fromKafkaGo(m kafka.Message) record {
	r := record{
		Partition: int32(m.Partition),
		Offset:    m.Offset,
		Key:       m.Key,
		Value:     m.Value,
		Timestamp: m.Time,
	}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, header{h.Key, h.Value})
	}
	return r
}

// perPartition runs fn for each partition concurrently and fails the test
// with the first error.
func perPartition(t *testing.T, what string, parts map[int32][]record, fn func(p int32, recs []record) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for p, recs := range parts {
		wg.Go(func() {
			if err := fn(p, recs); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func kafkaGoProduce(ctx context.Context, t *testing.T, req produceReq) []record {
	t.Helper()
	comp := kafkaGoCodec(t, req.Codec)
	perPartition(t, "kafka-go Writer", byPartition(req.Records), func(p int32, recs []record) error {
		w := &kafka.Writer{
			Addr:         kafka.TCP(req.Addr),
			Topic:        req.Topic,
			Balancer:     fixedPartition(p),
			RequiredAcks: kafka.RequireAll,
			Compression:  comp,
			BatchSize:    1000,
			BatchTimeout: 5 * time.Millisecond,
		}
		msgs := make([]kafka.Message, len(recs))
		for i, r := range recs {
			msgs[i] = toKafkaGo(r)
		}
		err := w.WriteMessages(ctx, msgs...)
		return errors.Join(err, w.Close())
	})
	return req.Records
}

func kafkaGoConsume(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int) []record {
	t.Helper()
	var (
		mu  sync.Mutex
		got []record
	)
	perPartition(t, "kafka-go Reader", countsAsParts(counts), func(p int32, _ []record) error {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:     []string{addr},
			Topic:       topic,
			Partition:   int(p),
			MinBytes:    1,
			MaxBytes:    10 << 20,
			MaxWait:     100 * time.Millisecond,
			StartOffset: kafka.FirstOffset,
		})
		defer r.Close()
		for read := 0; read < counts[p]; read++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return err
			}
			mu.Lock()
			got = append(got, fromKafkaGo(m))
			mu.Unlock()
		}
		return nil
	})
	return got
}

// countsAsParts turns partition counts into the map perPartition ranges over.
func countsAsParts(counts map[int32]int) map[int32][]record {
	m := make(map[int32][]record, len(counts))
	for p := range counts {
		m[p] = nil
	}
	return m
}

// kafkaGoConnChunk is how many messages go into one WriteCompressedMessages
// call, and so into one produce request and one record batch.
const kafkaGoConnChunk = 40

func kafkaGoConnProduce(ctx context.Context, t *testing.T, req produceReq) []record {
	t.Helper()
	codec := kafkaGoCodec(t, req.Codec).Codec() // nil for none
	perPartition(t, "kafka-go Conn produce", byPartition(req.Records), func(p int32, recs []record) error {
		conn, err := kafka.DialLeader(ctx, "tcp", req.Addr, req.Topic, int(p))
		if err != nil {
			return err
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		for len(recs) > 0 {
			n := min(kafkaGoConnChunk, len(recs))
			msgs := make([]kafka.Message, n)
			for i, r := range recs[:n] {
				msgs[i] = toKafkaGo(r)
			}
			if _, err := conn.WriteCompressedMessages(codec, msgs...); err != nil {
				return err
			}
			recs = recs[n:]
		}
		return nil
	})
	return req.Records
}

func kafkaGoConnConsume(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int) []record {
	t.Helper()
	var (
		mu  sync.Mutex
		got []record
	)
	perPartition(t, "kafka-go Conn read", countsAsParts(counts), func(p int32, _ []record) error {
		conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, int(p))
		if err != nil {
			return err
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		if _, err := conn.Seek(0, kafka.SeekStart); err != nil {
			return err
		}
		for read := 0; read < counts[p]; {
			batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond})
			for {
				m, err := batch.ReadMessage()
				if err != nil {
					break
				}
				m.Partition = int(p)
				mu.Lock()
				got = append(got, fromKafkaGo(m))
				mu.Unlock()
				read++
			}
			if err := batch.Close(); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return got
}
