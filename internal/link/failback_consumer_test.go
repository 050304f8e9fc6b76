package link_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestTruncateAndRestoreConsumer is truncate-and-restore as a Kafka
// consumer on the old primary sees it (design §5.2 step 5): a franz-go
// consumer reads A's topic, including the records A took after B was
// failed over (the ones truncate-and-restore removes). After the
// truncation the partitions' leader epochs are raised: the consumer's
// next fetch is fenced, it refreshes its metadata and validates its
// position with OffsetForLeaderEpoch (KIP-320), which answers the
// truncation point; franz-go reports that as *kgo.ErrDataLoss (consumed
// to X, reset to the truncation point) and continues from there. It then
// reads B's records at those offsets, fetched by A's mirror, and never a
// truncated record again. (Kafka's Java consumer does the same: it seeks
// to the divergence point, logging "Truncation detected", when an
// auto.offset.reset policy is set, and otherwise throws
// LogTruncationException.)
func TestTruncateAndRestoreConsumer(t *testing.T) {
	p := newPair(t, false)
	ctx := ctxT(t)
	p.diverged(t)

	// A consumer of A's topic reads everything A has, truncated records
	// included.
	c := newPartConsumer(t, p.a, p.topic, p.partitions)
	read, poll, next := c.read, c.poll, c.next
	poll(func() bool { return next(0) == 15 && next(1) == 10 })
	before := map[int32]int{0: len(read[0]), 1: len(read[1])}

	// Midway (partition 0 truncated, partition 1 not yet) the topic
	// answers clients NOT_LEADER_OR_FOLLOWER, not OFFSET_OUT_OF_RANGE
	// (which would make the consumer reset per its auto.offset.reset
	// policy, to the log start here, re-reading what it had read). The
	// consumer keeps fetching meanwhile, in the background.
	ta, _ := p.a.Node.Broker().TopicByName(p.topic)
	topicID := ta.ID
	link.BeforeRestoreTruncate(p.ma, func(_ string, part int32) {
		if part != 1 {
			return
		}
		for _, r := range []kmsg.Request{
			&kmsg.FetchRequest{Version: 12, ReplicaID: -1, MaxBytes: 1 << 20, Topics: []kmsg.FetchRequestTopic{{Topic: p.topic, TopicID: topicID,
				Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, FetchOffset: 15, CurrentLeaderEpoch: 0, LastFetchedEpoch: -1, PartitionMaxBytes: 1 << 20}}}}},
			&kmsg.OffsetForLeaderEpochRequest{Version: 4, ReplicaID: -1, Topics: []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: p.topic,
				Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: 0, LeaderEpoch: 0}}}}},
			&kmsg.ListOffsetsRequest{Version: 7, ReplicaID: -1, Topics: []kmsg.ListOffsetsRequestTopic{{Topic: p.topic,
				Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: 0, Timestamp: -1}}}}},
		} {
			resp, err := p.aCl.SeedBrokers()[0].RetriableRequest(ctx, r) // this broker: no client-side sharding or retry on error codes
			code := int16(-1)
			switch resp := resp.(type) {
			case *kmsg.FetchResponse:
				code = resp.Topics[0].Partitions[0].ErrorCode
			case *kmsg.OffsetForLeaderEpochResponse:
				code = resp.Topics[0].Partitions[0].ErrorCode
			case *kmsg.ListOffsetsResponse:
				code = resp.Topics[0].Partitions[0].ErrorCode
			}
			if err != nil || code != kerr.NotLeaderForPartition.Code {
				t.Errorf("%T while truncating: %v, error code %d, want NOT_LEADER_OR_FOLLOWER", r, err, code)
			}
		}
		time.Sleep(5 * 100 * time.Millisecond) // FetchMaxWait: the consumer's fetches meet the truncated partition
	})
	res, err := p.ma.TruncateAndRestore(ctx, p.lname, []string{p.topic}, "", false)
	if err != nil || res[0].Err != nil || res[0].MessagesTruncated() != 8 {
		t.Fatalf("truncate-and-restore: %v %+v", err, res)
	}
	if s := mirrorState(t, p.a, p.topic); s != link.MirrorActive {
		t.Fatalf("A after truncate-and-restore: %s", s)
	}
	// A's mirror now holds B's records from the truncation point; the
	// consumer continues there: B's records at offsets 10-11 and 7-10.
	p.waitSame(t)
	poll(func() bool { return next(0) == 12 && next(1) == 11 })

	for part, want := range map[int32]struct{ consumed, reset int64 }{0: {15, 10}, 1: {10, 7}} {
		n := 0
		for _, dl := range c.losses {
			if dl.Partition != part {
				continue
			}
			n++
			if dl.Topic != p.topic || dl.ConsumedTo != want.consumed || dl.ResetTo != want.reset {
				t.Errorf("partition %d: %v, want consumed to %d, reset to %d", part, dl, want.consumed, want.reset)
			}
		}
		if n != 1 {
			t.Errorf("partition %d: %d data-loss reports (%v), want 1", part, n, c.losses)
		}
		after := read[part][before[part]:]
		var got []string
		for i, r := range after {
			got = append(got, fmt.Sprintf("%d=%s", r.off, r.value))
			if r.off != want.reset+int64(i) || !strings.HasPrefix(r.value, "new-on-B-") || strings.HasPrefix(r.value, "lost-on-A") {
				t.Errorf("partition %d after the truncation: read %d=%q (epoch %d)", part, r.off, r.value, r.epoch)
			}
			if last := read[part][before[part]-1]; r.epoch <= last.epoch {
				t.Errorf("partition %d: B's record %d has epoch %d, not above the truncated records' %d", part, r.off, r.epoch, last.epoch)
			}
		}
		t.Logf("partition %d: after the truncation the consumer read %v", part, got)
	}
}

