package broker_test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestRestoreStates: truncate-and-restore's broker side
// (internal/link/restore.go). An ordinary topic may become a mirror only
// by entering PENDING_RESTORE, which makes it read-only at once; leaving
// PENDING_RESTORE (the truncation done) raises the partitions' leader
// epochs, so that clients holding the old epoch are fenced and find the
// truncation (KIP-320). Other states are still refused on an ordinary
// topic.
func TestRestoreStates(t *testing.T) {
	b := tandemtest.Start(t)
	br := b.Node.Broker()
	if _, err := br.CreateTopic(broker.TopicSpec{Name: "t", Partitions: 2, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "t", Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	m := metadata.Mirror{Link: "l", SourceTopic: "t", State: metadata.MirrorActive}
	if err := br.SetMirrorState("t", m); !errors.Is(err, metadata.ErrUnknownTopic) {
		t.Fatalf("ACTIVE on an ordinary topic: %v, want refused", err)
	}
	before, _ := br.TopicByName("t")
	m.State, m.PendingOp, m.PreviousState = metadata.MirrorPendingRestore, "restore", metadata.MirrorStopped
	if err := br.SetMirrorState("t", m); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "t", Partition: 0, Value: []byte("y")}).FirstErr(); err == nil {
		t.Fatal("produce to a PENDING_RESTORE topic succeeded")
	}
	mid, _ := br.TopicByName("t")
	if mid.Mirror == nil || mid.Mirror.State != metadata.MirrorPendingRestore || mid.LeaderEpochs[0] != before.LeaderEpochs[0] {
		t.Fatalf("PENDING_RESTORE: %+v epochs %v (before %v)", mid.Mirror, mid.LeaderEpochs, before.LeaderEpochs)
	}
	m.State, m.PendingOp, m.PreviousState = metadata.MirrorActive, "", ""
	if err := br.SetMirrorState("t", m); err != nil {
		t.Fatal(err)
	}
	after, _ := br.TopicByName("t")
	for p := range after.LeaderEpochs {
		pt, err := br.MirrorPartition("t", int32(p))
		if err != nil {
			t.Fatal(err)
		}
		if after.LeaderEpochs[p] <= before.LeaderEpochs[p] || pt.LeaderEpoch() != after.LeaderEpochs[p] {
			t.Fatalf("partition %d: epoch %d (partition %d), before %d: want raised and applied", p, after.LeaderEpochs[p], pt.LeaderEpoch(), before.LeaderEpochs[p])
		}
	}
	if !after.ReadOnly() {
		t.Fatal("the restored mirror is writable")
	}
}
