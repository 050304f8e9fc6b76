package compat

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// franzGo is franz-go's kgo client: the producer is idempotent by default,
// the consumer reads partitions directly (no group).
var franzGo = client{
	Name:              "franz-go",
	Produce:           franzProduce,
	Consume:           franzConsume,
	Nulls:             true,
	DefaultIdempotent: true,
	Idempotent:        true,
}

func franzCodec(t *testing.T, c codec) kgo.CompressionCodec {
	switch c.Name {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	t.Fatalf("unknown codec %q", c.Name)
	return kgo.CompressionCodec{}
}

func franzProduce(ctx context.Context, t *testing.T, req produceReq) []record {
	t.Helper()
	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(req.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(franzCodec(t, req.Codec)),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	if !req.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl := newKgo(t, req.Addr, opts...)
	krs := make([]*kgo.Record, len(req.Records))
	for i, r := range req.Records {
		kr := &kgo.Record{Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		krs[i] = kr
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce: %v", err)
	}
	return req.Records
}

func franzConsume(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int) []record {
	t.Helper()
	offsets := make(map[int32]kgo.Offset)
	for p := range counts {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl := newKgo(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	seen := make(map[int32]int)
	done := func() bool {
		for p, n := range counts {
			if seen[p] < n {
				return false
			}
		}
		return true
	}
	var got []record
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("franz-go consume: %v after %d records (%v)", err, len(got), seen)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("franz-go consume: partition %d: %v", fe.Partition, fe.Err)
		}
		fs.EachRecord(func(kr *kgo.Record) {
			r := record{
				Partition:  kr.Partition,
				Offset:     kr.Offset,
				Key:        kr.Key,
				Value:      kr.Value,
				Timestamp:  kr.Timestamp,
				Codec:      int8(kr.Attrs.CompressionType()),
				ProducerID: kr.ProducerID,
			}
			for _, h := range kr.Headers {
				r.Headers = append(r.Headers, header{h.Key, h.Value})
			}
			got = append(got, r)
			seen[kr.Partition]++
		})
	}
	return got
}
