package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

var anonymous = auth.Principal{Type: auth.UserType, Name: "ANONYMOUS"}

// oneBatch is the PartitionMaxBytes that holds one batch of
// produceBatches, not two.
var oneBatch = int32(len(rawBatchT(nil, -1, -1, -1, 1))) + 10

// lfPart is a partition of a LinkFetch request: from offset (or
// wire.LinkFetchContinue), one batch at a time.
func lfPart(p int32, offset int64) wire.LinkFetchPartition {
	return wire.LinkFetchPartition{Partition: p, CurrentLeaderEpoch: -1, FetchOffset: offset, LastFetchedEpoch: -1, PartitionMaxBytes: oneBatch}
}

// lfReq is a LinkFetch request that answers at once.
func lfReq(session int64, topic [16]byte, parts ...wire.LinkFetchPartition) *wire.LinkFetchRequest {
	return &wire.LinkFetchRequest{SessionID: session, MinBytes: 1, MaxBytes: 1 << 20,
		Topics: []wire.LinkFetchTopic{{TopicID: topic, Partitions: parts}}}
}

// lfTopic creates a topic of n partitions and returns its id.
func lfTopic(t *testing.T, b *tandemtest.Broker, name string, n int32) [16]byte {
	t.Helper()
	cl := client(t, b)
	createTopic(t, cl, name, n, nil)
	tds, err := kadm.NewClient(cl).ListTopics(ctxT(t), name)
	if err != nil || tds[name].Err != nil {
		t.Fatalf("describe %s: %v %v", name, err, tds[name].Err)
	}
	return tds[name].ID
}

// produceBatches appends n batches of one record each to topic/partition.
func produceBatches(t *testing.T, b *tandemtest.Broker, topic string, partition int32, n int) {
	t.Helper()
	rc := dialRaw(t, b)
	for i := 0; i < n; i++ {
		if r := produceRaw(t, rc, topic, partition, -1, rawBatch(t, -1, -1, -1, 1)); r.ErrorCode != 0 {
			t.Fatalf("produce: %d", r.ErrorCode)
		}
	}
}

// batchOffsets lists the [base, last] offsets of the batches of records.
func batchOffsets(t *testing.T, records []byte) [][2]int64 {
	t.Helper()
	var out [][2]int64
	it := record.NewIter(records)
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		out = append(out, [2]int64{b.BaseOffset(), b.LastOffset()})
	}
	if it.Err() != nil || len(it.Rest()) != 0 {
		t.Fatalf("records: %v, %d bytes left", it.Err(), len(it.Rest()))
	}
	return out
}

func lfAs(t *testing.T, b *tandemtest.Broker, p auth.Principal, req *wire.LinkFetchRequest) *wire.LinkFetchResponse {
	t.Helper()
	return handleAs(t, b, p, req).(*wire.LinkFetchResponse)
}

// part0 is the first partition of a response with no top-level error.
func part0(t *testing.T, r *wire.LinkFetchResponse) wire.LinkFetchPartitionResponse {
	t.Helper()
	if r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) == 0 {
		t.Fatalf("response: %+v", r)
	}
	return r.Topics[0].Partitions[0]
}

// checkRead: p answered without error from offset from, with the batches
// [want[0], want[1]] (none when want is nil), and NextOffset after them.
func checkRead(t *testing.T, what string, p wire.LinkFetchPartitionResponse, from int64, want []int64) {
	t.Helper()
	got := batchOffsets(t, p.Records)
	next := from
	if want != nil {
		next = want[len(want)-1] + 1
	}
	ok := p.ErrorCode == 0 && p.FetchOffset == from && p.NextOffset == next && len(got) == len(want) && p.DivergingEpoch.Epoch == -1
	for i := range got {
		ok = ok && got[i][0] == want[i] && got[i][1] == want[i]
	}
	if !ok {
		t.Fatalf("%s: error %d fetch %d next %d batches %v diverging %+v; want from %d batches %v", what,
			p.ErrorCode, p.FetchOffset, p.NextOffset, got, p.DivergingEpoch, from, want)
	}
}