// TestRestoreStatesAndLinkTasks: while a topic is PENDING_RESTORE, the
// link's tasks leave it alone — consumer offset sync writes no committed
// offset into it while it is being truncated — and describe shows the
// state; once ACTIVE, offset sync brings the groups that moved to B
// (design §5.6, the audit of link tasks).
func TestRestoreStatesAndLinkTasks(t *testing.T) {
	p := newPair(t, false)
	ctx := ctxT(t)
	l, _ := p.a.Node.Store().Link(p.lname)
	cfg := map[string]string{}
	for k, v := range l.Configs {
		cfg[k] = v
	}
	cfg["consumer.offset.sync.enable"] = "true"
	cfg["consumer.offset.group.filters"] = `{"groupFilters":[{"name":"g","patternType":"LITERAL","filterType":"INCLUDE"}]}`
	if err := p.ma.AlterLinkConfigs(p.lname, cfg, false); err != nil {
		t.Fatal(err)
	}
	p.diverged(t)
	// Group g moved to B and consumed everything there.
	var offs kadm.Offsets
	offs.AddOffset(p.topic, 0, 12, -1)
	offs.AddOffset(p.topic, 1, 11, -1)
	if _, err := p.bAdm.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	aGroup := func() map[int32]int64 {
		t.Helper()
		fo, err := p.aAdm.FetchOffsets(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]int64{}
		fo.Each(func(o kadm.OffsetResponse) {
			if o.Topic == p.topic && o.Err == nil && o.At >= 0 {
				out[o.Partition] = o.At
			}
		})
		return out
	}

	link.BeforeRestoreTruncate(p.ma, func(_ string, part int32) {
		if part != 1 {
			return
		}
		mi, err := p.ma.Mirror(p.lname, p.topic)
		if err != nil || mi.State != metadata.MirrorPendingRestore {
			t.Errorf("describe while truncating: %v %s", err, mi.State)
		}
		if li, err := p.ma.Link(p.lname); err != nil || li.MirrorPartsByState[metadata.MirrorPendingRestore] != int(p.partitions) {
			t.Errorf("link describe while truncating: %v %v", err, li.MirrorPartsByState)
		}
		if err := p.ma.SyncConsumerOffsets(ctx, p.lname); err != nil {
			t.Errorf("offset sync while truncating: %v", err)
		}
		if got := aGroup(); len(got) != 0 {
			t.Errorf("offset sync wrote %v into a topic being truncated", got)
		}
	})
	res, err := p.ma.TruncateAndRestore(ctx, p.lname, []string{p.topic}, "", false)
	if err != nil || res[0].Err != nil || res[0].MessagesTruncated() != 8 {
		t.Fatalf("truncate-and-restore: %v %+v", err, res)
	}
	p.waitSame(t)
	if err := p.ma.SyncConsumerOffsets(ctx, p.lname); err != nil {
		t.Fatalf("offset sync: %v", err)
	}
	if got := aGroup(); got[0] != 12 || got[1] != 11 {
		t.Fatalf("group g on A after the restore: %v, want B's 12 and 11", got)
	}
}

