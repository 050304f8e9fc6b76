package broker_test

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, b *tandemtest.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctxT(t), partitions, 1, configs, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}

// rawBatch builds one uncompressed batch of n records as a producer would.
func rawBatch(t *testing.T, producerID int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	return rawBatchT(t, producerID, epoch, seq, n)
}

func rawBatchT(_ testing.TB, producerID int64, epoch int16, seq int32, n int) []byte {
	bld := record.NewBuilder()
	bld.ProducerID, bld.ProducerEpoch, bld.BaseSequence = producerID, epoch, seq
	for i := 0; i < n; i++ {
		bld.Append(time.Now().UnixMilli(), []byte("k"), []byte("value"))
	}
	return bld.Build()
}

func produceRaw(t *testing.T, c *rawConn, topic string, partition int32, acks int16, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = 11
	req.Acks = acks
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return c.request(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

func TestApiVersionsFromRegistry(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	want := broker.Versions()
	if len(resp.ApiKeys) != len(want) {
		t.Fatalf("advertised %d keys, registry has %d", len(resp.ApiKeys), len(want))
	}
	for i, k := range resp.ApiKeys {
		if k.ApiKey != want[i].Key || k.MinVersion != want[i].Min || k.MaxVersion != want[i].Max {
			t.Errorf("key %d: advertised %d-%d, registry %+v", k.ApiKey, k.MinVersion, k.MaxVersion, want[i])
		}
	}
	// Produce v12 means KIP-890 transactions: never advertised without
	// them.
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 0 && k.MaxVersion >= 12 {
			t.Errorf("Produce v%d advertised without KIP-890", k.MaxVersion)
		}
	}
}

// rawConn talks to the broker without a client library, to send what
// clients never would.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	corr int32
}

func dialRaw(t *testing.T, b *tandemtest.Broker) *rawConn {
	nc, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) send(body []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) recv() ([]byte, error) {
	return wire.ReadFrame(c.br, 1<<30)
}

