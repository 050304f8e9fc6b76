package link_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// failbackPair is two real brokers, A and B, with one BIDIRECTIONAL link
// "L" on both (both OUTBOUND, one cluster_link_id), whose halves reach
// each other over the wire (LinkMirrorOp to the peer's listener) or,
// when direct, through DirectPeer (which can play an unreachable peer).
type failbackPair struct {
	direct       bool
	a, b         *tandemtest.Broker
	aLogs        *tandemtest.Logs
	ma, mb       *link.Manager
	toB, toA     *link.DirectPeer
	aCl, bCl     *kgo.Client
	aAdm, bAdm   *kadm.Client
	partitions   int32
	topic, lname string
}

func newFailbackPair(t *testing.T) *failbackPair {
	return newPair(t, true)
}

// pairMode is how the pair's halves reach each other.
type pairMode int

const (
	pairWire    pairMode = iota // both OUTBOUND, LinkMirrorOp over the wire
	pairDirect                  // DirectPeer
	pairInbound                 // A's half INBOUND (created first), B dials it
)

func newPair(t *testing.T, direct bool) *failbackPair {
	if direct {
		return newPairMode(t, pairDirect)
	}
	return newPairMode(t, pairWire)
}

func newPairMode(t *testing.T, mode pairMode) *failbackPair {
	t.Helper()
	direct := mode == pairDirect
	p := &failbackPair{partitions: 2, topic: "t", lname: "L", direct: direct}
	p.a, p.aLogs = tandemtest.StartLogged(t)
	p.b = tandemtest.Start(t)
	p.ma, p.mb = p.a.Node.Links(), p.b.Node.Links()
	p.toB, p.toA = &link.DirectPeer{M: p.mb}, &link.DirectPeer{M: p.ma}
	if direct {
		link.SetTestPeer(p.ma, p.toB)
		link.SetTestPeer(p.mb, p.toA)
	}
	cfg := func(peer *tandemtest.Broker) map[string]string {
		return map[string]string{"link.mode": "BIDIRECTIONAL", "bootstrap.servers": peer.Addr(),
			"topic.config.sync.ms": "1000", "request.timeout.ms": "3000"}
	}
	aCfg := cfg(p.b)
	if mode == pairInbound {
		delete(aCfg, "bootstrap.servers")
		aCfg["connection.mode"] = "INBOUND"
	}
	if err := p.ma.CreateLink(ctxT(t), p.lname, "", aCfg, false, false); err != nil {
		t.Fatal(err)
	}
	la, _ := p.a.Node.Store().Link(p.lname)
	if err := p.mb.CreateLink(ctxT(t), p.lname, "", cfg(p.a), false, false, link.WithClusterLinkID(la.ID)); err != nil {
		t.Fatal(err)
	}
	if mode == pairInbound {
		waitFor(t, func() bool { // B's control session into A is up
			li, err := p.ma.Link(p.lname)
			return err == nil && li.State == link.LinkActive && li.Remote != nil && li.Remote.State == link.LinkActive
		})
	}
	p.aCl = tandemtest.NewClient(t, p.a.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	p.bCl = tandemtest.NewClient(t, p.b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	p.aAdm, p.bAdm = kadm.NewClient(p.aCl), kadm.NewClient(p.bCl)
	return p
}

// produce writes n records to each partition of the pair's topic on cl.
func (p *failbackPair) produce(t *testing.T, cl *kgo.Client, tag string, n []int) {
	t.Helper()
	var recs []*kgo.Record
	for part, k := range n {
		for i := range k {
			recs = append(recs, &kgo.Record{Topic: p.topic, Partition: int32(part), Value: fmt.Appendf(nil, "%s-%d-%d", tag, part, i)})
		}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", tag, err)
	}
}

func leosOf(t *testing.T, b *tandemtest.Broker, topic string) map[int32]int64 {
	t.Helper()
	leo, err := b.Node.Broker().LogEndOffsets(topic)
	if err != nil {
		t.Fatal(err)
	}
	return leo
}

func sameEnds(x, y map[int32]int64) bool {
	if len(x) != len(y) {
		return false
	}
	for p, o := range x {
		if y[p] != o {
			return false
		}
	}
	return true
}

// records reads every record of topic on addr, partition by partition.
func records(t *testing.T, addr, topic string, ends map[int32]int64) string {
	t.Helper()
	var out strings.Builder
	for p := int32(0); p < int32(len(ends)); p++ {
		if ends[p] == 0 {
			continue
		}
		cl := tandemtest.NewClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
		got := int64(0)
		ctx := ctxT(t)
		for got < ends[p] && ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				fmt.Fprintf(&out, "%d/%d epoch=%d ts=%d key=%q value=%q headers=%v\n", r.Partition, r.Offset, r.LeaderEpoch, r.Timestamp.UnixMilli(), r.Key, r.Value, r.Headers)
				got = r.Offset + 1
			})
		}
		cl.Close()
	}
	return out.String()
}