// A session's cursors: an explicit offset sets one, a continuation reads
// from it and moves it, partitions left out keep theirs, and an error or
// a divergence drops a partition's cursor.
func TestLinkFetchCursors(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lf", 2)
	produceBatches(t, b, "lf", 0, 4)
	produceBatches(t, b, "lf", 1, 2)

	r := lfAs(t, b, anonymous, lfReq(7, id, lfPart(0, 1), lfPart(1, 0)))
	checkRead(t, "open p0@1", r.Topics[0].Partitions[0], 1, []int64{1})
	checkRead(t, "open p1@0", r.Topics[0].Partitions[1], 0, []int64{0})
	if p := r.Topics[0].Partitions[0]; p.HighWatermark != 4 || p.LastStableOffset != 4 || p.LogStartOffset != 0 {
		t.Fatalf("offsets: %+v", p)
	}
	checkRead(t, "continue p0", part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(0, -1)))), 2, []int64{2})
	// p1 was left out: its cursor stayed.
	r = lfAs(t, b, anonymous, lfReq(7, id, lfPart(1, -1), lfPart(0, -1)))
	checkRead(t, "continue p1", r.Topics[0].Partitions[0], 1, []int64{1})
	checkRead(t, "continue p0 again", r.Topics[0].Partitions[1], 3, []int64{3})
	// At the end: nothing, the cursor stays.
	checkRead(t, "p1 at the end", part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(1, -1)))), 2, nil)
	checkRead(t, "p1 still at the end", part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(1, -1)))), 2, nil)
	// The whole rest at once.
	req := lfReq(7, id, lfPart(0, 0))
	req.Topics[0].Partitions[0].PartitionMaxBytes = 1 << 20
	checkRead(t, "explicit p0@0", part0(t, lfAs(t, b, anonymous, req)), 0, []int64{0, 1, 2, 3})

	// Out of range: an error, and the cursor is gone.
	if p := part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(0, 99)))); p.ErrorCode != kerr.OffsetOutOfRange.Code ||
		p.NextOffset != -1 || p.HighWatermark != 4 || len(p.Records) != 0 {
		t.Fatalf("out of range: %+v", p)
	}
	if p := part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(0, -1)))); p.ErrorCode != kerr.InvalidFetchSessionEpoch.Code || p.FetchOffset != -1 {
		t.Fatalf("continue after an error: %+v", p)
	}
	// A fetcher that believes epoch 0 went on past offset 4 diverged at
	// 4: DivergingEpoch, and no cursor afterwards.
	req = lfReq(7, id, lfPart(0, 6))
	req.Topics[0].Partitions[0].LastFetchedEpoch = 0
	if p := part0(t, lfAs(t, b, anonymous, req)); p.ErrorCode != 0 || p.DivergingEpoch.Epoch != 0 || p.DivergingEpoch.EndOffset != 4 ||
		p.NextOffset != -1 || len(p.Records) != 0 {
		t.Fatalf("diverging: %+v", p)
	}
	if p := part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(0, -1)))); p.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("continue after a divergence: %+v", p)
	}
	// The continuation checks the cursor's epoch (that of the last batch
	// returned, 0): it matches, so no divergence.
	checkRead(t, "explicit with epoch", part0(t, lfAs(t, b, anonymous, func() *wire.LinkFetchRequest {
		r := lfReq(7, id, lfPart(0, 2))
		r.Topics[0].Partitions[0].LastFetchedEpoch = 0
		return r
	}())), 2, []int64{2})
	checkRead(t, "continue with epoch", part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(0, -1)))), 3, []int64{3})

	// Fencing (KIP-320), then no cursor.
	req = lfReq(7, id, lfPart(0, 0))
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = 5
	if p := part0(t, lfAs(t, b, anonymous, req)); p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("current leader epoch 5: %+v", p)
	}
	// Another negative offset is an invalid request.
	if p := part0(t, lfAs(t, b, anonymous, lfReq(7, id, lfPart(0, -2)))); p.ErrorCode != kerr.InvalidRequest.Code || p.FetchOffset != -1 {
		t.Fatalf("offset -2: %+v", p)
	}
	// Unknown topic id, unknown partition: errors answered per partition.
	r = lfAs(t, b, anonymous, &wire.LinkFetchRequest{SessionID: 7, MinBytes: 1, MaxWaitMillis: 5000, Topics: []wire.LinkFetchTopic{
		{TopicID: [16]byte{9, 9}, Partitions: []wire.LinkFetchPartition{lfPart(0, 0)}},
		{TopicID: id, Partitions: []wire.LinkFetchPartition{lfPart(2, 0), lfPart(1, -1)}},
	}})
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code ||
		r.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic and partition: %+v", r)
	}
	// ... answered at once (an error), with the good partition read.
	checkRead(t, "p1 next to errors", r.Topics[1].Partitions[1], 2, nil)
}