// request sends req at exactly its version (a kgo client would negotiate
// the version and rewrite acks) and decodes the response.
func (c *rawConn) request(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	c.corr++
	body := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, c.corr)
	if _, err := c.nc.Write(body); err != nil {
		c.t.Fatal(err)
	}
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		return nil
	}
	frame, err := c.recv()
	if err != nil {
		c.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != c.corr {
		c.t.Fatalf("correlation %d, want %d", got, c.corr)
	}
	frame = frame[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		frame = frame[1:] // empty header tags
	}
	if err := resp.ReadFrom(frame); err != nil {
		c.t.Fatalf("decoding %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

func TestApiVersionsUnknownVersionDowngrade(t *testing.T) {
	b := tandemtest.Start(t)
	c := dialRaw(t, b)
	// ApiVersions v99: header v2 with an empty tag section, empty body.
	c.send([]byte{0, 18, 0, 99, 0, 0, 0, 42, 0, 0, 0})
	frame, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	if corr := int32(binary.BigEndian.Uint32(frame)); corr != 42 {
		t.Fatalf("correlation %d", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(frame[4:]); err != nil {
		t.Fatalf("v0 response does not parse: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Fatalf("got error %d with %d keys; want UNSUPPORTED_VERSION with the table", resp.ErrorCode, len(resp.ApiKeys))
	}
}

func TestMalformedRequestsCloseConnectionOnly(t *testing.T) {
	b := tandemtest.Start(t)
	cases := map[string][]byte{
		"unknown api key":     {0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0},
		"unsupported version": {0, 0, 0, 1, 0, 0, 0, 1, 0, 0}, // Produce v1
		"truncated header":    {0, 3, 0},
		"garbage body":        append([]byte{0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0x01),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, b)
			c.send(body)
			if _, err := c.recv(); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
				t.Fatalf("expected the broker to close the connection, got %v", err)
			}
		})
	}
	t.Run("oversized frame", func(t *testing.T) {
		c := dialRaw(t, b)
		if _, err := c.nc.Write([]byte{0x7f, 0xff, 0xff, 0xff}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.recv(); err == nil {
			t.Fatal("oversized frame answered")
		}
	})
	// The broker still serves.
	cl := client(t, b)
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctxT(t), cl); err != nil {
		t.Fatalf("broker unusable after malformed input: %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestProduceFetchRoundTripAllAcks(t *testing.T) {
	b := tandemtest.Start(t)
	for _, acks := range []kgo.Acks{kgo.NoAck(), kgo.LeaderAck(), kgo.AllISRAcks()} {
		opts := []kgo.Opt{kgo.RequiredAcks(acks), kgo.DefaultProduceTopic("rt")}
		if acks != kgo.AllISRAcks() {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
		cl := client(t, b, opts...)
		if acks == kgo.NoAck() {
			createTopic(t, cl, "rt", 1, nil)
		}
		start, err := kadm.NewClient(cl).ListEndOffsets(ctxT(t), "rt")
		if err != nil {
			t.Fatal(err)
		}
		base, _ := start.Lookup("rt", 0)
		const n = 50
		for i := 0; i < n; i++ {
			r := &kgo.Record{Key: []byte{byte(i)}, Value: []byte(strings.Repeat("x", i)),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{byte(i)}}}}
			if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
				t.Fatalf("acks %v: %v", acks, err)
			}
		}
		cons := client(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"rt": {0: kgo.NewOffset().At(base.Offset)}}))
		var got []*kgo.Record
		for len(got) < n {
			fs := cons.PollFetches(ctxT(t))
			if errs := fs.Errors(); len(errs) > 0 {
				t.Fatalf("fetch: %v", errs)
			}
			got = append(got, fs.Records()...)
		}
		for i, r := range got {
			if r.Offset != base.Offset+int64(i) || r.Key[0] != byte(i) || len(r.Value) != i || r.Headers[0].Value[0] != byte(i) {
				t.Fatalf("acks %v: record %d = offset %d key %v len %d", acks, i, r.Offset, r.Key, len(r.Value))
			}
		}
	}
}

func TestIdempotentDuplicateAndSequenceErrors(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	createTopic(t, cl, "idem", 1, nil)
	rc := dialRaw(t, b)
	pid, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctxT(t), cl)
	if err != nil || pid.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, pid.ErrorCode)
	}
	first := produceRaw(t, rc, "idem", 0, -1, rawBatch(t, pid.ProducerID, 0, 0, 3))
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first batch: %+v", first)
	}
	second := produceRaw(t, rc, "idem", 0, -1, rawBatch(t, pid.ProducerID, 0, 3, 2))
	if second.ErrorCode != 0 || second.BaseOffset != 3 {
		t.Fatalf("second batch: %+v", second)
	}
	// A retry of the first batch is answered with its original offset.
	dup := produceRaw(t, rc, "idem", 0, -1, rawBatch(t, pid.ProducerID, 0, 0, 3))
	if dup.ErrorCode != 0 || dup.BaseOffset != 0 {
		t.Fatalf("duplicate: %+v, want offset 0 and no error", dup)
	}
	gap := produceRaw(t, rc, "idem", 0, -1, rawBatch(t, pid.ProducerID, 0, 9, 1))
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", gap.ErrorCode)
	}
	end, err := kadm.NewClient(cl).ListEndOffsets(ctxT(t), "idem")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := end.Lookup("idem", 0); o.Offset != 5 {
		t.Fatalf("end offset %d, want 5 (the duplicate and the gap appended nothing)", o.Offset)
	}
	// A second producer id is never the first again.
	pid2, _ := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctxT(t), cl)
	if pid2.ProducerID == pid.ProducerID {
		t.Fatal("producer id handed out twice")
	}
	// Transactional producers are refused with UNSUPPORTED_VERSION (fatal
	// in clients, printed as "not supported") until the coordinator exists.
	txn := kmsg.NewPtrInitProducerIDRequest()
	txn.TransactionalID = kmsg.StringPtr("tx")
	tr, err := txn.RequestWith(ctxT(t), cl.Broker(1)) // not via a coordinator lookup
	if err != nil {
		t.Fatal(err)
	}
	if tr.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("transactional init: %v %d", err, tr.ErrorCode)
	}
}

