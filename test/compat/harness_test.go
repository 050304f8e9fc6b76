package compat

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testTimeout bounds every round trip: producing, consuming and checking.
const testTimeout = 60 * time.Second

// header is one record header. Order and duplicates matter.
type header struct {
	Key   string
	Value []byte
}

// record is the client-neutral form of a Kafka record, used both for what we
// produce and for what a consumer returns.
type record struct {
	Partition int32
	Offset    int64
	Key       []byte // nil is a null key
	Value     []byte // nil is a null value
	Headers   []header
	// Timestamp is the record's CreateTime. In a want list the zero time
	// means the producer cannot set timestamps (kcat), and the consumed
	// timestamp must then fall inside the produce window.
	Timestamp time.Time

	// Filled only by the franz-go consumer, which exposes batch attributes.
	Codec      int8  // compression codec of the record's batch, -1 if unknown
	ProducerID int64 // -1 for a non-idempotent batch
}

// codec is a Kafka compression codec, named as the clients' configuration
// names it, with its id in the RecordBatch attributes (bits 0-2).
type codec struct {
	Name string
	ID   int8
}

var codecs = []codec{{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}}

// produceReq is what a client's Produce is asked to write.
type produceReq struct {
	Addr, Topic string
	Codec       codec
	Idempotent  bool
	Records     []record // in produce order; each goes to its Partition
}

// client adapts one Kafka client library (or binary) to the tests.
type client struct {
	Name string
	// Produce writes req.Records in order, each to its Partition, and
	// returns what the topic must hold afterwards: req.Records adjusted
	// for what the client cannot express (documented per client).
	Produce func(ctx context.Context, t *testing.T, req produceReq) []record
	// Consume reads every partition in counts from offset 0 until it has
	// at least counts[p] records of it, and returns all records it got.
	Consume func(ctx context.Context, t *testing.T, addr, topic string, counts map[int32]int) []record
	// Nulls: Consume tells a null key or value (nil) from an empty one.
	Nulls bool
	// DefaultIdempotent: the client's producer is idempotent by default;
	// TestCompat and TestCross produce with the client's defaults.
	DefaultIdempotent bool
	// Idempotent: Produce honours produceReq.Idempotent.
	Idempotent bool
	// Librdkafka: the client is librdkafka-based (its codec support
	// depends on ApiVersions quirks).
	Librdkafka bool
}

// testContext returns a context bounded by testTimeout and the test's life.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// within runs fn, which may block without honouring ctx (Sarama's
// synchronous APIs), and fails the test if ctx ends first.
func within(ctx context.Context, t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-ctx.Done():
		t.Fatalf("%s: %v", what, ctx.Err())
	}
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// topicName derives a legal, unique topic name from the test's name.
func topicName(t *testing.T) string {
	name := unsafeTopicChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	return fmt.Sprintf("%s-%08x", name, rand.Uint32())
}

