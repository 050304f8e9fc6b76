package fetcher_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/tandem-streaming/tandem/internal/wire"

	. "github.com/tandem-streaming/tandem/internal/fetcher"
)

// Mirroring from franz-go's kfake, a three-broker in-process cluster:
// a compacted topic with gaps, transactions with commits and aborts, and
// leaders moving while the mirror runs. Each test runs twice: against a
// source offering truncation on fetch (Fetch v12+) and against one capped
// at Fetch v11, where the fetcher validates with OffsetForLeaderEpoch.
//
// kfake answers Fetch v12+ but never reports a DivergingEpoch (its log is
// never truncated: one copy of the data serves every "broker"), so kfake
// exercises leadership, epochs and both request paths; true divergence is
// tested against Tandem (tandem_test.go) and in the transcripts.

var fetchModes = []struct {
	name      string
	maxV11    bool
	pipelined bool // a link's client options: LinkFetch with a Tandem source
}{
	{"truncation-on-fetch", false, false},
	{"offset-for-leader-epoch", true, false},
	{"pipelined", false, true},
}

// linkOpts are the client options with which a Tandem link's client
// offers and may send LinkFetch (internal/link's ClientOpts does the
// same): the link software name, and MaxVersions listing the key, with
// ApiVersions capped at v4 (Tandem answers v5 with v0).
func linkOpts() []kgo.Opt {
	v := kversion.Stable()
	v.SetMaxKeyVersion(wire.LinkFetchKey, wire.LinkAPIMaxVersion(wire.LinkFetchKey))
	v.SetMaxKeyVersion(kmsg.ApiVersions.Int16(), 4)
	return []kgo.Opt{kgo.SoftwareNameAndVersion(wire.LinkClientSoftwareName, "test"), kgo.MaxVersions(v)}
}

// v11 caps the client at Fetch v11 (Kafka 2.6), the last version without
// LastFetchedEpoch.
func v11() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(kmsg.Fetch.Int16(), 11)
	return v
}