func TestProduceValidation(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	createTopic(t, cl, "val", 1, map[string]*string{"max.message.bytes": kmsg.StringPtr("2000")})
	rc := dialRaw(t, b)
	good := rawBatch(t, -1, -1, -1, 2)

	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0xff
	if r := produceRaw(t, rc, "val", 0, 1, badCRC); r.ErrorCode != kerr.CorruptMessage.Code {
		t.Errorf("bad CRC: error %d, want CORRUPT_MESSAGE", r.ErrorCode)
	}
	control := record.NewControlBatch(5, 0, true, 0, time.Now().UnixMilli())
	if r := produceRaw(t, rc, "val", 0, 1, control); r.ErrorCode == 0 {
		t.Errorf("control batch from a client accepted")
	}
	bld := record.NewBuilder()
	bld.Append(time.Now().UnixMilli(), nil, make([]byte, 5000))
	big := bld.Build()
	if r := produceRaw(t, rc, "val", 0, 1, big); r.ErrorCode != kerr.MessageTooLarge.Code {
		t.Errorf("oversized batch: error %d, want MESSAGE_TOO_LARGE", r.ErrorCode)
	}
	if r := produceRaw(t, rc, "val", 0, 1, good[:len(good)-3]); r.ErrorCode == 0 {
		t.Errorf("truncated batch accepted")
	}
	if r := produceRaw(t, rc, "val", 0, 2, good); r.ErrorCode != kerr.InvalidRequiredAcks.Code {
		t.Errorf("acks=2: error %d, want INVALID_REQUIRED_ACKS", r.ErrorCode)
	}
	if r := produceRaw(t, rc, "nope", 0, 1, good); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: error %d", r.ErrorCode)
	}
	if r := produceRaw(t, rc, "val", 0, 1, good); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Errorf("valid batch after rejected ones: %+v (rejected batches must append nothing)", r)
	}
	// min.insync.replicas above the single replica fails acks=all only.
	createTopic(t, cl, "isr", 1, map[string]*string{"min.insync.replicas": kmsg.StringPtr("2")})
	if r := produceRaw(t, rc, "isr", 0, -1, good); r.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Errorf("min.insync.replicas=2 acks=all: error %d, want NOT_ENOUGH_REPLICAS", r.ErrorCode)
	}
	if r := produceRaw(t, rc, "isr", 0, 1, good); r.ErrorCode != 0 {
		t.Errorf("min.insync.replicas=2 acks=1: error %d", r.ErrorCode)
	}
}

