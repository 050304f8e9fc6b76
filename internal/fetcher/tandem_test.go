package fetcher_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/tandemtest"

	. "github.com/tandem-streaming/tandem/internal/fetcher"
)

// Mirroring from a real in-process Tandem broker: pause/resume,
// remove/re-add, the source restarting mid-mirror, the fetcher stopped
// abruptly and restarted on the same (recovered) logs, and a real
// divergence — the source log truncated and rewritten under a new leader
// epoch, as after an unclean leader election — detected with KIP-595
// truncation on fetch and, with the client capped at Fetch v11, with
// OffsetForLeaderEpoch.

func TestMirrorTandem(t *testing.T) {
	forEachFetch(t, testMirrorTandem)
}

// forEachFetch runs test with Kafka's fetch and with LinkFetch (a link's
// client options, pipeline.go), checking that the mode was the one used.
func forEachFetch(t *testing.T, test func(t *testing.T, opts []kgo.Opt) *Fetcher) {
	for _, pipelined := range []bool{false, true} {
		name := "fetch"
		var opts []kgo.Opt
		if pipelined {
			name, opts = "link-fetch", linkOpts()
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := test(t, opts)
			if got := f.Stats().LinkFetchRequests; (got > 0) != pipelined {
				t.Fatalf("LinkFetch requests: %d (pipelined: %v)", got, pipelined)
			}
		})
	}
}

func testMirrorTandem(t *testing.T, opts []kgo.Opt) *Fetcher {
	b := tandemtest.Start(t)
	cl := newClient(t, []string{b.Addr()})
	topic := "orders"
	createTopic(t, cl, topic, 2, nil)
	tps := tpsOf(topic, 2)
	p0, p1 := tps[0], tps[1]
	for i := 0; i < 30; i++ {
		produce(t, cl, rec(topic, int32(i%2), fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)))
	}
	ts := newTargets(t)
	f := startFetcher(t, testConfig([]string{b.Addr()}, opts...))
	addAll(t, f, ts, StartEarliest, tps...)
	waitCaughtUp(t, cl, f, ts, tps...)

	// Pause p0: once Pause returns nothing more is appended. p1 catching
	// up on newer data proves rounds ran after the pause.
	if err := f.Pause(p0); err != nil {
		t.Fatal(err)
	}
	holdsStill(t, cl, f, ts, p0, p1)
	if st, _ := f.Status(p0); st.State != StatePaused || !st.Paused || st.Lag < 0 {
		t.Fatalf("paused status: %+v", st)
	}
	if err := f.Resume(p0); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, cl, f, ts, tps...)

	// Remove p1: the fetcher lets go of its target; re-adding it resumes
	// at the target's end, whatever the start spec says.
	if err := f.RemovePartitions(p1); err != nil {
		t.Fatal(err)
	}
	holdsStill(t, cl, f, ts, p1, p0)
	if _, ok := f.Status(p1); ok {
		t.Fatal("removed partition still has a status")
	}
	if err := f.AddPartitions(map[TopicPartition]PartitionConfig{p1: {Target: ts.get(p1), Start: StartLatest}}); err != nil {
		t.Fatal(err)
	}
	if err := f.AddPartitions(map[TopicPartition]PartitionConfig{p1: {Target: ts.get(p1)}}); err == nil {
		t.Fatal("adding a partition twice succeeded")
	}

	// The source restarts mid-mirror (same port, same data).
	stop := produceInBackground(t, newClient(t, []string{b.Addr()}), topic, 2, true)
	time.Sleep(50 * time.Millisecond) // let some writes and fetches overlap the restart
	b.Restart()
	time.Sleep(50 * time.Millisecond)
	stop()
	waitCaughtUp(t, cl, f, ts, tps...)
	for _, tp := range tps {
		checkMirror(t, cl, tp, ts.get(tp))
	}
	return f
}

// openOnTargets starts a Fetcher (not closed by the test's cleanup) on
// the targets of tps, opening the missing ones empty, from the earliest
// offset (ignored for targets that hold data).
func openOnTargets(t *testing.T, cfg Config, ts *targets, tps []TopicPartition) *Fetcher {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := map[TopicPartition]PartitionConfig{}
	for _, tp := range tps {
		l := ts.get(tp)
		if l == nil {
			l = ts.open(tp, true)
		}
		m[tp] = PartitionConfig{Target: l, Start: StartEarliest}
	}
	if err := f.AddPartitions(m); err != nil {
		t.Fatal(err)
	}
	return f
}