func newKfake(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestMirrorKfake(t *testing.T) {
	for _, mode := range fetchModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			var copts []kfake.Opt
			var fopts []kgo.Opt
			if mode.maxV11 {
				// The source itself is capped, as an Apache Kafka 2.6
				// broker would be.
				copts = append(copts, kfake.MaxVersions(v11()))
			}
			if mode.pipelined {
				// A foreign source does not offer LinkFetch: Kafka's
				// fetch, whatever the client may send.
				fopts = append(fopts, linkOpts()...)
			}
			c := newKfake(t, copts...)
			seeds := c.ListenAddrs()
			cl := newClient(t, seeds)

			// (a) A compacted topic: keyed records in many batches, keys
			// overwritten, a tombstone; compaction leaves gaps.
			compact := "compact"
			createTopic(t, cl, compact, 2, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")})
			for round := 0; round < 4; round++ {
				for p := int32(0); p < 2; p++ {
					var rs []*kgo.Record
					for k := 0; k < 5; k++ {
						rs = append(rs, rec(compact, p, fmt.Sprintf("k%d", (k+round)%7), fmt.Sprintf("v%d-%d", round, k)))
					}
					produce(t, cl, rs...)
					produce(t, cl, rec(compact, p, fmt.Sprintf("k%d", round), fmt.Sprintf("solo%d", round)))
				}
			}
			produce(t, cl, &kgo.Record{Topic: compact, Partition: 0, Key: []byte("k1")}) // tombstone
			c.Compact()

			// (b) Transactions: commits and aborts, interleaved with
			// plain writes; one transaction left open.
			txn := "txn"
			createTopic(t, cl, txn, 1, nil)
			tcl := newClient(t, seeds, kgo.TransactionalID("mirror-test"), kgo.TransactionTimeout(30*time.Second))
			ctx := context.Background()
			for i := 0; i < 6; i++ {
				if err := tcl.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				produce(t, tcl, rec(txn, 0, "", fmt.Sprintf("txn%d-a", i)), rec(txn, 0, "", fmt.Sprintf("txn%d-b", i)))
				produce(t, cl, rec(txn, 0, "", fmt.Sprintf("plain%d", i)))
				if err := tcl.EndTransaction(ctx, kgo.TransactionEndTry(i%3 != 1)); err != nil {
					t.Fatal(err)
				}
			}

			// (c) A topic whose leaders move while it is mirrored.
			moving := "moving"
			createTopic(t, cl, moving, 3, nil)
			for p := int32(0); p < 3; p++ {
				produce(t, cl, rec(moving, p, "", "before"))
			}

			ts := newTargets(t)
			cfg := testConfig(seeds, fopts...)
			if mode.maxV11 {
				cfg.NumFetchers = 2 // two fetchers (and connections) per broker
			}
			keeper := newEpochKeeper()
			cfg.OnEffect = keeper.apply
			f := startFetcher(t, cfg)
			all := append(append(tpsOf(compact, 2), tpsOf(txn, 1)...), tpsOf(moving, 3)...)
			m := map[TopicPartition]PartitionConfig{}
			for _, tp := range all {
				m[tp] = PartitionConfig{Target: ts.open(tp, true), Start: StartEarliest, RaiseLeaderEpoch: true}
			}
			if err := f.AddPartitions(m); err != nil {
				t.Fatal(err)
			}

			// Leaders move between produce rounds, each move bumping the
			// partition's epoch.
			for round := 0; round < 5; round++ {
				for p := int32(0); p < 3; p++ {
					produce(t, cl, rec(moving, p, "", fmt.Sprintf("r%d-a", round)), rec(moving, p, "", fmt.Sprintf("r%d-b", round)))
					next := (c.LeaderFor(moving, p) + 1) % 3
					if err := c.MoveTopicPartition(moving, p, next); err != nil {
						t.Fatal(err)
					}
				}
				if round == 2 {
					waitCaughtUp(t, cl, f, ts, tpsOf(moving, 3)...)
				}
			}
			// An open transaction at the end holds the LSO back on both sides.
			if err := tcl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			produce(t, tcl, rec(txn, 0, "", "open"))

			waitCaughtUp(t, cl, f, ts, all...)
			for _, tp := range all {
				v := checkMirror(t, cl, tp, ts.get(tp))
				t.Logf("%s: %d batches, log start %d, hw %d, lso %d, aborted %v", tp, len(v.batches), v.start, v.hw, v.lso, v.aborted)
				switch tp.Topic {
				case compact:
					if !hasGap(v.batches) {
						t.Errorf("%s: the source has no compaction gaps; the test proves nothing", tp)
					}
				case txn:
					if len(v.aborted) == 0 || v.lso >= v.hw {
						t.Errorf("%s: aborted=%v lso=%d hw=%d: expected aborted transactions and an open one", tp, v.aborted, v.lso, v.hw)
					}
				}
			}
			waitFor(t, 10*time.Second, func() (bool, string) {
				for p := int32(0); p < 3; p++ {
					tp := TopicPartition{moving, p}
					st, _ := f.Status(tp)
					if st.Leader != c.LeaderFor(moving, p) || st.State != StateFetching {
						return false, fmt.Sprintf("%s: status leader %d state %s, source leader %d", tp, st.Leader, st.State, c.LeaderFor(moving, p))
					}
					// DLE >= SLE: the mirror's epoch was raised to the
					// source's current epoch (5 moves from 0 = 5), and
					// no batch above it was appended.
					k := keeper.epoch(tp)
					if k < st.CurrentLeaderEpoch || st.CurrentLeaderEpoch < 5 {
						return false, fmt.Sprintf("%s: kept epoch %d, source epoch %d", tp, k, st.CurrentLeaderEpoch)
					}
					if e, _ := ts.get(tp).LatestEpoch(); e > k {
						t.Fatalf("%s: a batch of epoch %d was appended above the advertised epoch %d", tp, e, k)
					}
				}
				return true, ""
			})
			stats := f.Stats()
			t.Logf("stats: %+v", stats)
			if md := f.SourceMetadata(); md == nil || md.ClusterID != "kfake" || len(md.Topics[moving].Partitions) != 3 {
				t.Errorf("source metadata: %+v", md)
			}
			if mode.maxV11 && stats.EpochRequests == 0 {
				t.Errorf("capped at Fetch v11, the fetcher never sent OffsetForLeaderEpoch: %+v", stats)
			}
			if stats.LinkFetchRequests != 0 {
				t.Fatalf("%d LinkFetch requests to kfake", stats.LinkFetchRequests)
			}
			if !mode.maxV11 && stats.EpochRequests != 0 {
				t.Errorf("with truncation on fetch, the fetcher sent OffsetForLeaderEpoch: %+v", stats)
			}
			if stats.BytesFetched == 0 || stats.RecordsFetched == 0 || stats.FetchRequests == 0 {
				t.Errorf("stats not counted: %+v", stats)
			}
			for _, st := range f.Statuses() {
				if st.Truncations != 0 {
					t.Errorf("%s truncated on a source that never diverges: %+v", st.TopicPartition, st.LastTruncation)
				}
			}
		})
	}
}