func fetchReq(topic string, partition int32, offset int64, maxWait int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWait
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func TestFetchLongPollWakesOnProduce(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	createTopic(t, cl, "lp", 1, nil)
	req := fetchReq("lp", 0, 0, 20000)
	req.Version = 12
	fc := dialRaw(t, b)
	type result struct {
		resp *kmsg.FetchResponse
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		resp := fc.request(req).(*kmsg.FetchResponse)
		done <- result{resp, nil, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("fetch returned before any data: %+v", r)
	default:
	}
	if r := produceRaw(t, dialRaw(t, b), "lp", 0, -1, rawBatch(t, -1, -1, -1, 1)); r.ErrorCode != 0 {
		t.Fatal(r.ErrorCode)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	p := r.resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 1 {
		t.Fatalf("partition %+v", p)
	}
	if r.took > 15*time.Second {
		t.Fatalf("long poll took %v: it was not woken by the produce", r.took)
	}
}

func TestFetchErrors(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	createTopic(t, cl, "fe", 1, nil)
	rc := dialRaw(t, b)
	produceRaw(t, rc, "fe", 0, -1, rawBatch(t, -1, -1, -1, 5))

	req := fetchReq("fe", 0, 99, 0)
	req.Version = 12
	resp := rc.request(req).(*kmsg.FetchResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.OffsetOutOfRange.Code || p.HighWatermark != 5 || p.LogStartOffset != 0 {
		t.Fatalf("out of range: %+v", p)
	}
	// LastFetchedEpoch beyond every epoch the log has → DivergingEpoch.
	req = fetchReq("fe", 0, 5, 0)
	req.Version = 12
	req.Topics[0].Partitions[0].LastFetchedEpoch = 7
	resp = rc.request(req).(*kmsg.FetchResponse)
	// Kafka's LeaderEpochFileCache answers an epoch above every known one
	// with UNDEFINED (-1, -1); Partition.readRecords turns that into
	// OFFSET_OUT_OF_RANGE ("could not determine the end offset of the last
	// fetched epoch"), since a DivergingEpoch of (-1, -1) means none.
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.OffsetOutOfRange.Code || len(p.RecordBatches) != 0 {
		t.Fatalf("unknown last fetched epoch: error %d %+v", p.ErrorCode, p.DivergingEpoch)
	}
	// A fetcher that believes epoch 0 went on past offset 5 diverged at 5.
	req = fetchReq("fe", 0, 7, 0)
	req.Version = 12
	req.Topics[0].Partitions[0].LastFetchedEpoch = 0
	resp = rc.request(req).(*kmsg.FetchResponse)
	p = resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.DivergingEpoch.Epoch != 0 || p.DivergingEpoch.EndOffset != 5 || len(p.RecordBatches) != 0 {
		t.Fatalf("diverging epoch: error %d %+v", p.ErrorCode, p.DivergingEpoch)
	}
	// Fenced / unknown leader epochs.
	for epoch, want := range map[int32]int16{1: kerr.UnknownLeaderEpoch.Code} {
		req = fetchReq("fe", 0, 0, 0)
		req.Version = 12
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
		resp = rc.request(req).(*kmsg.FetchResponse)
		if got := resp.Topics[0].Partitions[0].ErrorCode; got != want {
			t.Errorf("current leader epoch %d: error %d, want %d", epoch, got, want)
		}
	}
	// Unknown topic id at v13+.
	req = fetchReq("", 0, 0, 0)
	req.Version = 13
	req.Topics[0].TopicID = [16]byte{9, 9}
	resp = rc.request(req).(*kmsg.FetchResponse)
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.UnknownTopicID.Code {
		t.Errorf("unknown topic id: %d", got)
	}
	// A fetch session id is refused; sessions are not used.
	req = fetchReq("fe", 0, 0, 0)
	req.Version = 12
	req.SessionID, req.SessionEpoch = 1234, 1
	resp = rc.request(req).(*kmsg.FetchResponse)
	if resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Errorf("session: error %d", resp.ErrorCode)
	}
}

func TestListOffsetsAndDeleteRecords(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b, kgo.DefaultProduceTopic("lo"))
	createTopic(t, cl, "lo", 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		ts := base.Add(time.Duration(i) * time.Minute)
		if i == 7 {
			ts = base.Add(time.Hour) // the max timestamp, not last
		}
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte{byte(i)}, Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	lookup := func(l kadm.ListedOffsets, err error) kadm.ListedOffset {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		o, ok := l.Lookup("lo", 0)
		if !ok || o.Err != nil {
			t.Fatalf("lookup: %v %v", ok, o.Err)
		}
		return o
	}
	if o := lookup(adm.ListStartOffsets(ctxT(t), "lo")); o.Offset != 0 {
		t.Errorf("start %d", o.Offset)
	}
	if o := lookup(adm.ListEndOffsets(ctxT(t), "lo")); o.Offset != 10 {
		t.Errorf("end %d", o.Offset)
	}
	if o := lookup(adm.ListOffsetsAfterMilli(ctxT(t), base.Add(150*time.Second).UnixMilli(), "lo")); o.Offset != 3 {
		t.Errorf("by timestamp: offset %d, want 3", o.Offset)
	}
	if o := lookup(adm.ListMaxTimestampOffsets(ctxT(t), "lo")); o.Offset != 7 || o.Timestamp != base.Add(time.Hour).UnixMilli() {
		t.Errorf("max timestamp: offset %d ts %d, want 7", o.Offset, o.Timestamp)
	}
	// DeleteRecords moves the log start offset.
	drs, err := adm.DeleteRecords(ctxT(t), kadm.Offsets{"lo": {0: {Topic: "lo", Partition: 0, At: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if dr, _ := drs.Lookup("lo", 0); dr.Err != nil || dr.LowWatermark != 4 {
		t.Fatalf("delete records: %+v", dr)
	}
	if o := lookup(adm.ListStartOffsets(ctxT(t), "lo")); o.Offset != 4 {
		t.Errorf("start after delete %d, want 4", o.Offset)
	}
	drs, _ = adm.DeleteRecords(ctxT(t), kadm.Offsets{"lo": {0: {Topic: "lo", Partition: 0, At: 11}}})
	if dr, _ := drs.Lookup("lo", 0); !errors.Is(dr.Err, kerr.OffsetOutOfRange) {
		t.Errorf("delete past the high watermark: %v", dr.Err)
	}
	// Survives a restart.
	b.Restart()
	if o := lookup(adm.ListStartOffsets(ctxT(t), "lo")); o.Offset != 4 {
		t.Errorf("start after restart %d, want 4", o.Offset)
	}
}

func TestTopicAdmin(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	cases := []struct {
		name    string
		parts   int32
		rf      int16
		configs map[string]*string
		want    error
	}{
		{"ok", 3, 1, nil, nil},
		{"bad/name", 1, 1, nil, kerr.InvalidTopicException},
		{strings.Repeat("x", 250), 1, 1, nil, kerr.InvalidTopicException},
		{"rf3", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"zero", 0, 1, nil, kerr.InvalidPartitions},
		{"badcfg", 1, 1, map[string]*string{"retention.ms": kmsg.StringPtr("soon")}, kerr.InvalidConfig},
		{"unknowncfg", 1, 1, map[string]*string{"no.such.config": kmsg.StringPtr("1")}, kerr.InvalidConfig},
		{"ok", 1, 1, nil, kerr.TopicAlreadyExists},
	}
	for _, c := range cases {
		// kadm returns the topic's error as err too.
		resp, _ := adm.CreateTopic(ctx, c.parts, c.rf, c.configs, c.name)
		if !errors.Is(resp.Err, c.want) {
			t.Errorf("create %s: %v, want %v", c.name, resp.Err, c.want)
		}
	}
	// '.' and '_' collide.
	if resp, _ := adm.CreateTopic(ctx, 1, 1, nil, "a.b"); resp.Err != nil {
		t.Fatal(resp.Err)
	}
	if resp, _ := adm.CreateTopic(ctx, 1, 1, nil, "a_b"); !errors.Is(resp.Err, kerr.InvalidTopicException) {
		t.Errorf("colliding name: %v", resp.Err)
	}
	// Validate-only creates nothing.
	if resp, err := adm.ValidateCreateTopics(ctx, 1, 1, nil, "ghost"); err != nil || resp["ghost"].Err != nil {
		t.Fatalf("validate-only create: %v %v", err, resp["ghost"].Err)
	}
	if td, _ := adm.ListTopics(ctx, "ghost"); td.Has("ghost") && td["ghost"].Err == nil {
		t.Errorf("validate-only created the topic")
	}
	// CreatePartitions.
	if r, err := adm.CreatePartitions(ctx, 2, "ok"); err != nil || r["ok"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, r["ok"].Err)
	}
	td, err := adm.ListTopics(ctx, "ok")
	if err != nil || len(td["ok"].Partitions) != 5 {
		t.Fatalf("partitions after growth: %v %d", err, len(td["ok"].Partitions))
	}
	if r, _ := adm.UpdatePartitions(ctx, 2, "ok"); !errors.Is(r["ok"].Err, kerr.InvalidPartitions) {
		t.Errorf("shrink: %v", r["ok"].Err)
	}
	// Delete, then the topic is gone and can be re-created empty.
	p := client(t, b, kgo.DefaultProduceTopic("ok"))
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("x"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r, err := adm.DeleteTopics(ctx, "ok"); err != nil || r["ok"].Err != nil {
		t.Fatalf("delete: %v %v", err, r["ok"].Err)
	}
	if r, _ := adm.DeleteTopics(ctx, "ok"); !errors.Is(r["ok"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("delete twice: %v", r["ok"].Err)
	}
	if resp, _ := adm.CreateTopic(ctx, 1, 1, nil, "ok"); resp.Err != nil {
		t.Fatal(resp.Err)
	}
	ends, _ := adm.ListEndOffsets(ctx, "ok")
	if o, _ := ends.Lookup("ok", 0); o.Offset != 0 {
		t.Errorf("re-created topic has end offset %d", o.Offset)
	}
}

func TestMetadataAutoCreate(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("auto")
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	mt := resp.Topics[0]
	if mt.ErrorCode != 0 || len(mt.Partitions) != 1 || mt.TopicID == ([16]byte{}) || mt.Partitions[0].Leader != resp.Brokers[0].NodeID {
		t.Fatalf("auto-created topic: %+v", mt)
	}
	req.AllowAutoTopicCreation = false
	req.Topics[0].Topic = kmsg.StringPtr("noauto")
	resp, _ = req.RequestWith(ctxT(t), cl)
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("no auto-create: %d", resp.Topics[0].ErrorCode)
	}

	off := tandemtest.Start(t, tandemtest.Config("auto.create.topics.enable", "false"))
	cl2 := client(t, off)
	req.AllowAutoTopicCreation = true
	resp, _ = req.RequestWith(ctxT(t), cl2)
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("auto.create.topics.enable=false: %d", resp.Topics[0].ErrorCode)
	}
}

func TestConfigsDescribeAlter(t *testing.T) {
	b := tandemtest.Start(t, tandemtest.Config("log.retention.hours", "24"))
	cl := client(t, b)
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	createTopic(t, cl, "cfg", 1, map[string]*string{"retention.bytes": kmsg.StringPtr("1000000")})

	rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("cfg", nil)
	find := func(rc kadm.ResourceConfig, name string) kadm.Config {
		for _, c := range rc.Configs {
			if c.Key == name {
				return c
			}
		}
		t.Fatalf("%s not described", name)
		return kadm.Config{}
	}
	if c := find(rc, "retention.bytes"); c.MaybeValue() != "1000000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("retention.bytes = %q from %v", c.MaybeValue(), c.Source)
	}
	c := find(rc, "retention.ms")
	if c.MaybeValue() != "86400000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("retention.ms = %q from %v, want 86400000 from the static log.retention.hours", c.MaybeValue(), c.Source)
	}
	if len(c.Synonyms) == 0 || c.Synonyms[0].Key != "log.retention.hours" {
		t.Errorf("retention.ms synonyms %+v", c.Synonyms)
	}

	// Incremental alter: set, then delete back to the default.
	if r, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1000")}}, "cfg"); err != nil || r[0].Err != nil {
		t.Fatalf("alter: %v %v", err, r)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "cfg")
	rc, _ = rcs.On("cfg", nil)
	if c := find(rc, "retention.ms"); c.MaybeValue() != "1000" {
		t.Errorf("after set: %q", c.MaybeValue())
	}
	if r, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "cfg"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "segment.bytes", Value: kmsg.StringPtr("12")}}, "cfg"); !errors.Is(r[0].Err, kerr.InvalidConfig) {
		t.Errorf("invalid value: %v", r[0].Err)
	}
	// Legacy AlterConfigs replaces the whole set: retention.bytes goes.
	if r, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "cleanup.policy", Value: kmsg.StringPtr("delete")}}, "cfg"); err != nil || r[0].Err != nil {
		t.Fatalf("legacy alter: %v %v", err, r)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "cfg")
	rc, _ = rcs.On("cfg", nil)
	if c := find(rc, "retention.bytes"); c.Source == kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("legacy AlterConfigs kept retention.bytes")
	}
	// Broker configs: static sources, read-only keys refused dynamically.
	brs, err := adm.DescribeBrokerConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := find(brs[0], "log.retention.hours"); c.MaybeValue() != "24" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("log.retention.hours = %q from %v", c.MaybeValue(), c.Source)
	}
	if r, _ := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "listeners", Value: kmsg.StringPtr("PLAINTEXT://:1")}}); r[0].Err == nil {
		t.Errorf("dynamic listeners change accepted")
	}
	if r, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: kmsg.StringPtr("5000")}}); err != nil || r[0].Err != nil {
		t.Fatalf("dynamic broker config: %v %v", err, r)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "cfg")
	rc, _ = rcs.On("cfg", nil)
	// kadm alters the cluster-wide default (resource "") when no broker
	// is named.
	if c := find(rc, "retention.ms"); c.MaybeValue() != "5000" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("topic retention.ms after dynamic broker change = %q from %v", c.MaybeValue(), c.Source)
	}
}