// waitSame waits until topic ends at the same offsets on both brokers,
// then checks the records are the same, offset for offset.
func (p *failbackPair) waitSame(t *testing.T) map[int32]int64 {
	t.Helper()
	var ea, eb map[int32]int64
	waitFor(t, func() bool {
		ea, eb = leosOf(t, p.a, p.topic), leosOf(t, p.b, p.topic)
		return sameEnds(ea, eb)
	})
	ra, rb := records(t, p.a.Addr(), p.topic, ea), records(t, p.b.Addr(), p.topic, eb)
	var n int64
	for _, e := range ea {
		n += e
	}
	if got := int64(strings.Count(ra, "\n")); got != n {
		t.Fatalf("read %d records of A, want %d:\n%s", got, n, ra)
	}
	t.Logf("A and B hold the same %d records, ends %v", n, ea)
	if ra != rb {
		t.Fatalf("records differ\nA:\n%s\nB:\n%s", ra, rb)
	}
	return ea
}

func mirrorState(t *testing.T, b *tandemtest.Broker, topic string) metadata.MirrorState {
	t.Helper()
	tp, err := b.Node.Broker().TopicByName(topic)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Mirror == nil {
		return ""
	}
	return tp.Mirror.State
}

// TestFailbackEndToEnd is the failback sequence (design §5) between two
// real brokers: B mirrors A; B is failed over; both are written
// (divergent on A); truncate-and-restore on A reports exactly A's
// divergent records in its dry run, then removes them and A mirrors B
// byte for byte; reverse-and-start on A makes A writable and B its
// mirror; reverse-and-pause from B turns it around again, paused.
func TestFailbackEndToEnd(t *testing.T) {
	for _, mode := range []pairMode{pairWire, pairDirect, pairInbound} {
		t.Run([...]string{"wire", "direct", "inbound"}[mode], func(t *testing.T) { failbackEndToEnd(t, mode) })
	}
}

