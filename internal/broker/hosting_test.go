package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// sourceBatch builds a batch as a mirror copies it: at the source's offset
// and leader epoch.
func sourceBatch(base int64, epoch int32, n int) []byte {
	bld := record.NewBuilder()
	bld.BaseOffset, bld.PartitionLeaderEpoch = base, epoch
	for range n {
		bld.Append(time.Now().UnixMilli(), []byte("k"), []byte("v"))
	}
	return bld.Build()
}

// fillMirror appends n records at offset 0 of a mirror partition, as its
// link would, and waits until they are durable.
func fillMirror(t *testing.T, br *broker.Broker, topic string, p int32, n int) {
	t.Helper()
	pt, err := br.MirrorPartition(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pt.Log.AppendVerbatim(sourceBatch(0, 0, n)); err != nil {
		t.Fatal(err)
	}
	if err := pt.Log.WaitHighWatermark(ctxT(t), int64(n)); err != nil {
		t.Fatal(err)
	}
}

// partitionCount is the topic's partition count in metadata (what
// Metadata answers; read from the broker, since kadm may answer from its
// client's metadata cache), after checking that every partition is hosted.
func partitionCount(t *testing.T, br *broker.Broker, topic string) int {
	t.Helper()
	md, err := br.TopicByName(topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range md.Partitions {
		if _, err := br.MirrorPartition(topic, p); err != nil {
			t.Fatalf("partition %d in metadata but not hosted: %v", p, err)
		}
	}
	if _, err := br.MirrorPartition(topic, md.Partitions); err == nil {
		t.Fatalf("partition %d hosted but not in metadata", md.Partitions)
	}
	return int(md.Partitions)
}

func startOffset(t *testing.T, adm *kadm.Client, topic string, p int32) int64 {
	t.Helper()
	so, err := adm.ListStartOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := so.Lookup(topic, p)
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	return o.Offset
}

// TestMirrorRefusesCreatePartitionsAndDeleteRecords: a mirror's shape and
// log start follow its source, so clients may neither add partitions
// (which used to leave the mirror FAILED with SOURCE_PARTITIONS_DECREASED)
// nor delete records; the link's own partition sync still grows it, and
// once stopped (promote/failover) it is an ordinary topic.
func TestMirrorRefusesCreatePartitionsAndDeleteRecords(t *testing.T) {
	b := tandemtest.Start(t)
	br := b.Node.Broker()
	mirror := metadata.Mirror{Link: "dr", SourceTopic: "orders", State: metadata.MirrorActive}
	if _, err := br.CreateMirrorTopic("m", 3, nil, mirror); err != nil {
		t.Fatal(err)
	}
	fillMirror(t, br, "m", 0, 5)
	adm := kadm.NewClient(client(t, b))

	const wantCP = "Cannot add partitions to mirror topic 'm': its partition count follows the source topic"
	for _, c := range []struct {
		name string
		do   func() (kadm.CreatePartitionsResponses, error)
	}{
		{"CreatePartitions", func() (kadm.CreatePartitionsResponses, error) { return adm.CreatePartitions(ctxT(t), 2, "m") }},
		{"UpdatePartitions", func() (kadm.CreatePartitionsResponses, error) { return adm.UpdatePartitions(ctxT(t), 5, "m") }},
		{"ValidateCreatePartitions", func() (kadm.CreatePartitionsResponses, error) {
			return adm.ValidateCreatePartitions(ctxT(t), 2, "m")
		}},
	} {
		rs, err := c.do()
		if err != nil {
			t.Fatal(err)
		}
		if r := rs["m"]; !errors.Is(r.Err, kerr.InvalidRequest) || r.ErrMessage != wantCP {
			t.Fatalf("%s on an active mirror: %v %q, want INVALID_REQUEST %q", c.name, r.Err, r.ErrMessage, wantCP)
		}
	}
	if n := partitionCount(t, br, "m"); n != 3 {
		t.Fatalf("refused CreatePartitions: mirror has %d partitions, want 3", n)
	}

	drs, err := adm.DeleteRecords(ctxT(t), kadm.Offsets{"m": {0: {Topic: "m", Partition: 0, At: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := drs.Lookup("m", 0); !errors.Is(r.Err, kerr.InvalidRequest) {
		t.Fatalf("DeleteRecords on an active mirror: %v, want INVALID_REQUEST", r.Err)
	}
	if so := startOffset(t, adm, "m", 0); so != 0 {
		t.Fatalf("refused DeleteRecords moved the log start offset to %d", so)
	}

	// The link's partition sync may grow it (the source grew).
	if err := br.AddMirrorPartitions("m", 4); err != nil {
		t.Fatalf("AddMirrorPartitions: %v", err)
	}
	if n := partitionCount(t, br, "m"); n != 4 {
		t.Fatalf("after the link's partition sync: %d partitions, want 4", n)
	}
	if _, err := br.MirrorPartition("m", 3); err != nil {
		t.Fatalf("partition added by the link is not hosted: %v", err)
	}

	// A paused mirror is still the link's.
	mirror.State = metadata.MirrorPaused
	if err := br.SetMirrorState("m", mirror); err != nil {
		t.Fatal(err)
	}
	if rs, _ := adm.CreatePartitions(ctxT(t), 1, "m"); !errors.Is(rs["m"].Err, kerr.InvalidRequest) {
		t.Fatalf("CreatePartitions on a paused mirror: %v", rs["m"].Err)
	}

	// Failed over: an ordinary topic.
	mirror.State = metadata.MirrorStopped
	if err := br.SetMirrorState("m", mirror); err != nil {
		t.Fatal(err)
	}
	if rs, err := adm.CreatePartitions(ctxT(t), 1, "m"); err != nil || rs["m"].Err != nil {
		t.Fatalf("CreatePartitions on a stopped mirror: %v %v", err, rs["m"].Err)
	}
	if n := partitionCount(t, br, "m"); n != 5 {
		t.Fatalf("after CreatePartitions on a stopped mirror: %d partitions, want 5", n)
	}
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "m", Partition: 4, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to the new partition: %v", err)
	}
	drs, err = adm.DeleteRecords(ctxT(t), kadm.Offsets{"m": {0: {Topic: "m", Partition: 0, At: 3}}})
	if r, _ := drs.Lookup("m", 0); err != nil || r.Err != nil || r.LowWatermark != 3 {
		t.Fatalf("DeleteRecords on a stopped mirror: %v %+v", err, r)
	}
	if so := startOffset(t, adm, "m", 0); so != 3 {
		t.Fatalf("log start offset %d after DeleteRecords, want 3", so)
	}
}

// waitFor polls cond until it holds or 10 s pass: for changes applied by
// the reconciler's loop goroutine, which nothing in the test can wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHostingFollowsMetadata writes the metadata store directly, as
// another node's controller would, and checks that the broker hosts,
// reconfigures and unhosts partitions to match, with no admin call.
func TestHostingFollowsMetadata(t *testing.T) {
	b := tandemtest.Start(t)
	br, store := b.Node.Broker(), b.Node.Store()
	if err := store.CreateTopic(metadata.Topic{Name: "x", Partitions: 2, ReplicationFactor: 1, Leader: br.NodeID()}); err != nil {
		t.Fatal(err)
	}
	hosted := func(p int32) bool { _, err := br.MirrorPartition("x", p); return err == nil }
	waitFor(t, "x-1 hosted", func() bool { return hosted(1) })

	if err := store.AddPartitions("x", 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "x-2 hosted", func() bool { return hosted(2) })

	if err := store.SetTopicConfigs("x", map[string]string{"retention.ms": "1234"}); err != nil {
		t.Fatal(err)
	}
	p0, _ := br.MirrorPartition("x", 0)
	waitFor(t, "retention.ms applied", func() bool { return p0.Log.Config().RetentionMs == 1234 })

	if err := store.SetLeaderEpochs("x", []int32{4, 0, 2}); err != nil {
		t.Fatal(err)
	}
	p2, _ := br.MirrorPartition("x", 2)
	waitFor(t, "leader epochs applied", func() bool { return p0.LeaderEpoch() == 4 && p2.LeaderEpoch() == 2 })

	if err := store.SetMirror("x", &metadata.Mirror{Link: "dr", SourceTopic: "x", State: metadata.MirrorActive}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "read-only applied", func() bool { return p0.ReadOnly() && p2.ReadOnly() })

	// Broker configs reach every topic's effective config.
	if err := store.SetBrokerConfigs(metadata.ClusterDefaultNode, map[string]string{"log.segment.bytes": "1048576"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "broker default applied", func() bool { return p0.Log.Config().SegmentBytes == 1048576 })

	dir := p0.Log.Dir()
	if _, err := store.DeleteTopic("x"); err != nil {
		t.Fatal(err)
	}
	// Unhost drops the partitions from the index first, then deletes
	// their logs.
	waitFor(t, "x unhosted and its data deleted", func() bool {
		_, err := os.Stat(dir)
		return !hosted(0) && errors.Is(err, os.ErrNotExist)
	})
}

// TestDeleteTopicWhileMirrorAppends deletes a mirror topic while a
// fetcher-like writer appends to it, truncates it and raises its leader
// epoch. DeleteTopic no longer stops the link first: the writer's calls
// must fail cleanly (log.ErrClosed, or unknown topic for the epoch) and
// nothing may write into the deleted directories or bring them back; a
// topic created again under the name starts empty.
func TestDeleteTopicWhileMirrorAppends(t *testing.T) {
	b := tandemtest.Start(t)
	br := b.Node.Broker()
	for round := range 5 {
		m := metadata.Mirror{Link: "dr", SourceTopic: "orders", State: metadata.MirrorActive}
		if _, err := br.CreateMirrorTopic("m", 2, nil, m); err != nil {
			t.Fatal(err)
		}
		var dirs []string
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for p := range int32(2) {
			pt, err := br.MirrorPartition("m", p)
			if err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, pt.Log.Dir())
			wg.Add(1)
			go func() {
				defer wg.Done()
				next, epoch := int64(100*round), int32(0)
				for {
					if _, err := pt.Log.AppendVerbatim(sourceBatch(next, epoch, 3)); err != nil {
						errs <- err
						return
					}
					next += 3
					if next%9 == 0 {
						if err := pt.Log.TruncateTo(next - 1); err != nil {
							errs <- err
							return
						}
						next = pt.Log.LogEndOffset()
						epoch++
						if err := br.RaiseLeaderEpoch("m", p, epoch); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(round) * time.Millisecond) // vary how far the writers got
		if _, err := br.DeleteTopic("m"); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, log.ErrClosed) && !errors.Is(err, metadata.ErrUnknownTopic) {
				t.Fatalf("round %d: writer racing DeleteTopic: %v", round, err)
			}
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("round %d: %s after DeleteTopic: %v", round, d, err)
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join(b.Dir, "m-*"))
		for _, l := range leftovers {
			if !strings.HasSuffix(l, "-delete") {
				t.Fatalf("round %d: leftover %s", round, l)
			}
		}
	}
	// Created again: empty, writable.
	if _, err := br.CreateTopic(broker.TopicSpec{Name: "m", Partitions: 2, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "m", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pt, _ := br.MirrorPartition("m", 0)
	if pt.Log.LogStartOffset() != 0 || pt.Log.LogEndOffset() != 1 {
		t.Fatalf("re-created topic: log %d..%d, want 0..1", pt.Log.LogStartOffset(), pt.Log.LogEndOffset())
	}
}

// TestConcurrentConfigChangesLoseNothing runs incremental config changes
// of one topic concurrently, each setting its own key: they are
// read-modify-writes of the topic's overrides, so without compare-and-set
// one would overwrite another's key.
func TestConcurrentConfigChangesLoseNothing(t *testing.T) {
	b := tandemtest.Start(t)
	br := b.Node.Broker()
	if _, err := br.CreateTopic(broker.TopicSpec{Name: "c", Partitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{
		"retention.ms": "3600000", "segment.ms": "600000", "retention.bytes": "1048576", "max.message.bytes": "65536",
		"delete.retention.ms": "1000", "file.delete.delay.ms": "10", "min.compaction.lag.ms": "5", "max.compaction.lag.ms": "86400000",
	}
	for round := range 10 {
		var wg sync.WaitGroup
		for k, v := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := br.AlterTopicConfigs("c", []broker.AlterTopicConfig{{Name: k, Value: v}}, false); err != nil {
					t.Errorf("set %s: %v", k, err)
				}
			}()
		}
		wg.Wait()
		md, _ := br.TopicByName("c")
		for k, v := range keys {
			if md.Configs[k] != v {
				t.Fatalf("round %d: %s = %q after concurrent changes, want %q (lost update); configs %v", round, k, md.Configs[k], v, md.Configs)
			}
		}
		if err := br.SetTopicConfigs("c", nil, false); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRaiseLeaderEpochApplied: the epoch a mirror fetcher asks for is on
// the hosted partition when RaiseLeaderEpoch returns, and never goes down.
func TestRaiseLeaderEpochApplied(t *testing.T) {
	b := tandemtest.Start(t)
	br := b.Node.Broker()
	if _, err := br.CreateMirrorTopic("m", 2, nil, metadata.Mirror{Link: "dr", SourceTopic: "s", State: metadata.MirrorActive}); err != nil {
		t.Fatal(err)
	}
	p1, _ := br.MirrorPartition("m", 1)
	for _, c := range []struct{ ask, want int32 }{{5, 5}, {3, 5}, {5, 5}, {9, 9}} {
		if err := br.RaiseLeaderEpoch("m", 1, c.ask); err != nil {
			t.Fatal(err)
		}
		md, _ := br.TopicByName("m")
		if p1.LeaderEpoch() != c.want || md.LeaderEpochs[1] != c.want || md.LeaderEpochs[0] != 0 {
			t.Fatalf("RaiseLeaderEpoch(%d): partition at %d, metadata %v; want %d", c.ask, p1.LeaderEpoch(), md.LeaderEpochs, c.want)
		}
	}
	if err := br.RaiseLeaderEpoch("m", 2, 1); !errors.Is(err, metadata.ErrUnknownTopic) {
		t.Fatalf("RaiseLeaderEpoch of a partition past the count: %v", err)
	}
}

// TestConcurrentBrokerConfigChangesLoseNothing is the same for dynamic
// broker configs changed with IncrementalAlterConfigs from several
// clients at once (the handler's read-modify-write of the node's record).
func TestConcurrentBrokerConfigChangesLoseNothing(t *testing.T) {
	b := tandemtest.Start(t)
	br := b.Node.Broker()
	keys := map[string]string{
		"log.retention.ms": "3600000", "log.retention.bytes": "1048576", "log.segment.bytes": "2097152",
		"log.roll.ms": "600000", "message.max.bytes": "65536", "log.cleaner.delete.retention.ms": "1000",
	}
	adms := map[string]*kadm.Client{}
	for k := range keys {
		adms[k] = kadm.NewClient(client(t, b))
	}
	for round := range 5 {
		var wg sync.WaitGroup
		for k, v := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs, err := adms[k].AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: k, Value: &v}}, br.NodeID())
				if err == nil {
					err = rs[0].Err
				}
				if err != nil {
					t.Errorf("set %s: %v", k, err)
				}
			}()
		}
		wg.Wait()
		got := b.Node.Store().BrokerConfigs(br.NodeID())
		for k, v := range keys {
			if got[k] != v {
				t.Fatalf("round %d: %s = %q after concurrent changes, want %q (lost update); configs %v", round, k, got[k], v, got)
			}
		}
		if err := br.SetBrokerConfigs(br.NodeID(), nil, false); err != nil {
			t.Fatal(err)
		}
	}
}