// holdsStill writes to both partitions and waits for active to catch up
// (proof that the fetcher ran rounds since), then checks that still's
// target did not move.
func holdsStill(t *testing.T, cl *kgo.Client, f *Fetcher, ts *targets, still, active TopicPartition) {
	t.Helper()
	before := ts.get(still).LogEndOffset()
	for i := 0; i < 10; i++ {
		produce(t, cl, rec(still.Topic, still.Partition, "", fmt.Sprintf("s%d", i)), rec(active.Topic, active.Partition, "", fmt.Sprintf("a%d", i)))
	}
	waitCaughtUp(t, cl, f, ts, active)
	if got := ts.get(still).LogEndOffset(); got != before {
		t.Fatalf("%s moved from %d to %d", still, before, got)
	}
}

// produceInBackground writes to every partition of topic in turn until
// the returned stop is called (which waits for it). Errors fail the test
// unless tolerated (a source being restarted).
func produceInBackground(t *testing.T, cl *kgo.Client, topic string, partitions int32, tolerate bool) (stop func()) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			p := int32(i) % partitions
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := cl.ProduceSync(ctx, rec(topic, p, "", fmt.Sprintf("bg%d-a", i)), rec(topic, p, "", fmt.Sprintf("bg%d-b", i))).FirstErr()
			cancel()
			if err != nil && !tolerate {
				t.Errorf("produce: %v", err)
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// TestFetcherRestartOnSameLogs stops the fetcher abruptly while the
// source is being written, reopens the targets with crash recovery, and
// starts a new fetcher on them: it resumes at each log's end, with no
// duplicates and no gaps (the checker compares every batch).
func TestFetcherRestartOnSameLogs(t *testing.T) {
	forEachFetch(t, testFetcherRestartOnSameLogs)
}

func testFetcherRestartOnSameLogs(t *testing.T, opts []kgo.Opt) *Fetcher {
	b := tandemtest.Start(t)
	seeds := []string{b.Addr()}
	cl := newClient(t, seeds)
	topic := "events"
	createTopic(t, cl, topic, 3, nil)
	tps := tpsOf(topic, 3)

	stop := produceInBackground(t, cl, topic, 3, false)

	ts := newTargets(t)
	for round := 0; round < 3; round++ {
		f := openOnTargets(t, testConfig(seeds, opts...), ts, tps)
		// Let it copy something, then stop it mid-flight.
		start := ts.get(tps[0]).LogEndOffset()
		waitFor(t, 20*time.Second, func() (bool, string) {
			return ts.get(tps[0]).LogEndOffset() > start+4, "no progress"
		})
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		// Reopen the targets as after a crash: recovery validates the
		// tails.
		ts.closeAll()
		for _, tp := range tps {
			ts.open(tp, false)
		}
	}
	stop()

	f := startFetcher(t, testConfig(seeds, opts...))
	m := map[TopicPartition]PartitionConfig{}
	for _, tp := range tps {
		m[tp] = PartitionConfig{Target: ts.get(tp), Start: StartLatest} // ignored: the targets hold data
	}
	if err := f.AddPartitions(m); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, cl, f, ts, tps...)
	for _, tp := range tps {
		if v := checkMirror(t, cl, tp, ts.get(tp)); v.start != 0 || ts.get(tp).LogStartOffset() != 0 {
			t.Fatalf("%s: the restarted fetcher did not resume (target log start %d)", tp, ts.get(tp).LogStartOffset())
		}
	}
	return f
}

