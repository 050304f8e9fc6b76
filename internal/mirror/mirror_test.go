package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return tandemtest.NewClient(t, addr, opts...)
}

// mirrorOverLink creates link "dr" from dst to src and mirrors topic
// (already created on the source) over it.
func mirrorOverLink(t *testing.T, src, dst *tandemtest.Broker, topic string) *link.Manager {
	t.Helper()
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), "dr", "", map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "dr", topic, "", nil, false); err != nil {
		t.Fatal(err)
	}
	return lm
}

// rawBatches fetches every batch of a partition, as stored.
func rawBatches(t *testing.T, cl *kgo.Client, topic string, p int32, end int64) []byte {
	t.Helper()
	var out []byte
	for off := int64(0); off < end; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, 100, 1, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		md, err := kadm.NewClient(cl).ListTopics(ctxT(t), topic)
		if err != nil {
			t.Fatal(err)
		}
		rt.TopicID = md[topic].ID
		leader := md[topic].Partitions[p].Leader // fetch from the leader (kfake has three brokers)
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = p, off, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t), cl.Broker(int(leader)))
		if err != nil {
			t.Fatal(err)
		}
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			t.Fatalf("fetch %s-%d at %d: %v", topic, p, off, kerr.ErrorForCode(sp.ErrorCode))
		}
		b := sp.RecordBatches
		progressed := false
		for len(b) >= 61 {
			n := 12 + int(uint32(b[8])<<24|uint32(b[9])<<16|uint32(b[10])<<8|uint32(b[11]))
			if n > len(b) {
				break
			}
			base := int64(0)
			for i := 0; i < 8; i++ {
				base = base<<8 | int64(b[i])
			}
			lod := int64(int32(uint32(b[23])<<24 | uint32(b[24])<<16 | uint32(b[25])<<8 | uint32(b[26])))
			out = append(out, b[:n]...)
			off, progressed = base+lod+1, true
			b = b[n:]
		}
		if !progressed {
			t.Fatalf("fetch %s-%d at %d made no progress", topic, p, off)
		}
	}
	return out
}

// TestMirrorEndToEnd mirrors a topic between two real brokers through a
// cluster link and checks what the issue asks: byte-for-byte batches at
// the source's offsets, consumers reading the mirror like the source,
// read-only until failover, and offsets continuing after it.
func TestMirrorEndToEnd(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr(), kgo.DefaultProduceTopic("orders"), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	produce := func(from, n int) {
		for i := from; i < from+n; i++ {
			r := &kgo.Record{Key: []byte(fmt.Sprint("k", i%50)), Value: []byte(fmt.Sprint("value-", i)),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{byte(i)}}}}
			scl.Produce(ctxT(t), r, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		if err := scl.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 2000)

	lm := mirrorOverLink(t, src, dst, "orders")
	produce(2000, 1000) // while mirroring

	sadm := kadm.NewClient(scl)
	dcl := newClient(t, dst.Addr())
	dadm := kadm.NewClient(dcl)
	srcEnds, err := sadm.ListEndOffsets(ctxT(t), "orders")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		dstEnds, err := dadm.ListEndOffsets(ctxT(t), "orders")
		if err != nil {
			t.Fatal(err)
		}
		caught := true
		srcEnds.Each(func(o kadm.ListedOffset) {
			if d, _ := dstEnds.Lookup("orders", o.Partition); d.Offset != o.Offset {
				caught = false
			}
		})
		if caught {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror did not catch up: source %v mirror %v", srcEnds, dstEnds)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Byte for byte, at the same offsets.
	srcEnds.Each(func(o kadm.ListedOffset) {
		s := rawBatches(t, scl, "orders", o.Partition, o.Offset)
		d := rawBatches(t, dcl, "orders", o.Partition, o.Offset)
		if !bytes.Equal(s, d) {
			t.Errorf("partition %d: mirror batches (%d bytes) differ from the source's (%d bytes)", o.Partition, len(d), len(s))
		}
	})

	// A consumer of the mirror sees the source's records at their offsets.
	cons := newClient(t, dst.Addr(), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := 0
	for seen < 3000 {
		fs := cons.PollFetches(ctxT(t))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		seen += fs.NumRecords()
	}

	// Read-only until failover.
	dp := newClient(t, dst.Addr(), kgo.DefaultProduceTopic("orders"), kgo.RecordRetries(1))
	err = dp.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("nope")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("produce to the mirror: %v", err)
	}
	mi, err := lm.Mirror("dr", "orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range mi.Partitions {
		if p.Lag() != 0 {
			t.Errorf("partition %d lag %d after catching up", p.Partition, p.Lag())
		}
	}
	res, err := lm.AlterMirrors(ctxT(t), "dr", "promote", []string{"orders"}, "", false)
	if err != nil || res[0].Err != nil {
		t.Fatalf("promote: %v %v", err, res[0].Err)
	}
	dp2 := newClient(t, dst.Addr(), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r, err := dp2.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("after"), Partition: 0}).First()
	if err != nil {
		t.Fatalf("produce after promote: %v", err)
	}
	if end, _ := srcEnds.Lookup("orders", 0); r.Offset != end.Offset {
		t.Fatalf("first record after promote at offset %d, want %d (continuing the source's offsets)", r.Offset, end.Offset)
	}
}

// TestMirrorPartitionLogClosed: a mirror partition's log is closed under
// the data path (as a topic deletion that unhosts partitions from
// metadata does, before the link hears of it). The data path must leave
// that partition alone quietly — the mirror stays ACTIVE, the partition
// reports neither an error nor a failure — while the mirror's other
// partition keeps mirroring.
func TestMirrorPartitionLogClosed(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	sadm := kadm.NewClient(scl)
	if _, err := sadm.CreateTopic(ctxT(t), 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	produce := func(tag string) {
		for i := range 20 {
			for p := int32(0); p < 2; p++ {
				scl.Produce(ctxT(t), &kgo.Record{Topic: "orders", Partition: p, Value: []byte(fmt.Sprint(tag, i))}, nil)
			}
		}
		if err := scl.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	produce("before")
	lm := mirrorOverLink(t, src, dst, "orders")
	caughtUp := func(p int32) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			ends, err := sadm.ListEndOffsets(ctxT(t), "orders")
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ends.Lookup("orders", p)
			mi, err := lm.Mirror("dr", "orders")
			if err != nil {
				t.Fatal(err)
			}
			for _, ps := range mi.Partitions {
				if ps.Partition == p && ps.LocalEndOffset == want.Offset {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d did not catch up to %d: %+v", p, want.Offset, mi.Partitions)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	caughtUp(0)
	caughtUp(1)

	pt, err := dst.Node.Broker().MirrorPartition("orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := pt.Log.Close(); err != nil {
		t.Fatal(err)
	}
	closedAt := pt.Log.LogEndOffset()
	produce("after")
	caughtUp(1)
	produce("later")
	caughtUp(1)

	mi, err := lm.Mirror("dr", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if mi.State != link.MirrorActive {
		t.Fatalf("mirror state %s after a partition's log closed", mi.State)
	}
	for _, ps := range mi.Partitions {
		if ps.Failed || ps.Err != nil || ps.ErrorCode != "" {
			t.Errorf("partition %d: failed=%v err=%v code=%q", ps.Partition, ps.Failed, ps.Err, ps.ErrorCode)
		}
		if ps.Partition == 0 && ps.LocalEndOffset != closedAt {
			t.Errorf("partition 0 moved from %d to %d after its log closed", closedAt, ps.LocalEndOffset)
		}
	}
}
