package mirror_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestMirrorFromKfake mirrors from franz-go's kfake — a Kafka
// implementation we did not write — a topic holding committed and aborted
// transactions, while its partition leaders move between kfake's three
// brokers. The mirror must be the source byte for byte (control batches
// included), and read_committed consumers of both must see the same
// records at the same offsets.
func TestMirrorFromKfake(t *testing.T) {
	src, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "txn"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seeds := src.ListenAddrs()
	dst := tandemtest.Start(t)

	tx, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("txn"),
		kgo.TransactionalID("mirror-test"), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	txBatch := func(n int, commit bool) {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			tx.Produce(ctxT(t), &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("commit=%v-%d", commit, i))}, nil)
		}
		if err := tx.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := tx.EndTransaction(ctxT(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txBatch(200, true)
	txBatch(100, false)

	lm := dst.Node.Links()
	cfg := map[string]string{"bootstrap.servers": seeds[0], "replica.fetch.wait.max.ms": "100", "metadata.max.age.ms": "1000"}
	if err := lm.CreateLink(ctxT(t), "k", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "k", "txn", "", nil, false); err != nil {
		t.Fatal(err)
	}
	// Move every partition's leader while mirroring, and keep writing.
	for p := int32(0); p < 3; p++ {
		if err := src.MoveTopicPartition("txn", p, (p+1)%3); err != nil {
			t.Fatal(err)
		}
	}
	txBatch(150, true)
	txBatch(50, false)
	for p := int32(0); p < 3; p++ {
		if err := src.MoveTopicPartition("txn", p, (p+2)%3); err != nil {
			t.Fatal(err)
		}
	}
	txBatch(100, true)

	scl := newClient(t, seeds[0])
	dcl := newClient(t, dst.Addr())
	ends, err := kadm.NewClient(scl).ListEndOffsets(ctxT(t), "txn")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		dends, err := kadm.NewClient(dcl).ListEndOffsets(ctxT(t), "txn")
		caught := err == nil
		ends.Each(func(o kadm.ListedOffset) {
			if d, _ := dends.Lookup("txn", o.Partition); d.Offset != o.Offset {
				caught = false
			}
		})
		if caught {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror did not catch up: source %v mirror %v", ends, dends)
		}
	}
	ends.Each(func(o kadm.ListedOffset) {
		s := rawBatches(t, scl, "txn", o.Partition, o.Offset)
		d := rawBatches(t, dcl, "txn", o.Partition, o.Offset)
		if !bytes.Equal(s, d) {
			t.Errorf("partition %d: mirror (%d bytes) differs from kfake's (%d bytes)", o.Partition, len(d), len(s))
		}
	})
	read := func(addr string) map[string]int64 {
		cl := newClient(t, addr, kgo.ConsumeTopics("txn"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		got := map[string]int64{}
		for len(got) < 450 {
			fs := cl.PollFetches(ctxT(t))
			if errs := fs.Errors(); len(errs) > 0 {
				t.Fatal(errs)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if bytes.HasPrefix(r.Value, []byte("commit=false")) {
					t.Errorf("read_committed returned aborted record %s at %d", r.Value, r.Offset)
				}
				got[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r.Offset
			})
		}
		return got
	}
	sgot, dgot := read(seeds[0]), read(dst.Addr())
	if len(sgot) != 450 || len(dgot) != 450 {
		t.Fatalf("read_committed: source %d records, mirror %d, want 450", len(sgot), len(dgot))
	}
	for k := range sgot {
		if _, ok := dgot[k]; !ok {
			t.Errorf("committed record %s on the source is not on the mirror", k)
		}
	}
}