// TestMirrorTandemDivergence rewrites the source's history: with the
// broker down, the partition's leader epoch is bumped from 0 to 1 and its
// log truncated and appended to under the new epoch, as an uncleanly
// elected leader would. The mirror must find the divergence point, drop
// what the source lost, and copy the new history.
func TestMirrorTandemDivergence(t *testing.T) {
	for _, mode := range fetchModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			b := tandemtest.Start(t)
			addr := b.Addr()
			cl := newClient(t, []string{addr})
			topic := "ledger"
			createTopic(t, cl, topic, 1, nil)
			tp := TopicPartition{topic, 0}
			for i := 0; i < 3; i++ {
				var rs []*kgo.Record
				for j := 0; j < 5; j++ {
					rs = append(rs, rec(topic, 0, "", fmt.Sprintf("old-%d-%d", i, j)))
				}
				produce(t, cl, rs...) // one batch of 5: offsets 0-4, 5-9, 10-14
			}
			ts := newTargets(t)
			var opts []kgo.Opt
			if mode.maxV11 {
				opts = append(opts, kgo.MaxVersions(v11()))
			}
			if mode.pipelined {
				opts = append(opts, linkOpts()...)
			}
			f := startFetcher(t, testConfig([]string{addr}, opts...))
			addAll(t, f, ts, StartEarliest, tp)
			waitCaughtUp(t, cl, f, ts, tp)

			b.Stop()
			rewriteHistory(t, b.Dir, topic, 5, 7)
			b2 := tandemtest.Start(t, tandemtest.Config("log.dirs", b.Dir), tandemtest.Config("listeners", "PLAINTEXT://"+addr))
			_ = b2
			produce(t, cl, rec(topic, 0, "", "new-after"))

			waitCaughtUp(t, cl, f, ts, tp)
			v := checkMirror(t, cl, tp, ts.get(tp))
			st, _ := f.Status(tp)
			if st.Truncations != 1 || st.LastTruncation.From != 15 || st.LastTruncation.To != 5 {
				t.Fatalf("truncation: %d, last %+v; want one from 15 to 5", st.Truncations, st.LastTruncation)
			}
			if st.CurrentLeaderEpoch != 1 || st.MaxSourceLeaderEpoch != 1 || ts.get(tp).EpochEntries()[1] != [2]int64{1, 5} {
				t.Fatalf("epochs: status %+v, local cache %v", st, ts.get(tp).EpochEntries())
			}
			if got := f.Stats().EpochRequests; (got > 0) != mode.maxV11 {
				t.Fatalf("OffsetForLeaderEpoch requests: %d (capped at v11: %v)", got, mode.maxV11)
			}
			if got := f.Stats().LinkFetchRequests; (got > 0) != mode.pipelined {
				t.Fatalf("LinkFetch requests: %d (pipelined: %v)", got, mode.pipelined)
			}
			t.Logf("%s: %d batches, last truncation %+v", tp, len(v.batches), st.LastTruncation)
		})
	}
}

// rewriteHistory edits a stopped Tandem broker's data: the topic's
// partition 0 gets leader epoch 1 in the metadata store, its log is
// truncated to keep (a batch boundary) and n new records are appended as
// leader in epoch 1 (rewriteHistoryAt).
func rewriteHistory(t *testing.T, dir, topic string, keep int64, n int) {
	t.Helper()
	rewriteHistoryAt(t, dir, topic, keep, n, 1)
}

// TestCommandsPreemptLongPoll: a caught-up partition's fetch waits up to
// FetchMaxWait at the source; Pause, RemovePartitions and Close must not
// wait for it (they cancel the in-flight request).
func TestCommandsPreemptLongPoll(t *testing.T) {
	forEachFetch(t, testCommandsPreemptLongPoll)
}

func testCommandsPreemptLongPoll(t *testing.T, opts []kgo.Opt) *Fetcher {
	b := tandemtest.Start(t)
	seeds := []string{b.Addr()}
	cl := newClient(t, seeds)
	createTopic(t, cl, "idle", 2, nil)
	produce(t, cl, rec("idle", 0, "", "x"), rec("idle", 1, "", "y"))
	cfg := testConfig(seeds, opts...)
	cfg.FetchMaxWait = 20 * time.Second
	ts := newTargets(t)
	f := startFetcher(t, cfg)
	tps := tpsOf("idle", 2)
	addAll(t, f, ts, StartEarliest, tps...)
	waitCaughtUp(t, cl, f, ts, tps...)
	// Give the next long poll time to reach the broker.
	waitFor(t, 10*time.Second, func() (bool, string) {
		return f.Stats().FetchRequests >= 2, "no long poll yet"
	})
	for _, c := range []struct {
		name string
		op   func() error
	}{
		{"pause", func() error { return f.Pause(tps[0]) }},
		{"remove", func() error { return f.RemovePartitions(tps[1]) }},
		{"close", f.Close},
	} {
		name, op := c.name, c.op
		start := time.Now()
		if err := op(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s waited %v for a long poll", name, d)
		}
	}
	// The broker still parks the abandoned fetches until data arrives or
	// their wait ends (and its shutdown waits for them): wake them.
	produce(t, cl, rec("idle", 0, "", "wake"), rec("idle", 1, "", "wake"))
	return f
}
