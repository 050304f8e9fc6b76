package compat

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAdmin drives topic administration and offset listing through
// franz-go's kadm: CreateTopics, Metadata, ListOffsets (earliest, latest,
// latest read_committed, by timestamp) and DeleteTopics.
func TestAdmin(t *testing.T) {
	ctx := testContext(t)
	addr := startBroker(t)
	adm := newAdmin(t, addr)
	a, b := topicName(t)+"-a", topicName(t)+"-b"

	// Create both, with different partition counts.
	created, err := adm.CreateTopics(ctx, 4, 1, nil, a)
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	createdB, err := adm.CreateTopics(ctx, 1, 1, nil, b)
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	for topic, want := range map[string]int32{a: 4, b: 1} {
		resp, ok := created[topic]
		if !ok {
			resp, ok = createdB[topic]
		}
		switch {
		case !ok:
			t.Fatalf("CreateTopics: no response for %s", topic)
		case resp.Err != nil:
			t.Fatalf("CreateTopics %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
		case resp.NumPartitions != want:
			t.Errorf("CreateTopics %s: %d partitions, want %d", topic, resp.NumPartitions, want)
		case resp.ID == (kadm.TopicID{}):
			t.Errorf("CreateTopics %s: no topic ID", topic)
		}
	}

	// Creating an existing topic fails with TOPIC_ALREADY_EXISTS.
	again, err := adm.CreateTopics(ctx, 4, 1, nil, a)
	if err != nil {
		t.Fatalf("CreateTopics again: %v", err)
	}
	if err := again[a].Err; !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Errorf("creating %s again: %v, want %v", a, err, kerr.TopicAlreadyExists)
	}

	// Metadata lists both, with a leader for every partition and the IDs
	// CreateTopics returned.
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	for topic, want := range map[string]int{a: 4, b: 1} {
		d, ok := topics[topic]
		if !ok {
			t.Fatalf("ListTopics: %s missing (got %v)", topic, topics.Names())
		}
		if d.Err != nil || len(d.Partitions) != want {
			t.Errorf("ListTopics %s: err %v, %d partitions, want %d", topic, d.Err, len(d.Partitions), want)
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				t.Errorf("ListTopics %s partition %d: err %v, leader %d", topic, p.Partition, p.Err, p.Leader)
			}
		}
	}
	if id := topics[a].ID; id != created[a].ID {
		t.Errorf("ListTopics %s: ID %v, CreateTopics said %v", a, id, created[a].ID)
	}

	// A topic that does not exist is reported as UNKNOWN_TOPIC_OR_PARTITION.
	missing := topicName(t) + "-missing"
	if ds, err := adm.ListTopics(ctx, missing); err != nil {
		t.Fatalf("ListTopics %s: %v", missing, err)
	} else if err := ds[missing].Err; !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("ListTopics %s: %v, want %v", missing, err, kerr.UnknownTopicOrPartition)
	}

	// Produce 3 records to partition 0 and 10 to partition 2, one second
	// apart, then list offsets.
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range 10 {
		ts := base.Add(time.Duration(i) * time.Second)
		if i < 3 {
			recs = append(recs, &kgo.Record{Topic: a, Partition: 0, Value: []byte("p0"), Timestamp: ts})
		}
		recs = append(recs, &kgo.Record{Topic: a, Partition: 2, Value: []byte("p2"), Timestamp: ts})
	}
	prod := newKgo(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	counts := map[int32]int{0: 3, 2: 10}
	checkOffsets(ctx, t, addr, a, 4, counts)

	// The first offset at or after base+5.5s is offset 6 of partition 2.
	after, err := adm.ListOffsetsAfterMilli(ctx, base.Add(5500*time.Millisecond).UnixMilli(), a)
	if err == nil {
		err = after.Error()
	}
	if err != nil {
		t.Fatalf("ListOffsetsAfterMilli: %v", err)
	}
	if o, _ := after.Lookup(a, 2); o.Offset != 6 || o.Timestamp != base.Add(6*time.Second).UnixMilli() {
		t.Errorf("ListOffsetsAfterMilli partition 2: offset %d timestamp %d, want 6 and %d", o.Offset, o.Timestamp, base.Add(6*time.Second).UnixMilli())
	}

	// Delete a; b stays. Deletion may complete asynchronously, so poll
	// Metadata (bounded by ctx) until a is gone.
	deleted, err := adm.DeleteTopics(ctx, a)
	if err == nil {
		err = deleted.Error()
	}
	if err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	for {
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatalf("ListTopics after delete: %v", err)
		}
		if !topics.Has(b) {
			t.Fatalf("ListTopics after deleting %s: %s missing too", a, b)
		}
		if !topics.Has(a) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still listed after DeleteTopics: %v", a, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestApiVersions checks what the broker advertises where clients depend on
// it beyond the version ranges themselves.
func TestApiVersions(t *testing.T) {
	ctx := testContext(t)
	addr := startBroker(t)
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, newKgo(t, addr))
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	keys := make(map[int16]kmsg.ApiVersionsResponseApiKey)
	for _, k := range resp.ApiKeys {
		keys[k.ApiKey] = k
	}

	t.Run("produce-from-v0", func(t *testing.T) {
		// KAFKA-18659: librdkafka <= 2.11.0 (Debian's kcat links 2.0.2)
		// sends gzip, snappy and lz4 batches uncompressed unless the broker
		// lists Produce v0 (librdkafka#4956).
		produce, ok := keys[kmsg.Produce.Int16()]
		if !ok {
			t.Fatalf("Produce not advertised")
		}
		if produce.MinVersion != 0 {
			t.Errorf("Produce advertised from v%d; advertise v0 (KAFKA-18659) or librdkafka <= 2.11.0 will not compress gzip/snappy/lz4", produce.MinVersion)
		}
	})
}