func TestDescribeClusterAndLogDirs(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b, kgo.DefaultProduceTopic("ld"))
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	createTopic(t, cl, "ld", 2, nil)
	val := make([]byte, 1000)
	_, _ = crand.Read(val) // incompressible
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Cluster != b.Node.ClusterID() || len(meta.Brokers) != 1 || meta.Controller != meta.Brokers[0].NodeID {
		t.Fatalf("cluster %+v", meta)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { size += p.Size })
	})
	if size < 1000 {
		t.Fatalf("log dirs report %d bytes, want at least the 1000 produced", size)
	}
}

func TestInternalOffsetsTopic(t *testing.T) {
	b := tandemtest.Start(t)
	cl := client(t, b)
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	td, err := adm.ListTopicsWithInternal(ctx, broker.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	ot := td[broker.OffsetsTopic]
	if ot.Err != nil || !ot.IsInternal || len(ot.Partitions) != 5 {
		t.Fatalf("%s: err %v internal %v partitions %d", broker.OffsetsTopic, ot.Err, ot.IsInternal, len(ot.Partitions))
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, broker.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On(broker.OffsetsTopic, nil)
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
			t.Errorf("cleanup.policy = %q, want compact", c.MaybeValue())
		}
	}
	rc2 := dialRaw(t, b)
	if r := produceRaw(t, rc2, broker.OffsetsTopic, 0, 1, rawBatch(t, -1, -1, -1, 1)); r.ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("produce to %s: error %d, want INVALID_TOPIC_EXCEPTION", broker.OffsetsTopic, r.ErrorCode)
	}
	if r, _ := adm.DeleteTopics(ctx, broker.OffsetsTopic); r[broker.OffsetsTopic].Err == nil {
		t.Errorf("deleting %s succeeded", broker.OffsetsTopic)
	}
}