// Sessions: id 0 is invalid; a session is created when first named, its
// answers numbered 0, 1, 2, … (Sequence); another principal can neither
// read nor take it over; a continuation without a cursor is refused per
// partition.
func TestLinkFetchSessionErrors(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lfs", 1)
	produceBatches(t, b, "lfs", 0, 3)
	alice, bob := auth.Principal{Type: auth.UserType, Name: "alice"}, auth.Principal{Type: auth.UserType, Name: "bob"}

	topLevel := func(what string, r *wire.LinkFetchResponse, want int16) {
		t.Helper()
		if r.ErrorCode != want || len(r.Topics) != 0 || r.ErrorMessage == nil {
			t.Fatalf("%s: %+v, want error %d and no topics", what, r, want)
		}
	}
	answer := func(what string, r *wire.LinkFetchResponse, seq int32) *wire.LinkFetchResponse {
		t.Helper()
		if r.ErrorCode != 0 || r.Sequence != seq {
			t.Fatalf("%s: error %d, sequence %d; want answer %d", what, r.ErrorCode, r.Sequence, seq)
		}
		return r
	}
	topLevel("session 0", lfAs(t, b, alice, lfReq(0, id, lfPart(0, 0))), kerr.InvalidRequest.Code)

	// A new session: a continuation without a cursor.
	if p := part0(t, answer("new session", lfAs(t, b, alice, lfReq(11, id, lfPart(0, -1))), 0)); p.ErrorCode != kerr.InvalidFetchSessionEpoch.Code ||
		p.FetchOffset != -1 || p.NextOffset != -1 || len(p.Records) != 0 {
		t.Fatalf("continuation without a cursor: %+v", p)
	}
	checkRead(t, "alice", part0(t, answer("explicit", lfAs(t, b, alice, lfReq(11, id, lfPart(0, 0))), 1)), 0, []int64{0})
	// Bob can neither continue nor reset alice's session.
	topLevel("bob continues", lfAs(t, b, bob, lfReq(11, id, lfPart(0, -1))), kerr.FetchSessionIDNotFound.Code)
	topLevel("bob names an offset", lfAs(t, b, bob, lfReq(11, id, lfPart(0, 0))), kerr.FetchSessionIDNotFound.Code)
	checkRead(t, "alice goes on", part0(t, answer("continue", lfAs(t, b, alice, lfReq(11, id, lfPart(0, -1))), 2)), 1, []int64{1})
	// Bob's own session is his.
	answer("bob's session", lfAs(t, b, bob, lfReq(12, id, lfPart(0, 0))), 0)
	checkRead(t, "alice still", part0(t, answer("continue", lfAs(t, b, alice, lfReq(11, id, lfPart(0, -1))), 3)), 2, []int64{2})
}