func failbackEndToEnd(t *testing.T, mode pairMode) {
	p := newPairMode(t, mode)
	direct := p.direct
	ctx := ctxT(t)
	// A (the old primary, back from the dead) has records B never got;
	// B has been written since its failover.
	p.diverged(t)
	aBefore := leosOf(t, p.a, p.topic)

	// Dry run over REST, as an operator runs it (reference §5.1, §5.2).
	var dry struct {
		Data []struct {
			MirrorTopicName   string  `json:"mirror_topic_name"`
			ErrorCode         *int    `json:"error_code"`
			ErrorMessage      *string `json:"error_message"`
			MessagesTruncated *int64  `json:"messages_truncated"`
			Partitions        []struct {
				PartitionID       int32 `json:"partition_id"`
				OffsetTruncatedTo int64 `json:"offset_truncated_to"`
				MessagesTruncated int64 `json:"messages_truncated"`
			} `json:"partition_level_truncation_data"`
		} `json:"data"`
	}
	body := postJSON(t, "http://"+p.a.HTTPAddr()+"/kafka/v3/clusters/"+p.a.Node.ClusterID()+"/links/L/mirrors:truncate-and-restore?validate_only=true&include_partition_level_truncation_data=true",
		`{"mirror_topic_names":["t"]}`)
	if err := json.Unmarshal([]byte(body), &dry); err != nil || len(dry.Data) != 1 || dry.Data[0].ErrorCode != nil ||
		dry.Data[0].MessagesTruncated == nil || *dry.Data[0].MessagesTruncated != 8 ||
		fmt.Sprint(dry.Data[0].Partitions) != "[{0 10 5} {1 7 3}]" {
		t.Fatalf("REST dry run: %v\n%s", err, body)
	}

	// Dry run: exactly the divergent records, per partition; nothing changes.
	res, err := p.ma.TruncateAndRestore(ctx, p.lname, []string{p.topic}, "", true)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if got := res[0].MessagesTruncated(); got != 8 {
		t.Fatalf("dry run truncates %d messages, want 8: %+v", got, res[0].Plan)
	}
	for _, pl := range res[0].Plan {
		want := map[int32]struct{ to, n int64 }{0: {10, 5}, 1: {7, 3}}[pl.Partition]
		if pl.TruncatedTo != want.to || pl.Records != want.n {
			t.Errorf("partition %d: truncated to %d, %d records; want %d, %d", pl.Partition, pl.TruncatedTo, pl.Records, want.to, want.n)
		}
	}
	if got := leosOf(t, p.a, p.topic); !sameEnds(got, aBefore) || mirrorState(t, p.a, p.topic) != "" {
		t.Fatalf("the dry run changed A: %v, %s", got, mirrorState(t, p.a, p.topic))
	}

	// The real run: A truncated, then a mirror of B, byte for byte.
	res, err = p.ma.TruncateAndRestore(ctx, p.lname, []string{p.topic}, "", false)
	if err != nil || res[0].Err != nil || res[0].MessagesTruncated() != 8 {
		t.Fatalf("truncate-and-restore: %v %+v", err, res)
	}
	for _, part := range []string{"partition=0 from_offset=10 to_offset=15", "partition=1 from_offset=7 to_offset=10"} {
		n := 0
		for _, l := range p.aLogs.Lines("truncate-and-restore: truncating records") {
			if strings.Contains(l, "topic=t "+part) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("no WARN line naming %s:\n%s", part, p.aLogs.String())
		}
	}
	if s := mirrorState(t, p.a, p.topic); s != link.MirrorActive {
		t.Fatalf("A after truncate-and-restore: %s", s)
	}
	p.waitSame(t)
	ta, _ := p.a.Node.Broker().TopicByName(p.topic)
	tb, _ := p.b.Node.Broker().TopicByName(p.topic)
	if ta.Mirror.SourceTopicID != tb.ID || tb.Mirror.SourceTopicID != ta.ID {
		t.Errorf("topic ids: A %v records source %v; B %v records source %v", ta.ID, ta.Mirror.SourceTopicID, tb.ID, tb.Mirror.SourceTopicID)
	}
	if err := p.aCl.ProduceSync(ctx, &kgo.Record{Topic: p.topic, Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("A's mirror accepted a write")
	}

	// reverse-and-start on A: A writable, B its mirror, caught up.
	p.produce(t, p.bCl, "more-on-B", []int{1, 1})
	// Over REST, as an operator runs it.
	if body := postJSON(t, "http://"+p.a.HTTPAddr()+"/kafka/v3/clusters/"+p.a.Node.ClusterID()+"/links/L/mirrors:reverse-and-start-mirror",
		`{"mirror_topic_names":["t"]}`); !strings.Contains(body, `"error_code":null`) {
		t.Fatalf("reverse-and-start: %s", body)
	}
	if sa, sb := mirrorState(t, p.a, p.topic), mirrorState(t, p.b, p.topic); sa != link.MirrorStopped || sb != link.MirrorActive {
		t.Fatalf("after reverse-and-start: A %s, B %s", sa, sb)
	}
	if ta, _ := p.a.Node.Broker().TopicByName(p.topic); ta.Mirror.RemoteOp != "" {
		t.Errorf("A still owes %q", ta.Mirror.RemoteOp)
	}
	p.checkIDsSwapped(t, p.b, p.a)
	p.produce(t, p.aCl, "back-on-A", []int{3, 2})
	p.waitSame(t)
	if err := p.bCl.ProduceSync(ctx, &kgo.Record{Topic: p.topic, Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("B's mirror accepted a write")
	}

	// Refusals that change nothing: the peer's topic is not a stopped
	// mirror; the peer does not answer.
	if r, err := p.ma.TruncateAndRestore(ctx, p.lname, []string{p.topic}, "", false); err != nil || r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "not a stopped mirror") {
		t.Fatalf("truncate-and-restore against an ACTIVE mirror: %v %+v", err, r)
	}
	if direct {
		p.peerUnreachable(t)
	}

	// reverse-and-pause, from B this time: B writable, A a PAUSED mirror.
	rr, err := p.mb.ReverseMirrors(ctx, p.lname, []string{p.topic}, "", true, false)
	if err != nil || rr[0].Err != nil {
		t.Fatalf("reverse-and-pause: %v %+v", err, rr)
	}
	if sa, sb := mirrorState(t, p.a, p.topic), mirrorState(t, p.b, p.topic); sa != link.MirrorPaused || sb != link.MirrorStopped {
		t.Fatalf("after reverse-and-pause: A %s, B %s", sa, sb)
	}
	p.waitSame(t)
	p.checkIDsSwapped(t, p.a, p.b)
	p.produce(t, p.bCl, "on-B-again", []int{1, 1})
	if s := mirrorState(t, p.a, p.topic); s != link.MirrorPaused {
		t.Fatalf("A: %s", s)
	}
	if !bytes.Contains([]byte(p.aLogs.String()), []byte("event=fence")) {
		t.Errorf("A never logged its fence")
	}
	if direct {
		return
	}
	// B down for real: A's operations fail and change nothing.
	p.b.Stop()
	r, err := p.ma.ReverseMirrors(ctx, p.lname, []string{p.topic}, "", false, false)
	if err != nil || r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "nothing was changed") {
		t.Fatalf("reverse with B down: %v %+v", err, r)
	}
	if _, err := p.ma.TruncateAndRestore(ctx, p.lname, []string{p.topic}, "", true); !errors.Is(err, link.ErrSourceCluster) && !errors.Is(err, link.ErrNoPeer) {
		t.Fatalf("truncate-and-restore with B down: %v", err)
	}
	if s := mirrorState(t, p.a, p.topic); s != link.MirrorPaused {
		t.Fatalf("A after failed operations: %s", s)
	}
}