// TestGroupCommitSurvivesRestart is a smoke test of the coordinator's
// wiring: a group consumer commits, the broker restarts, and the committed
// offsets and the group are still there (loaded from __consumer_offsets).
func TestGroupCommitSurvivesRestart(t *testing.T) {
	b := tandemtest.Start(t)
	p := client(t, b, kgo.DefaultProduceTopic("gc"))
	createTopic(t, p, "gc", 3, nil)
	for i := 0; i < 30; i++ {
		if err := p.ProduceSync(ctxT(t), &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c := client(t, b, kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("gc"), kgo.DisableAutoCommit())
	n := 0
	for n < 30 {
		fs := c.PollFetches(ctxT(t))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		n += fs.NumRecords()
	}
	if err := c.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	for p, o := range c.CommittedOffsets()["gc"] {
		want[p] = o.Offset
	}
	c.Close()
	b.Restart()
	adm := kadm.NewClient(client(t, b))
	var lag kadm.DescribedGroupLags
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		lag, err = adm.Lag(ctxT(t), "g1")
		if err == nil && lag.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag after restart: %v %v", err, lag.Error())
		}
		time.Sleep(100 * time.Millisecond) // shards load after a restart
	}
	var total int64
	for _, l := range lag["g1"].Lag["gc"] {
		if l.Commit.At != want[l.Partition] && !(l.Commit.At == -1 && want[l.Partition] == 0) {
			t.Errorf("partition %d committed %d after restart, %d before", l.Partition, l.Commit.At, want[l.Partition])
		}
		if l.Lag != 0 {
			t.Errorf("partition %d lag %d after committing everything", l.Partition, l.Lag)
		}
		total += max(l.Commit.At, 0)
	}
	if total != 30 {
		t.Fatalf("committed offsets cover %d records after restart, want 30", total)
	}
}