// Authorization as a consumer fetch: READ on the topic.
func TestLinkFetchAuthorization(t *testing.T) {
	b := startWithAuthorizer(t, "User:admin")
	admin, alice := auth.Principal{Type: auth.UserType, Name: "admin"}, auth.Principal{Type: auth.UserType, Name: "alice"}
	createReq := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "lfa", 1, 1
	createReq.Topics = append(createReq.Topics, ct)
	cr := handleAs(t, b, admin, createReq).(*kmsg.CreateTopicsResponse)
	if cr.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %+v", cr.Topics[0])
	}
	id := cr.Topics[0].TopicID

	r := lfAs(t, b, alice, &wire.LinkFetchRequest{SessionID: 3, MinBytes: 1, Topics: []wire.LinkFetchTopic{
		{TopicID: id, Partitions: []wire.LinkFetchPartition{lfPart(0, 0)}},
		{TopicID: [16]byte{1}, Partitions: []wire.LinkFetchPartition{lfPart(0, 0)}},
	}})
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code ||
		r.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("alice without READ: %+v", r)
	}
	grant := kmsg.NewPtrCreateACLsRequest()
	grant.Creations = append(grant.Creations, creation(kmsg.ACLResourceTypeTopic, "lfa", kmsg.ACLResourcePatternTypeLiteral,
		"User:alice", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow))
	if r := handleAs(t, b, admin, grant).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != 0 {
		t.Fatalf("grant: %+v", r.Results[0])
	}
	checkRead(t, "alice with READ", part0(t, lfAs(t, b, alice, lfReq(3, id, lfPart(0, 0)))), 0, nil)
}

// Waiting: MaxWaitMillis answers empty; MinBytes waits for data; with
// some data, LingerMillis answers before MinBytes is reached; data that
// arrives after LingerMillis answers at once.
func TestLinkFetchWaitAndLinger(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lfw", 1)

	timed := func(req *wire.LinkFetchRequest) (*wire.LinkFetchResponse, time.Duration) {
		start := time.Now()
		r := lfAs(t, b, anonymous, req)
		return r, time.Since(start)
	}
	// Nothing to read: answered at MaxWaitMillis, empty.
	req := lfReq(5, id, lfPart(0, 0))
	req.MaxWaitMillis = 300
	r, took := timed(req)
	checkRead(t, "max wait", part0(t, r), 0, nil)
	if took < 250*time.Millisecond || took > 5*time.Second {
		t.Fatalf("max wait 300 ms answered after %v", took)
	}

	// MinBytes far above what comes, a linger: the request waits while
	// there is no data and answers soon after the data comes.
	req = lfReq(5, id, lfPart(0, -1))
	req.MaxWaitMillis, req.MinBytes, req.LingerMillis = 20000, 1<<20, 200
	type result struct {
		r    *wire.LinkFetchResponse
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		r, took := timed(req)
		done <- result{r, took}
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case res := <-done:
		t.Fatalf("answered before any data: %+v", res.r)
	default:
	}
	produced := time.Now()
	produceBatches(t, b, "lfw", 0, 1)
	res := <-done
	checkRead(t, "linger", part0(t, res.r), 0, []int64{0})
	if since := time.Since(produced); since > 5*time.Second {
		t.Fatalf("answered %v after the data: MinBytes was not waived by the linger", since)
	}

	// Data there from the start, below MinBytes: answered at the
	// linger, not at MaxWaitMillis.
	produceBatches(t, b, "lfw", 0, 1)
	req = lfReq(5, id, lfPart(0, -1))
	req.MaxWaitMillis, req.MinBytes, req.LingerMillis = 20000, 1<<20, 300
	r, took = timed(req)
	checkRead(t, "lingered", part0(t, r), 1, []int64{1})
	if took < 250*time.Millisecond || took > 5*time.Second {
		t.Fatalf("linger 300 ms answered after %v", took)
	}
	// MinBytes reached: at once.
	produceBatches(t, b, "lfw", 0, 1)
	req = lfReq(5, id, lfPart(0, -1))
	req.MaxWaitMillis, req.LingerMillis = 20000, 20000
	r, took = timed(req)
	checkRead(t, "min bytes", part0(t, r), 2, []int64{2})
	if took > 5*time.Second {
		t.Fatalf("MinBytes 1 answered after %v", took)
	}
}