// checkIDsSwapped: after a reverse each side keeps its own topic id and
// records the other's as SourceTopicID (design §5.3); mirror is the
// broker holding the mirror now.
func (p *failbackPair) checkIDsSwapped(t *testing.T, mirror, source *tandemtest.Broker) {
	t.Helper()
	tm, _ := mirror.Node.Broker().TopicByName(p.topic)
	ts, _ := source.Node.Broker().TopicByName(p.topic)
	if tm.ID == ts.ID || tm.Mirror == nil || tm.Mirror.SourceTopicID != ts.ID {
		t.Errorf("topic ids: the mirror %v records source %+v; the source is %v", tm.ID, tm.Mirror, ts.ID)
	}
}

// TestReverseTopicIDs: a reverse whose peer topic was an ordinary topic
// records the asker's topic id on the new mirror (the RESTORE carries
// it), so the data path checks it; a request naming another topic id
// than the one a mirror recorded is refused (deleted and re-created).
func TestReverseTopicIDs(t *testing.T) {
	p := reversePair(t) // B ordinary, A its mirror
	p.checkIDsSwapped(t, p.a, p.b)
	r, err := p.ma.ReverseMirrors(ctxT(t), p.lname, []string{p.topic}, "", false, false)
	if err != nil || r[0].Err != nil {
		t.Fatalf("reverse-and-start: %v %+v", err, r)
	}
	if sa, sb := mirrorState(t, p.a, p.topic), mirrorState(t, p.b, p.topic); sa != link.MirrorStopped || sb != link.MirrorActive {
		t.Fatalf("after reverse-and-start: A %s, B %s", sa, sb)
	}
	p.checkIDsSwapped(t, p.b, p.a)
	p.produce(t, p.aCl, "on-A", []int{1, 1})
	p.waitSame(t)

	// B's mirror recorded A's id: requests about another incarnation
	// of A's topic are refused, and change nothing.
	la, _ := p.a.Node.Store().Link(p.lname)
	for _, op := range []int8{wire.MirrorOpDescribeStop, wire.MirrorOpFence, wire.MirrorOpRestore} {
		resp := p.mb.LinkMirrorOp(ctxT(t), &wire.LinkMirrorOpRequest{LinkName: p.lname, LinkID: la.ID, Op: op,
			Topics: []wire.LinkMirrorOpTopic{{Topic: p.topic, TopicID: [16]byte{0xee}}}})
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].ErrorMessage == nil ||
			!strings.Contains(*resp.Topics[0].ErrorMessage, "deleted and re-created") {
			t.Errorf("op %d with another topic id: %+v", op, resp)
		}
	}
	if s := mirrorState(t, p.b, p.topic); s != link.MirrorActive {
		t.Fatalf("B after refused requests: %s", s)
	}
}