func newKgo(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client. kgo answers Metadata requests from its
// cache for MetadataMinAge (5s by default); a short one keeps polls fresh.
func newAdmin(t *testing.T, addr string) *kadm.Client {
	return kadm.NewClient(newKgo(t, addr, kgo.MetadataMinAge(10*time.Millisecond)))
}

// createTopic creates a topic with the given number of partitions through
// kadm (CreateTopics) and returns its name.
func createTopic(ctx context.Context, t *testing.T, addr string, partitions int32) string {
	t.Helper()
	topic := topicName(t)
	resp, err := newAdmin(t, addr).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	if resp.NumPartitions != partitions {
		t.Fatalf("created topic %s with %d partitions, want %d", topic, resp.NumPartitions, partitions)
	}
	return topic
}

// Record generation.

const (
	testPartitions   = 3
	testPerPartition = 150
	bigValueSize     = 100 << 10
	bigValueIndex    = 77 // index within its partition of the ~100 KiB value
)

// filler makes values long enough, and repetitive enough, that every codec
// shrinks a batch (librdkafka sends a batch uncompressed if compressing does
// not help). It carries bytes that trip naive text handling: NUL, 0xff, CR,
// LF, tab and multi-byte UTF-8. No generated byte is 0x01, which the kcat
// adapter uses in its delimiters.
const filler = "the quick brown fox jumps over the lazy dog \x00\xff\x80\r\n\t é€ "

// bigValue returns a deterministic ~100 KiB value: words picked by a seeded
// generator, plus a few binary bytes, so it compresses but not to nothing.
func bigValue(seed uint64) []byte {
	words := []string{"kafka", "tandem", "broker", "record", "batch", "offset", "\x00\x02", "\xfe\xff", "log", "segment", "leader", "epoch", "\n", "zstd", "lz4", " "}
	r := rand.New(rand.NewPCG(seed, 42))
	var b bytes.Buffer
	for b.Len() < bigValueSize {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:bigValueSize]
}

// genRecords returns perPartition records for each of the partitions, in the
// order they are produced (round-robin over partitions). Per partition it
// covers null and empty keys, empty values, one ~100 KiB value, no headers,
// one header, and several headers with a duplicated key and an empty value.
// Timestamps are explicit, in milliseconds, recent (so retention never
// removes them) and not monotonic within a batch.
func genRecords(partitions int32, perPartition int) []record {
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	recs := make([]record, 0, int(partitions)*perPartition)
	for i := 0; i < int(partitions)*perPartition; i++ {
		p := int32(i % int(partitions))
		n := i / int(partitions)
		r := record{Partition: p, Offset: -1, Codec: -1, ProducerID: -1}
		switch n % 10 {
		case 3:
			r.Key = nil
		case 4:
			r.Key = []byte{}
		default:
			r.Key = fmt.Appendf(nil, "key-%d-%d", p, n)
		}
		switch {
		case n == bigValueIndex:
			r.Value = bigValue(uint64(i))
		case n%13 == 5:
			r.Value = []byte{}
		default:
			r.Value = fmt.Appendf(nil, "value-%d-%06d|%s%s", p, n, filler, strings.Repeat("abcdefgh", n%16))
		}
		switch n % 4 {
		case 0:
		case 1:
			r.Headers = []header{{"trace", fmt.Appendf(nil, "t-%d", i)}}
		default:
			r.Headers = []header{
				{"a", []byte("1")},
				{"dup", []byte("x")},
				{"dup", []byte("y")},
				{"empty", []byte{}},
				{"trace", fmt.Appendf(nil, "t-%d", i)},
			}
		}
		r.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
		if n%7 == 6 { // older than its predecessor: a negative timestamp delta
			r.Timestamp = r.Timestamp.Add(-10 * time.Minute)
		}
		recs = append(recs, r)
	}
	return recs
}

func countByPartition(recs []record) map[int32]int {
	counts := make(map[int32]int)
	for _, r := range recs {
		counts[r.Partition]++
	}
	return counts
}

func byPartition(recs []record) map[int32][]record {
	m := make(map[int32][]record)
	for _, r := range recs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	return m
}

// Checks.

// window is the wall-clock interval during which records were produced.
type window struct{ from, to time.Time }

func (w window) contains(ts time.Time) bool {
	// Clients stamp records in milliseconds and may stamp them while
	// batching, so allow a second of slack each way.
	return !ts.Before(w.from.Add(-time.Second)) && !ts.After(w.to.Add(time.Second))
}

// bytesEqual compares two keys or values; strict also tells nil from empty.
func bytesEqual(a, b []byte, strict bool) bool {
	if strict && (a == nil) != (b == nil) {
		return false
	}
	return bytes.Equal(a, b)
}

func headersEqual(a, b []header) bool {
	return slices.EqualFunc(a, b, func(x, y header) bool {
		return x.Key == y.Key && bytes.Equal(x.Value, y.Value)
	})
}

func showBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) > 40 {
		return fmt.Sprintf("%q...(%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// checkRecords compares what a consumer returned with what the topic must
// hold, record by record, and reports the differences (see diffRecords).
func checkRecords(t *testing.T, who string, want, got []record, w window, strictNulls bool) {
	t.Helper()
	const maxErrors = 10
	diffs := diffRecords(want, got, w, strictNulls)
	for i, d := range diffs {
		if i == maxErrors {
			t.Errorf("%s: %d further differences omitted", who, len(diffs)-maxErrors)
			break
		}
		t.Errorf("%s: %s", who, d)
	}
}

// diffRecords returns the differences between what a consumer returned and
// what the topic must hold. Each partition must hold exactly want's records
// for it, in produce order, at offsets 0, 1, 2, ... . strictNulls also
// requires null keys and values to come back null and empty ones empty.
func diffRecords(want, got []record, w window, strictNulls bool) []string {
	var diffs []string
	fail := func(format string, args ...any) {
		diffs = append(diffs, fmt.Sprintf(format, args...))
	}
	wantBy, gotBy := byPartition(want), byPartition(got)
	for p := range gotBy {
		if _, ok := wantBy[p]; !ok {
			fail("got %d records of partition %d, which was not produced to", len(gotBy[p]), p)
		}
	}
	parts := make([]int32, 0, len(wantBy))
	for p := range wantBy {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		wp, gp := wantBy[p], gotBy[p]
		if len(gp) != len(wp) {
			fail("partition %d: got %d records, want %d", p, len(gp), len(wp))
		}
		for i := range min(len(wp), len(gp)) {
			wr, gr := wp[i], gp[i]
			at := fmt.Sprintf("partition %d record %d", p, i)
			if gr.Offset != int64(i) {
				fail("%s: offset %d, want %d (offsets must be contiguous from 0)", at, gr.Offset, i)
			}
			if !bytesEqual(gr.Key, wr.Key, strictNulls) {
				fail("%s: key %s, want %s", at, showBytes(gr.Key), showBytes(wr.Key))
			}
			if !bytesEqual(gr.Value, wr.Value, strictNulls) {
				fail("%s: value %s, want %s", at, showBytes(gr.Value), showBytes(wr.Value))
			}
			if !headersEqual(gr.Headers, wr.Headers) {
				fail("%s: headers %v, want %v", at, gr.Headers, wr.Headers)
			}
			switch {
			case wr.Timestamp.IsZero():
				if !w.contains(gr.Timestamp) {
					fail("%s: timestamp %v outside the produce window [%v, %v]", at, gr.Timestamp, w.from, w.to)
				}
			case gr.Timestamp.UnixMilli() != wr.Timestamp.UnixMilli():
				fail("%s: timestamp %d ms, want %d ms", at, gr.Timestamp.UnixMilli(), wr.Timestamp.UnixMilli())
			}
		}
	}
	return diffs
}

// checkCodec checks, from records read by the franz-go consumer, that the
// batches on the broker carry the codec the producer was configured with.
// Every batch must be compressed with it or not at all (a client may send a
// batch uncompressed when compressing does not help), and with a real codec
// most records must sit in compressed batches.
func checkCodec(t *testing.T, got []record, c codec) {
	t.Helper()
	n := 0
	for _, r := range got {
		switch r.Codec {
		case c.ID:
			n++
		case 0:
		default:
			t.Errorf("partition %d offset %d: batch compressed with codec %d, want %d (%s) or none", r.Partition, r.Offset, r.Codec, c.ID, c.Name)
			return
		}
	}
	if c.ID != 0 && 2*n < len(got) {
		t.Errorf("only %d of %d records are in %s-compressed batches", n, len(got), c.Name)
	}
}

// checkIdempotent checks that every batch carries a producer ID, i.e. the
// producer really was idempotent.
func checkIdempotent(t *testing.T, got []record) {
	t.Helper()
	for _, r := range got {
		if r.ProducerID < 0 {
			t.Errorf("partition %d offset %d: batch has no producer ID; the producer was not idempotent", r.Partition, r.Offset)
			return
		}
	}
}

// checkOffsets checks ListOffsets: every partition starts at 0 and ends at
// the number of records produced to it, both for read_uncommitted (high
// watermark) and read_committed (last stable offset, equal to the high
// watermark when no transaction is open).
func checkOffsets(ctx context.Context, t *testing.T, addr, topic string, partitions int32, counts map[int32]int) {
	t.Helper()
	adm := newAdmin(t, addr)
	check := func(what string, list func(context.Context, ...string) (kadm.ListedOffsets, error), want func(p int32) int64) {
		t.Helper()
		offs, err := list(ctx, topic)
		if err == nil {
			err = offs.Error()
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for p := range partitions {
			o, ok := offs.Lookup(topic, p)
			switch {
			case !ok:
				t.Errorf("%s: partition %d missing", what, p)
			case o.Offset != want(p):
				t.Errorf("%s: partition %d at %d, want %d", what, p, o.Offset, want(p))
			}
		}
	}
	check("ListStartOffsets", adm.ListStartOffsets, func(int32) int64 { return 0 })
	check("ListEndOffsets", adm.ListEndOffsets, func(p int32) int64 { return int64(counts[p]) })
	check("ListCommittedOffsets", adm.ListCommittedOffsets, func(p int32) int64 { return int64(counts[p]) })
}

// roundTrip starts a broker, creates a topic, produces the generated records
// with prod, and checks what cons reads back. It also reads the topic with
// franz-go, which sees batch attributes, to check the codec on the broker
// and, for idempotent producers, the producer IDs.
func roundTrip(t *testing.T, prod, cons client, c codec, idempotent bool) {
	ctx := testContext(t)
	addr := startBroker(t)
	topic := createTopic(ctx, t, addr, testPartitions)
	recs := genRecords(testPartitions, testPerPartition)

	w := window{from: time.Now()}
	want := prod.Produce(ctx, t, produceReq{Addr: addr, Topic: topic, Codec: c, Idempotent: idempotent, Records: recs})
	w.to = time.Now()
	if t.Failed() {
		return
	}
	counts := countByPartition(want)
	checkOffsets(ctx, t, addr, topic, testPartitions, counts)

	got := cons.Consume(ctx, t, addr, topic, counts)
	checkRecords(t, cons.Name+" consumer", want, got, w, cons.Nulls)

	ref := got
	if cons.Name != franzGo.Name {
		ref = franzGo.Consume(ctx, t, addr, topic, counts)
		checkRecords(t, franzGo.Name+" reference consumer", want, ref, w, true)
	}
	if idempotent {
		checkIdempotent(t, ref)
	}
	checkCodec(t, ref, c)
}

// advertises reports whether the broker at addr lists key in ApiVersions.
func advertises(ctx context.Context, t *testing.T, addr string, key kmsg.Key) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(key) {
			return true
		}
	}
	return false
}