// TestOffsetsTopicReadableAndCompacted reads __consumer_offsets the way
// tools do (a plain consumer decoding Kafka's record formats with kmsg) and
// checks that compaction keeps it from growing without bound.
func TestOffsetsTopicReadableAndCompacted(t *testing.T) {
	b := tandemtest.Start(t,
		tandemtest.Config("offsets.topic.num.partitions", "1"),
		tandemtest.Config("offsets.topic.segment.bytes", "1048576"),
		tandemtest.Config("log.cleaner.backoff.ms", "50"),
		tandemtest.Config("log.cleaner.min.cleanable.ratio", "0.1"),
	)
	cl := client(t, b)
	createTopic(t, cl, "ct", 1, nil)
	adm := kadm.NewClient(cl)
	const commits = 12000 // ~1.4 MB of offset records: at least one rolled segment
	for i := 1; i <= commits; i++ {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "ct", Partition: 0, At: int64(i), LeaderEpoch: -1})
		r, err := adm.CommitOffsets(ctxT(t), "tools", os)
		if err != nil || r.Error() != nil {
			t.Fatalf("commit %d: %v %v", i, err, r.Error())
		}
	}
	// Wait for the cleaner to compact the rolled segments.
	var size int64
	for deadline := time.Now().Add(20 * time.Second); ; {
		dirs, err := adm.DescribeAllLogDirs(ctxT(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		size = 0
		dirs.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic == broker.OffsetsTopic {
					size += p.Size
				}
			})
		})
		if size < 1<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("__consumer_offsets is %d bytes after %d commits of one key: not compacted", size, commits)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A plain consumer decodes the latest commit with Kafka's formats.
	cons := client(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{broker.OffsetsTopic: {0: kgo.NewOffset().AtStart()}}))
	var last int64 = -1
	records := 0
	ends, _ := adm.ListEndOffsets(ctxT(t), broker.OffsetsTopic)
	end, _ := ends.Lookup(broker.OffsetsTopic, 0)
	for done := false; !done; {
		fs := cons.PollFetches(ctxT(t))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			records++
			done = r.Offset+1 >= end.Offset
			var k kmsg.OffsetCommitKey
			if err := k.ReadFrom(r.Key); err != nil || k.Version > 1 || k.Group != "tools" {
				return // group metadata and other keys
			}
			var v kmsg.OffsetCommitValue
			if r.Value == nil {
				return
			}
			if err := v.ReadFrom(r.Value); err != nil {
				t.Fatalf("offset commit value at %d: %v", r.Offset, err)
			}
			last = v.Offset
		})
	}
	if last != commits {
		t.Fatalf("latest committed offset read from %s is %d, want %d", broker.OffsetsTopic, last, commits)
	}
	if records >= commits {
		t.Fatalf("read %d records for %d commits of one key: compaction removed nothing", records, commits)
	}
	t.Logf("%d commits of one key: %d bytes, %d records left after compaction", commits, size, records)
}