// TestFailoverOfFencedOrdinaryTopic: a topic that was ordinary before a
// reverse fenced it becomes ordinary again when failed over, as an
// unfence leaves it, not a STOPPED mirror of a link it never mirrored.
func TestFailoverOfFencedOrdinaryTopic(t *testing.T) {
	p := reversePair(t)
	la, _ := p.a.Node.Store().Link(p.lname)
	ta, _ := p.a.Node.Broker().TopicByName(p.topic)
	resp := p.mb.LinkMirrorOp(ctxT(t), &wire.LinkMirrorOpRequest{LinkName: p.lname, LinkID: la.ID, Op: wire.MirrorOpFence,
		Topics: []wire.LinkMirrorOpTopic{{Topic: p.topic, TopicID: ta.ID}}})
	if resp.ErrorCode != 0 || resp.Topics[0].ErrorCode != 0 || mirrorState(t, p.b, p.topic) != metadata.MirrorPendingSetupForRestore {
		t.Fatalf("fence: %+v, B %s", resp, mirrorState(t, p.b, p.topic))
	}
	if err := p.bCl.ProduceSync(ctxT(t), &kgo.Record{Topic: p.topic, Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("the fenced topic accepted a write")
	}
	if r, err := p.mb.AlterMirrors(ctxT(t), p.lname, "failover", []string{p.topic}, "", false); err != nil || r[0].Err != nil {
		t.Fatalf("failover of the fenced topic: %v %+v", err, r)
	}
	if s := mirrorState(t, p.b, p.topic); s != "" {
		t.Fatalf("B after failover: %s, want an ordinary topic", s)
	}
	p.produce(t, p.bCl, "writable", []int{1, 1})
	p.waitSame(t) // A still mirrors B
}

func postJSON(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// TestFailbackRefusals: failback needs a bidirectional link without a
// prefix, and a running peer that answers.
func TestFailbackRefusals(t *testing.T) {
	a := tandemtest.Start(t)
	m := a.Node.Links()
	ctx := ctxT(t)
	for name, cfg := range map[string]map[string]string{
		"dest":   {"bootstrap.servers": "127.0.0.1:1"},
		"prefix": {"bootstrap.servers": "127.0.0.1:1", "link.mode": "BIDIRECTIONAL", "cluster.link.prefix": "p."},
	} {
		if err := m.CreateLink(ctx, name, "", cfg, false, false); err != nil {
			t.Fatal(err)
		}
		want := link.ErrNoPeer
		if name == "prefix" {
			want = link.ErrNotSupported
		}
		if _, err := m.TruncateAndRestore(ctx, name, []string{"t"}, "", true); !errors.Is(err, want) {
			t.Errorf("truncate-and-restore over %s: %v, want %v", name, err, want)
		}
		if _, err := m.ReverseMirrors(ctx, name, []string{"t"}, "", false, true); !errors.Is(err, want) {
			t.Errorf("reverse over %s: %v, want %v", name, err, want)
		}
	}
}

// reversePair is a failback pair where A's topic mirrors B's (B
// writable): produce on A, mirror on B, fail over on B, restore on A.
func reversePair(t *testing.T) *failbackPair {
	t.Helper()
	p := newFailbackPair(t)
	ctx := ctxT(t)
	if _, err := p.bAdm.CreateTopic(ctx, p.partitions, 1, nil, p.topic); err != nil {
		t.Fatal(err)
	}
	p.produce(t, p.bCl, "on-B", []int{4, 6})
	if err := p.ma.CreateMirror(ctx, p.lname, p.topic, "", nil, false); err != nil {
		t.Fatal(err)
	}
	p.waitSame(t)
	return p
}

// downAfter makes B unreachable (to A) after A's next n LinkMirrorOps;
// SetBefore(nil) and Down.Store(false) bring it back.
func (p *failbackPair) downAfter(n int) {
	var calls int
	p.toB.SetBefore(func() {
		if calls++; calls == n+1 {
			p.toB.Down.Store(true)
		}
	})
}

// TestReverseCrashPoints: the reverse's crash points (design §5.3). The
// peer's topic is an ordinary topic here (a planned reverse).
func TestReverseCrashPoints(t *testing.T) {
	t.Run("after the fence", func(t *testing.T) {
		// A stops right after B fenced its topic: B is read-only, A
		// still a mirror; the link's task completes the reverse.
		p := reversePair(t)
		link.CrashBeforeReverse(p.ma, p.topic)
		p.downAfter(1) // B answers the fence, then is unreachable for a while
		r, err := p.ma.ReverseMirrors(ctxT(t), p.lname, []string{p.topic}, "", false, false)
		if err != nil || r[0].Err == nil {
			t.Fatalf("reverse with a crash: %v %+v", err, r)
		}
		if sa, sb := mirrorState(t, p.a, p.topic), mirrorState(t, p.b, p.topic); sa != link.MirrorActive || sb != metadata.MirrorPendingSetupForRestore {
			t.Fatalf("after the crash: A %s, B %s", sa, sb)
		}
		if err := p.bCl.ProduceSync(ctxT(t), &kgo.Record{Topic: p.topic, Value: []byte("x")}).FirstErr(); err == nil || !strings.Contains(err.Error(), "INVALID_REQUEST") {
			t.Fatalf("the fenced topic accepted a write: %v", err)
		}
		// The task keeps the reverse owed while B does not answer.
		waitFor(t, func() bool {
			mi, _ := p.ma.Mirror(p.lname, p.topic)
			for _, e := range mi.TransitionErrors {
				if strings.Contains(e.Message, "did not answer") {
					return true
				}
			}
			return false
		})
		if ta, _ := p.a.Node.Broker().TopicByName(p.topic); ta.Mirror.RemoteOp != "reverse-and-start" || ta.Mirror.State != link.MirrorActive {
			t.Fatalf("A while B is unreachable: %s owes %q", ta.Mirror.State, ta.Mirror.RemoteOp)
		}
		p.toB.SetBefore(nil)
		p.toB.Down.Store(false)
		waitFor(t, func() bool {
			return mirrorState(t, p.a, p.topic) == link.MirrorStopped && mirrorState(t, p.b, p.topic) == link.MirrorActive
		})
		p.produce(t, p.aCl, "on-A", []int{2, 2})
		p.waitSame(t)
	})
	t.Run("fenced topic failed over", func(t *testing.T) {
		// A stops after the fence and cannot reach B; the user fails
		// B's topic over (writable again) and writes to it. When B
		// answers again, A's pending reverse finds B's topic no longer
		// fenced: it gives up (noted) and B stays writable; A mirrors B
		// as before.
		p := reversePair(t)
		link.CrashBeforeReverse(p.ma, p.topic)
		p.downAfter(1)
		if r, err := p.ma.ReverseMirrors(ctxT(t), p.lname, []string{p.topic}, "", false, false); err != nil || r[0].Err == nil {
			t.Fatalf("reverse with a crash: %v %+v", err, r)
		}
		if r, err := p.mb.AlterMirrors(ctxT(t), p.lname, "failover", []string{p.topic}, "", false); err != nil || r[0].Err != nil {
			t.Fatalf("failover of the fenced topic: %v %+v", err, r)
		}
		// B's topic was an ordinary topic before the fence: ordinary
		// again, as an unfence leaves it (design §5.6).
		if s := mirrorState(t, p.b, p.topic); s != "" {
			t.Fatalf("B after its failover: %s, want an ordinary topic", s)
		}
		p.produce(t, p.bCl, "after-failover", []int{1, 1})
		p.toB.SetBefore(nil)
		p.toB.Down.Store(false)
		deadline := time.Now().Add(20 * time.Second)
		for {
			ta, _ := p.a.Node.Broker().TopicByName(p.topic)
			if ta.Mirror.RemoteOp == "" && ta.Mirror.State == link.MirrorActive {
				break
			}
			if time.Now().After(deadline) {
				mi, _ := p.ma.Mirror(p.lname, p.topic)
				t.Fatalf("A: %s owes %q; B %s; errors %+v", ta.Mirror.State, ta.Mirror.RemoteOp, mirrorState(t, p.b, p.topic), mi.TransitionErrors)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if s := mirrorState(t, p.b, p.topic); s != "" {
			t.Fatalf("B after A gave up: %s", s)
		}
		if mi, _ := p.ma.Mirror(p.lname, p.topic); !strings.Contains(fmt.Sprint(mi.TransitionErrors), "reverse-and-start of 't' abandoned: the peer's topic is not fenced") {
			t.Errorf("state transition errors: %+v", mi.TransitionErrors)
		}
		p.produce(t, p.bCl, "still-writable", []int{1, 1})
		p.waitSame(t)
	})
	t.Run("peer gone before the restore", func(t *testing.T) {
		// B stops answering between the fence and the restore: A is
		// writable, B read-only; A's task restores B when it answers,
		// also after A restarted.
		p := reversePair(t)
		p.downAfter(1) // the RESTORE, after the FENCE
		r, err := p.ma.ReverseMirrors(ctxT(t), p.lname, []string{p.topic}, "", true, false)
		if err != nil || r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "writable here") {
			t.Fatalf("reverse with the peer gone: %v %+v", err, r)
		}
		if sa, sb := mirrorState(t, p.a, p.topic), mirrorState(t, p.b, p.topic); sa != link.MirrorStopped || sb != metadata.MirrorPendingSetupForRestore {
			t.Fatalf("A %s, B %s", sa, sb)
		}
		mi, err := p.ma.Mirror(p.lname, p.topic)
		if err != nil || len(mi.TransitionErrors) == 0 || !strings.Contains(mi.TransitionErrors[0].Message, "did not answer") {
			t.Fatalf("state transition errors: %+v %v", mi.TransitionErrors, err)
		}
		// A restarts meanwhile: what it owes B is persisted with its topic.
		p.toB.SetBefore(nil)
		p.a.Restart()
		p.ma = p.a.Node.Links()
		link.SetTestPeer(p.ma, p.toB)
		if ta, _ := p.a.Node.Broker().TopicByName(p.topic); ta.Mirror == nil || ta.Mirror.RemoteOp != "restore-paused" || ta.ReadOnly() {
			t.Fatalf("A after its restart: %+v", ta.Mirror)
		}
		p.toB.Down.Store(false)
		waitFor(t, func() bool { return mirrorState(t, p.b, p.topic) == link.MirrorPaused })
		waitFor(t, func() bool {
			ta, _ := p.a.Node.Broker().TopicByName(p.topic)
			return ta.Mirror.RemoteOp == ""
		})
		p.waitSame(t)
	})
	t.Run("not caught up", func(t *testing.T) {
		// A's mirror is paused and behind B: the reverse fails, A stays
		// a paused mirror and B is writable again.
		p := reversePair(t)
		if r, err := p.ma.AlterMirrors(ctxT(t), p.lname, "pause", []string{p.topic}, "", false); err != nil || r[0].Err != nil {
			t.Fatalf("pause: %v %+v", err, r)
		}
		p.produce(t, p.bCl, "unfetched", []int{1, 0})
		r, err := p.ma.ReverseMirrors(ctxT(t), p.lname, []string{p.topic}, "", false, false)
		if err != nil || r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "not caught up") {
			t.Fatalf("reverse of a mirror behind: %v %+v", err, r)
		}
		if sa, sb := mirrorState(t, p.a, p.topic), mirrorState(t, p.b, p.topic); sa != link.MirrorPaused || sb != "" {
			t.Fatalf("A %s, B %q (want an ordinary topic again)", sa, sb)
		}
		p.produce(t, p.bCl, "writable-again", []int{1, 1})
	})
}

// TestFailbackUnpaired: BIDIRECTIONAL halves whose names differ do not
// pair; once the half knows it, failback says so and asks nothing
// (design §2.3).
func TestFailbackUnpaired(t *testing.T) {
	a, b := tandemtest.Start(t), tandemtest.Start(t)
	for _, x := range []struct {
		m, peer *tandemtest.Broker
		name    string
	}{{a, b, "L"}, {b, a, "L-other"}} {
		cfg := map[string]string{"link.mode": "BIDIRECTIONAL", "bootstrap.servers": x.peer.Addr(), "availability.check.ms": "1000"}
		if err := x.m.Node.Links().CreateLink(ctxT(t), x.name, "", cfg, false, false); err != nil {
			t.Fatal(err)
		}
	}
	m := a.Node.Links()
	waitFor(t, func() bool {
		li, err := m.Link("L")
		return err == nil && li.Remote != nil && li.Remote.State == link.RemoteLinkNotFound
	})
	_, err := m.TruncateAndRestore(ctxT(t), "L", []string{"t"}, "", true)
	if !errors.Is(err, link.ErrRemoteLinkNotFound) || !strings.Contains(err.Error(), "has no peer on cluster "+b.Node.ClusterID()) {
		t.Fatalf("truncate-and-restore over unpaired halves: %v", err)
	}
	if _, err := m.ReverseMirrors(ctxT(t), "L", []string{"t"}, "", false, false); !errors.Is(err, link.ErrRemoteLinkNotFound) {
		t.Fatalf("reverse over unpaired halves: %v", err)
	}
}

// TestLinkMirrorOpRefusals: the answering side refuses as a whole a
// request for no link, another link id, or a link that cannot fail back.
func TestLinkMirrorOpRefusals(t *testing.T) {
	p := newFailbackPair(t)
	la, _ := p.a.Node.Store().Link(p.lname)
	for _, tc := range []struct {
		req  wire.LinkMirrorOpRequest
		want string
	}{
		{wire.LinkMirrorOpRequest{LinkName: "nope", LinkID: la.ID}, "cluster link 'nope' does not exist"},
		{wire.LinkMirrorOpRequest{LinkName: p.lname, LinkID: [16]byte{1}}, "one of them was re-created"},
	} {
		resp := p.mb.LinkMirrorOp(ctxT(t), &tc.req)
		if resp.ErrorCode != kerr.InvalidRequest.Code || resp.ErrorMessage == nil || !strings.Contains(*resp.ErrorMessage, tc.want) {
			t.Errorf("%+v: %d %v, want INVALID_REQUEST %q", tc.req, resp.ErrorCode, resp.ErrorMessage, tc.want)
		}
	}
	resp := p.mb.LinkMirrorOp(ctxT(t), &wire.LinkMirrorOpRequest{LinkName: p.lname, LinkID: la.ID, Op: wire.MirrorOpDescribeStop,
		Topics: []wire.LinkMirrorOpTopic{{Topic: "ghost"}}})
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: %+v", resp)
	}
}

// peerUnreachable: with A unreachable, B's reverse and truncate-and-restore
// fail and change nothing; the unfence B then owes A is sent by the
// link's task once A answers.
func (p *failbackPair) peerUnreachable(t *testing.T) {
	ctx := ctxT(t)
	ends := leosOf(t, p.b, p.topic)
	p.toA.Down.Store(true)
	r, err := p.mb.ReverseMirrors(ctx, p.lname, []string{p.topic}, "", true, false)
	if err != nil || r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "nothing was changed") {
		t.Fatalf("reverse with the peer unreachable: %v %+v", err, r)
	}
	if sa, sb := mirrorState(t, p.a, p.topic), mirrorState(t, p.b, p.topic); sa != link.MirrorStopped || sb != link.MirrorActive || !sameEnds(ends, leosOf(t, p.b, p.topic)) {
		t.Fatalf("after a refused reverse: A %s, B %s", sa, sb)
	}
	if _, err := p.mb.TruncateAndRestore(ctx, p.lname, []string{p.topic}, "", true); !errors.Is(err, link.ErrSourceCluster) {
		t.Fatalf("truncate-and-restore with the peer unreachable: %v", err)
	}
	p.toA.Down.Store(false)
	// The unfence the unanswered fence left owed is sent by the task.
	waitFor(t, func() bool {
		tb, _ := p.b.Node.Broker().TopicByName(p.topic)
		return tb.Mirror.RemoteOp == ""
	})
}