// TestMirrorKfakeSourceRestart kills the source mid-mirror and brings it
// back on the same ports and data: partitions back off with the error in
// their status, then resume without duplicates or gaps.
func TestMirrorKfakeSourceRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	seeds := c.ListenAddrs()
	var ports []int
	for _, a := range seeds {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		ports = append(ports, p)
	}
	cl := newClient(t, seeds)
	topic := "restart"
	createTopic(t, cl, topic, 2, nil)
	tps := tpsOf(topic, 2)
	for i := 0; i < 20; i++ {
		produce(t, cl, rec(topic, int32(i%2), "", fmt.Sprintf("a%d", i)))
	}
	ts := newTargets(t)
	f := startFetcher(t, testConfig(seeds))
	addAll(t, f, ts, StartEarliest, tps...)
	waitCaughtUp(t, cl, f, ts, tps...)

	c.Close()
	waitFor(t, 20*time.Second, func() (bool, string) {
		for _, tp := range tps {
			if st, _ := f.Status(tp); st.LastError == nil || st.ErrorSince.IsZero() {
				return false, fmt.Sprintf("%s: no error reported with the source down: %s", tp, st.State)
			}
		}
		return true, ""
	})

	c2, err := kfake.NewCluster(kfake.Ports(ports...), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for i := 0; i < 20; i++ {
		produce(t, cl, rec(topic, int32(i%2), "", fmt.Sprintf("b%d", i)))
	}
	waitCaughtUp(t, cl, f, ts, tps...)
	for _, tp := range tps {
		v := checkMirror(t, cl, tp, ts.get(tp))
		if v.hw != 20 {
			t.Errorf("%s: source high watermark %d, want 20", tp, v.hw)
		}
		if st, _ := f.Status(tp); st.LastError != nil || st.State != StateFetching {
			t.Errorf("%s: still %s with %v after the source came back", tp, st.State, st.LastError)
		}
	}
}