// lfConn is a raw connection of a Tandem link client: requests are framed
// by kmsg's formatter and can be pipelined.
type lfConn struct {
	*rawConn
}

func (c lfConn) sendAll(reqs ...kmsg.Request) {
	c.t.Helper()
	var buf []byte
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("tandem-cluster-link-l"))
	for _, r := range reqs {
		c.corr++
		buf = append(buf, f.AppendRequest(nil, r, c.corr)...) // it sizes from dst[0]
	}
	if _, err := c.nc.Write(buf); err != nil {
		c.t.Fatal(err)
	}
}

func (c lfConn) recvFetch(corr int32) *wire.LinkFetchResponse {
	c.t.Helper()
	frame, err := c.recv()
	if err != nil {
		c.t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		c.t.Fatalf("correlation %d, want %d", got, corr)
	}
	var resp wire.LinkFetchResponse
	if err := resp.ReadFrom(frame[5:]); err != nil { // correlation id, empty header tags
		c.t.Fatal(err)
	}
	return &resp
}

// Requests pipelined on one connection, sent before any is answered,
// continue exactly where the one before stopped: consecutive batches, no
// gap, no overlap; a request waiting for data holds the later ones back
// and they continue after what it returned.
func TestLinkFetchPipelined(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lfp", 1)
	produceBatches(t, b, "lfp", 0, 5)
	c := lfConn{dialRaw(t, b)}

	reqs := []kmsg.Request{lfReq(21, id, lfPart(0, 0))}
	for range 4 {
		reqs = append(reqs, lfReq(21, id, lfPart(0, -1)))
	}
	c.sendAll(reqs...)
	for i := range reqs {
		checkRead(t, "pipelined", part0(t, c.recvFetch(int32(i+1))), int64(i), []int64{int64(i)})
	}

	// Three more in flight: the first waits for data; the data comes
	// while the others wait behind it.
	var wait []kmsg.Request
	for range 3 {
		r := lfReq(21, id, lfPart(0, -1))
		r.MaxWaitMillis, r.LingerMillis = 20000, 0
		wait = append(wait, r)
	}
	c.sendAll(wait...)
	time.Sleep(200 * time.Millisecond)
	produceBatches(t, b, "lfp", 0, 3)
	next := int64(5)
	for i := range wait {
		p := part0(t, c.recvFetch(int32(len(reqs)+i+1)))
		got := batchOffsets(t, p.Records)
		if p.ErrorCode != 0 || p.FetchOffset != next || len(got) == 0 || got[0][0] != next || p.NextOffset != got[len(got)-1][1]+1 {
			t.Fatalf("request %d: %+v batches %v, want from %d", i, p, got, next)
		}
		next = p.NextOffset
	}
	if next != 8 {
		t.Fatalf("three requests read up to %d, want 8", next)
	}
}