func TestMirrorTopicIsReadOnly(t *testing.T) {
	b := tandemtest.Start(t)
	br := b.Node.Broker()
	// The link the mirror belongs to (a mirror whose link does not exist
	// is detached by the link manager at start).
	if err := b.Node.Store().CreateLink(metadata.Link{Name: "dr", Configs: map[string]string{"bootstrap.servers": "127.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	_, err := br.CreateTopic(broker.TopicSpec{Name: "mirror", Partitions: 1, ReplicationFactor: 1,
		Mirror: &metadata.Mirror{Link: "dr", SourceTopic: "orders", State: metadata.MirrorActive}}, false)
	if err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, b)
	r := produceRaw(t, rc, "mirror", 0, 1, rawBatch(t, -1, -1, -1, 1))
	if r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil ||
		*r.ErrorMessage != "Cannot append records to read-only mirror topic 'mirror'" {
		t.Fatalf("produce to an active mirror: error %d %v", r.ErrorCode, r.ErrorMessage)
	}
	// Configs are the link's while the mirror is active.
	adm := kadm.NewClient(client(t, b))
	if r, _ := adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1000")}}, "mirror"); !errors.Is(r[0].Err, kerr.InvalidConfig) ||
		r[0].ErrMessage != "Cannot set configuration 'retention.ms' for mirror topic 'mirror'" {
		t.Errorf("config change on an active mirror: %v %q", r[0].Err, r[0].ErrMessage)
	}
	if r, _ := adm.AlterTopicConfigsState(ctxT(t), []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1000")}}, "mirror"); !errors.Is(r[0].Err, kerr.InvalidConfig) {
		t.Errorf("legacy AlterConfigs on an active mirror: %v", r[0].Err)
	}
	// The state survives a restart.
	b.Restart()
	rc = dialRaw(t, b)
	if r := produceRaw(t, rc, "mirror", 0, 1, rawBatch(t, -1, -1, -1, 1)); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("after restart: error %d", r.ErrorCode)
	}
	// Failover: writable, in a new leader epoch.
	br = b.Node.Broker()
	if err := br.SetMirrorState("mirror", metadata.Mirror{Link: "dr", SourceTopic: "orders", State: metadata.MirrorStopped}); err != nil {
		t.Fatal(err)
	}
	r = produceRaw(t, rc, "mirror", 0, 1, rawBatch(t, -1, -1, -1, 2))
	if r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("produce after failover: %+v", r)
	}
	md, err := br.TopicByName("mirror")
	if err != nil || md.LeaderEpochs[0] != 1 || md.Mirror.State != metadata.MirrorStopped {
		t.Fatalf("after failover: epochs %v mirror %+v err %v", md.LeaderEpochs, md.Mirror, err)
	}
}