// TestMirrorKfakeStartSpecs starts mirrors at latest and at a timestamp.
func TestMirrorKfakeStartSpecs(t *testing.T) {
	t.Parallel()
	c := newKfake(t)
	seeds := c.ListenAddrs()
	cl := newClient(t, seeds)
	topic := "specs"
	createTopic(t, cl, topic, 3, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		for p := int32(0); p < 3; p++ {
			r := rec(topic, p, "", fmt.Sprintf("v%d", i))
			r.Timestamp = base.Add(time.Duration(i) * time.Minute)
			produce(t, cl, r)
		}
	}
	ts := newTargets(t)
	f := startFetcher(t, testConfig(seeds))
	// p0 latest, p1 at minute 4 (offset 4), p2 after the last record (at
	// the end).
	m := map[TopicPartition]PartitionConfig{
		{topic, 0}: {Target: ts.open(TopicPartition{topic, 0}, true), Start: StartLatest},
		{topic, 1}: {Target: ts.open(TopicPartition{topic, 1}, true), Start: StartAtTimestamp(base.Add(4 * time.Minute))},
		{topic, 2}: {Target: ts.open(TopicPartition{topic, 2}, true), Start: StartAtTimestamp(base.Add(time.Hour))},
	}
	if err := f.AddPartitions(m); err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{0: 10, 1: 4, 2: 10}
	waitFor(t, 20*time.Second, func() (bool, string) {
		for p, w := range want {
			tp := TopicPartition{topic, p}
			st, _ := f.Status(tp)
			if st.State != StateFetching || ts.get(tp).LogStartOffset() != w {
				return false, fmt.Sprintf("%s: %s, log start %d, want %d", tp, st.State, ts.get(tp).LogStartOffset(), w)
			}
		}
		return true, ""
	})
	for i := 10; i < 13; i++ {
		for p := int32(0); p < 3; p++ {
			produce(t, cl, rec(topic, p, "", fmt.Sprintf("v%d", i)))
		}
	}
	waitCaughtUp(t, cl, f, ts, tpsOf(topic, 3)...)
	for _, tp := range tpsOf(topic, 3) {
		checkMirror(t, cl, tp, ts.get(tp))
	}
}

// TestMirrorKfakeTopicLifecycle: a partition the source does not have yet
// waits (ErrSourcePartitionMissing) and starts once it is created; a
// source topic deleted and re-created under the same name fails the
// mirror (ErrSourceTopicIDChanged) instead of mixing two topics' data.
func TestMirrorKfakeTopicLifecycle(t *testing.T) {
	t.Parallel()
	c := newKfake(t)
	seeds := c.ListenAddrs()
	cl := newClient(t, seeds)
	adm := kadm.NewClient(cl)
	topic := "life"
	createTopic(t, cl, topic, 1, nil)
	produce(t, cl, rec(topic, 0, "", "a"))
	ts := newTargets(t)
	f := startFetcher(t, testConfig(seeds))
	p0, p1 := TopicPartition{topic, 0}, TopicPartition{topic, 1}
	addAll(t, f, ts, StartEarliest, p0, p1)
	waitCaughtUp(t, cl, f, ts, p0)
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, _ := f.Status(p1)
		return st.State == StateDelayed && errors.Is(st.LastError, ErrSourcePartitionMissing) && st.Leader == -1,
			fmt.Sprintf("%s: %s %v", p1, st.State, st.LastError)
	})
	st0, _ := f.Status(p0)
	if st0.SourceTopicID == ([16]byte{}) {
		t.Fatal("source topic id not learned")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := adm.CreatePartitions(ctx, 1, topic); err != nil {
		t.Fatal(err)
	}
	produce(t, newClient(t, seeds), rec(topic, 1, "", "b")) // a client that sees the new partition
	waitCaughtUp(t, cl, f, ts, p0, p1)
	if st, _ := f.Status(p1); st.LastError != nil || st.ErrorSince != (time.Time{}) {
		t.Fatalf("%s: error kept after recovery: %v", p1, st.LastError)
	}

	if _, err := adm.DeleteTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, _ := f.Status(p0)
		return errors.Is(st.LastError, ErrSourceTopicNotFound) || errors.Is(st.LastError, kerr.UnknownTopicOrPartition) || errors.Is(st.LastError, kerr.UnknownTopicID),
			fmt.Sprintf("%s: %s %v", p0, st.State, st.LastError)
	})
	createTopic(t, cl, topic, 2, nil)
	pcl := newClient(t, seeds)
	for i := 0; i < 5; i++ {
		produce(t, pcl, rec(topic, 0, "", "other-topic"))
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, _ := f.Status(p0)
		return st.State == StateFailed && errors.Is(st.LastError, ErrSourceTopicIDChanged), fmt.Sprintf("%s: %s %v", p0, st.State, st.LastError)
	})
	if got := ts.get(p0).LogEndOffset(); got != 1 {
		t.Fatalf("%s: the re-created topic's data reached the mirror (end %d)", p0, got)
	}
}