// The same requests from franz-go's client, built as a link builds it
// (link.ClientOpts: the tandem-link software name, LinkFetch in its
// MaxVersions), issued by concurrent goroutines as the fetcher issues
// them: they reach the broker in no particular order, and the answers'
// Sequence gives the order in which they were served, in which their
// records are consecutive, with no gap and no overlap.
func TestLinkFetchFromLinkClient(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lfk", 1)
	const n = 8
	produceBatches(t, b, "lfk", 0, n+1)
	opts, err := link.ClientOpts("l", map[string]string{"bootstrap.servers": b.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	cl := client(t, b, opts...)
	ctx := ctxT(t)
	tds, err := kadm.NewClient(cl).ListTopics(ctx, "lfk")
	if err != nil {
		t.Fatal(err)
	}
	node := tds["lfk"].Partitions[0].Leader
	br := cl.Broker(int(node))
	resp, err := br.Request(ctx, lfReq(31, id, lfPart(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*wire.LinkFetchResponse); r.Sequence != 0 {
		t.Fatalf("first answer's sequence %d", r.Sequence)
	}
	checkRead(t, "open", part0(t, resp.(*wire.LinkFetchResponse)), 0, []int64{0})

	results := make([]*wire.LinkFetchResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := br.Request(ctx, lfReq(31, id, lfPart(0, -1)))
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = r.(*wire.LinkFetchResponse)
		}()
	}
	wg.Wait()
	bySeq := map[int32]*wire.LinkFetchResponse{}
	for _, r := range results {
		if r == nil {
			t.FailNow()
		}
		bySeq[r.Sequence] = r
	}
	for seq := int32(1); seq <= n; seq++ {
		r, ok := bySeq[seq]
		if !ok {
			t.Fatalf("no answer %d among %d", seq, len(bySeq))
		}
		checkRead(t, "kgo", part0(t, r), int64(seq), []int64{int64(seq)})
	}
}

// handleConn is handleAs on a given connection, returning the reply with
// its Wait run.
func handleConn(t *testing.T, b *tandemtest.Broker, conn *broker.Conn, req kmsg.Request) broker.Reply {
	t.Helper()
	h := wire.Header{Key: req.Key(), Version: req.GetVersion(), Flexible: req.IsFlexible(), ClientID: "test"}
	reply, err := b.Node.Broker().Handle(ctxT(t), conn, h, req.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if reply.Wait != nil {
		reply.Resp = reply.Wait()
	}
	return reply
}

// Zero copy: on a sendfile connection the records are file slices behind
// placeholders, spliced by the server; the bytes and the cursors are
// those of a connection without sendfile.
func TestLinkFetchZeroCopy(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lfz", 1)
	produceBatches(t, b, "lfz", 0, 3)
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}

	// Copied: no sendfile.
	plain := &broker.Conn{Remote: remote, Listener: "PLAINTEXT", Principal: anonymous}
	req := lfReq(41, id, lfPart(0, 0))
	req.Topics[0].Partitions[0].PartitionMaxBytes = 1 << 20
	copied := handleConn(t, b, plain, req)
	if copied.Files != nil {
		t.Fatal("files on a connection without sendfile")
	}
	want := part0(t, copied.Resp.(*wire.LinkFetchResponse))
	checkRead(t, "copied", want, 0, []int64{0, 1, 2})

	// Sendfile, in the broker: a placeholder and a slice.
	sf := &broker.Conn{Remote: remote, Listener: "PLAINTEXT", Principal: anonymous, SendFile: true}
	req = lfReq(42, id, lfPart(0, 0))
	req.Topics[0].Partitions[0].PartitionMaxBytes = 1 << 20
	sliced := handleConn(t, b, sf, req)
	p := part0(t, sliced.Resp.(*wire.LinkFetchResponse))
	if sliced.Files == nil || len(sliced.Files.Refs) != 1 || !bytes.Equal(p.Records, sliced.Files.Refs[0].Placeholder) ||
		sliced.Files.Refs[0].Slice.Len != int64(len(want.Records)) || p.NextOffset != want.NextOffset {
		t.Fatalf("sendfile reply: %+v files %+v", p, sliced.Files)
	}
	sliced.Files.Release()
	// A continuation on the sendfile connection reads from the slice's
	// end.
	produceBatches(t, b, "lfz", 0, 1)
	sliced = handleConn(t, b, sf, lfReq(42, id, lfPart(0, -1)))
	if p := part0(t, sliced.Resp.(*wire.LinkFetchResponse)); p.FetchOffset != 3 || p.NextOffset != 4 || sliced.Files == nil || len(sliced.Files.Refs) != 1 {
		t.Fatalf("sendfile continuation: %+v", p)
	}
	sliced.Files.Release()

	// Over TCP (the server splices the slice in on Linux): the same
	// bytes.
	c := lfConn{dialRaw(t, b)}
	req = lfReq(43, id, lfPart(0, 0))
	req.Topics[0].Partitions[0].PartitionMaxBytes = 1 << 20
	c.sendAll(req)
	frame, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	var overTCP wire.LinkFetchResponse
	if err := overTCP.ReadFrom(frame[5:]); err != nil {
		t.Fatal(err)
	}
	got := part0(t, &overTCP)
	if len(got.Records) < len(want.Records) || !bytes.Equal(got.Records[:len(want.Records)], want.Records) || got.NextOffset != 4 {
		t.Fatalf("over TCP: next %d, %d bytes", got.NextOffset, len(got.Records))
	}
}

// Sessions used from many connections at once, with appends going on:
// each session's continuations stay consecutive (run with -race).
func TestLinkFetchConcurrentSessions(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lfc", 1)
	produceBatches(t, b, "lfc", 0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	produced := make(chan struct{})
	rc := dialRaw(t, b)
	go func() {
		defer close(produced)
		for ctx.Err() == nil {
			produceRaw(t, rc, "lfc", 0, -1, rawBatch(t, -1, -1, -1, 1))
		}
	}()
	defer func() {
		cancel()
		<-produced
	}()
	var wg sync.WaitGroup
	for s := int64(1); s <= 4; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := lfConn{dialRaw(t, b)}
			reqs := []kmsg.Request{lfReq(100+s, id, lfPart(0, 0))}
			for range 19 {
				r := lfReq(100+s, id, lfPart(0, -1))
				r.MaxWaitMillis, r.LingerMillis = 2000, 10
				reqs = append(reqs, r)
			}
			c.sendAll(reqs...)
			next := int64(0)
			for i := range reqs {
				frame, err := c.recv()
				if err != nil {
					t.Error(err)
					return
				}
				var r wire.LinkFetchResponse
				if err := r.ReadFrom(frame[5:]); err != nil || r.ErrorCode != 0 {
					t.Errorf("session %d request %d: %v %+v", s, i, err, r)
					return
				}
				p := r.Topics[0].Partitions[0]
				if p.ErrorCode != 0 || p.FetchOffset != next || p.NextOffset < next {
					t.Errorf("session %d request %d: %+v, want from %d", s, i, p, next)
					return
				}
				next = p.NextOffset
			}
		}()
	}
	wg.Wait()
}

// A fetcher that starts a new session names it on the same connection,
// behind the old session's long polls: those answer at once (with what
// they have) instead of at their max wait, so the new session's first
// request is served now.
func TestLinkFetchNewSessionEndsParkedPolls(t *testing.T) {
	b := tandemtest.Start(t)
	id := lfTopic(t, b, "lfn", 1)
	produceBatches(t, b, "lfn", 0, 2)
	c := lfConn{dialRaw(t, b)}

	// Session 41 catches up, then parks two long polls of 20 s.
	c.sendAll(lfReq(41, id, lfPart(0, 0)))
	checkRead(t, "catch up", part0(t, c.recvFetch(1)), 0, []int64{0})
	park := func() kmsg.Request {
		r := lfReq(41, id, lfPart(0, -1))
		r.MaxWaitMillis, r.MinBytes = 20000, 1<<20
		return r
	}
	c.sendAll(park(), park())
	time.Sleep(200 * time.Millisecond) // both reach the broker; the first waits

	// Session 42 names an offset.
	start := time.Now()
	c.sendAll(lfReq(42, id, lfPart(0, 0)))
	p1, p2 := part0(t, c.recvFetch(2)), part0(t, c.recvFetch(3))
	fresh := c.recvFetch(4)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the old session's parked polls held the new session's request for %v", d)
	}
	if p1.ErrorCode != 0 || p2.ErrorCode != 0 {
		t.Fatalf("parked polls: %+v %+v", p1, p2)
	}
	if fresh.Sequence != 0 {
		t.Fatalf("new session's first answer has sequence %d", fresh.Sequence)
	}
	checkRead(t, "new session", part0(t, fresh), 0, []int64{0})
}