// diverged brings the pair to where a failback starts (design §5.2): B
// mirrored A's topic (10 and 7 records), was failed over, and both were
// written since: A records B never got (5 and 3, "lost-on-A"), B new
// ones (2 and 4, "new-on-B").
func (p *failbackPair) diverged(t *testing.T) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := p.aAdm.CreateTopic(ctx, p.partitions, 1, nil, p.topic); err != nil {
		t.Fatal(err)
	}
	p.produce(t, p.aCl, "before", []int{10, 7})
	if err := p.mb.CreateMirror(ctx, p.lname, p.topic, "", nil, false); err != nil {
		t.Fatal(err)
	}
	p.waitSame(t)
	if res, err := p.mb.AlterMirrors(ctx, p.lname, "failover", []string{p.topic}, "", false); err != nil || res[0].Err != nil {
		t.Fatalf("failover on B: %v %+v", err, res)
	}
	if s := mirrorState(t, p.b, p.topic); s != link.MirrorStopped {
		t.Fatalf("B after failover: %s", s)
	}
	p.produce(t, p.aCl, "lost-on-A", []int{5, 3})
	p.produce(t, p.bCl, "new-on-B", []int{2, 4})
}

// partConsumer is a franz-go consumer of every partition of a topic from
// the start, as an application runs one: it keeps what it read and the
// data losses it was told of.
type partConsumer struct {
	t      *testing.T
	cl     *kgo.Client
	read   map[int32][]consumed
	losses []*kgo.ErrDataLoss
}

type consumed struct {
	off   int64
	value string
	epoch int32
}

func newPartConsumer(t *testing.T, b *tandemtest.Broker, topic string, partitions int32) *partConsumer {
	at := map[int32]kgo.Offset{}
	for p := range partitions {
		at[p] = kgo.NewOffset().AtStart()
	}
	cl := tandemtest.NewClient(t, b.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}),
		kgo.FetchMaxWait(100*time.Millisecond))
	return &partConsumer{t: t, cl: cl, read: map[int32][]consumed{}}
}

// poll consumes until until holds (at most 20 s).
func (c *partConsumer) poll(until func() bool) {
	c.t.Helper()
	ctx := ctxT(c.t)
	deadline := time.Now().Add(20 * time.Second)
	for !until() {
		if time.Now().After(deadline) {
			c.t.Fatalf("consumer: read %v, data losses %v", c.read, c.losses)
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := c.cl.PollFetches(pctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			var dl *kgo.ErrDataLoss
			switch {
			case errors.As(err, &dl):
				c.losses = append(c.losses, dl)
			case pctx.Err() != nil:
			default:
				c.t.Logf("fetch error: %v", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			c.read[r.Partition] = append(c.read[r.Partition], consumed{r.Offset, string(r.Value), r.LeaderEpoch})
		})
	}
}

// next is the offset after the last record read of partition part.
func (c *partConsumer) next(part int32) int64 {
	rs := c.read[part]
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].off + 1
}

// TestReverseConsumers: a reverse as consumers on both clusters see it.
// Nothing is truncated (design §5.3), so a consumer of the old source (B,
// fenced, then restored as a mirror: new leader epochs) and one of the
// old mirror (A, stopped: new leader epochs) are fenced, validate their
// positions (KIP-320), find no divergence and go on: every record read
// once, in offset order, no data loss reported, and A's new records
// reach both.
func TestReverseConsumers(t *testing.T) {
	p := reversePair(t) // B's topic ordinary (4 and 6 records), A its mirror
	ca, cb := newPartConsumer(t, p.a, p.topic, p.partitions), newPartConsumer(t, p.b, p.topic, p.partitions)
	for _, c := range []*partConsumer{ca, cb} {
		c.poll(func() bool { return c.next(0) == 4 && c.next(1) == 6 })
	}
	r, err := p.ma.ReverseMirrors(ctxT(t), p.lname, []string{p.topic}, "", false, false)
	if err != nil || r[0].Err != nil {
		t.Fatalf("reverse-and-start: %v %+v", err, r)
	}
	p.produce(t, p.aCl, "on-A", []int{2, 3})
	p.waitSame(t)
	for name, c := range map[string]*partConsumer{"A": ca, "B": cb} {
		c.poll(func() bool { return c.next(0) == 6 && c.next(1) == 9 })
		if len(c.losses) != 0 {
			t.Errorf("consumer of %s: data loss reported: %v", name, c.losses)
		}
		for part, rs := range c.read {
			for i, rec := range rs {
				if rec.off != int64(i) {
					t.Fatalf("consumer of %s, partition %d: read %v", name, part, rs)
				}
			}
			if last := rs[len(rs)-1]; !strings.HasPrefix(last.value, "on-A-") || last.epoch <= rs[0].epoch {
				t.Errorf("consumer of %s, partition %d: last record %+v (first epoch %d)", name, part, last, rs[0].epoch)
			}
		}
	}
}
