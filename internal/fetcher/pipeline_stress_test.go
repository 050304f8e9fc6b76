package fetcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/wanproxy"

	. "github.com/tandem-streaming/tandem/internal/fetcher"
)

// Pipelined mirroring (LinkFetch, pipeline.go) from real Tandem brokers
// under continuous produce while everything that can change under the
// requests in flight changes: the source restarts, partitions are paused,
// resumed, removed and re-added, the fetcher is closed and reopened on the
// same logs, the source's history is rewritten under new leader epochs,
// the path is a delayed WAN that is cut, and the source drops the
// fetchers' sessions. Each ends with the mirror byte-identical to the
// source (checkMirror) and LinkFetch having been used.

// TestPipelinedMirrorUnderChurn: a paused partition must not move while
// answers carrying it are in flight, and every restart, pause, removal
// and reopening leaves the mirror byte-identical.
func TestPipelinedMirrorUnderChurn(t *testing.T) {
	b := tandemtest.Start(t)
	seeds := []string{b.Addr()}
	cl := newClient(t, seeds)
	topic := "churn"
	const n = 4
	createTopic(t, cl, topic, n, nil)
	tps := tpsOf(topic, n)
	stop := stopOnce(produceInBackground(t, newClient(t, seeds), topic, n, true))
	defer stop()

	ts := newTargets(t)
	var linkFetches int64
	open := func() *Fetcher { return openOnTargets(t, testConfig(seeds, linkOpts()...), ts, tps) }
	progress := func(tp TopicPartition) {
		t.Helper()
		start := ts.get(tp).LogEndOffset()
		waitFor(t, 20*time.Second, func() (bool, string) {
			return ts.get(tp).LogEndOffset() > start+4, fmt.Sprintf("%s: no progress from %d", tp, start)
		})
	}
	f := open()
	for round := 0; round < 5; round++ {
		progress(tps[0])

		// Pause two partitions: from Pause's return, whatever answers
		// are in flight, their targets must not move.
		paused := tps[:2]
		for _, tp := range paused {
			if err := f.Pause(tp); err != nil {
				t.Fatal(err)
			}
		}
		before := []int64{ts.get(paused[0]).LogEndOffset(), ts.get(paused[1]).LogEndOffset()}
		progress(tps[3]) // rounds ran since the pause
		for i, tp := range paused {
			if got := ts.get(tp).LogEndOffset(); got != before[i] {
				t.Fatalf("round %d: paused %s moved from %d to %d", round, tp, before[i], got)
			}
		}
		for _, tp := range paused {
			if err := f.Resume(tp); err != nil {
				t.Fatal(err)
			}
		}

		// Remove and re-add one partition (same target) while it
		// is carried by requests in flight.
		if err := f.RemovePartitions(tps[2]); err != nil {
			t.Fatal(err)
		}
		before2 := ts.get(tps[2]).LogEndOffset()
		progress(tps[3])
		if got := ts.get(tps[2]).LogEndOffset(); got != before2 {
			t.Fatalf("round %d: removed %s moved from %d to %d", round, tps[2], before2, got)
		}
		if err := f.AddPartitions(map[TopicPartition]PartitionConfig{tps[2]: {Target: ts.get(tps[2])}}); err != nil {
			t.Fatal(err)
		}
		progress(tps[2])

		// The source restarts with requests in flight.
		b.Restart()
		progress(tps[1])

		// The fetcher is closed mid-flight and reopened on the same
		// logs (recovered as after a crash).
		linkFetches += f.Stats().LinkFetchRequests
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		ts.closeAll()
		for _, tp := range tps {
			ts.open(tp, false)
		}
		f = open()
	}
	stop()
	waitCaughtUp(t, cl, f, ts, tps...)
	for _, tp := range tps {
		checkMirror(t, cl, tp, ts.get(tp))
	}
	linkFetches += f.Stats().LinkFetchRequests
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if linkFetches == 0 {
		t.Fatal("no LinkFetch requests: the mirror was not pipelined")
	}
	t.Logf("LinkFetch requests: %d", linkFetches)
}

// TestPipelinedMirrorNewLeaderEpochs: the source's partition 0 gets its
// history rewritten twice under new leader epochs (as after unclean
// elections) while partition 1 keeps being written; the pipelined mirror
// truncates to each divergence point and ends byte-identical.
func TestPipelinedMirrorNewLeaderEpochs(t *testing.T) {
	b := tandemtest.Start(t)
	seeds := []string{b.Addr()}
	cl := newClient(t, seeds)
	topic := "epochs"
	createTopic(t, cl, topic, 2, nil)
	tps := tpsOf(topic, 2)
	ts := newTargets(t)
	f := startFetcher(t, testConfig(seeds, linkOpts()...))
	addAll(t, f, ts, StartEarliest, tps...)

	for epoch := int32(1); epoch <= 2; epoch++ {
		stop := produceInBackground(t, newClient(t, seeds), topic, 2, true)
		time.Sleep(300 * time.Millisecond)
		stop()
		waitCaughtUp(t, cl, f, ts, tps...)
		// A batch boundary in the middle of what the mirror holds,
		// which is the source's history so far.
		v := checkMirror(t, cl, tps[0], ts.get(tps[0]))
		if len(v.batches) < 4 {
			t.Fatalf("only %d batches", len(v.batches))
		}
		keep := v.batches[len(v.batches)/2].BaseOffset()
		end := ts.get(tps[0]).LogEndOffset()
		// Requests are in flight (long polls) while the broker stops;
		// writes resume as soon as it is back.
		b.RestartAfter(func() { rewriteHistoryAt(t, b.Dir, topic, keep, 7, epoch) })
		// The checker's raw Fetch does not retry a connection the
		// restart closed: a new client.
		cl = newClient(t, seeds)
		stop = produceInBackground(t, newClient(t, seeds), topic, 2, true)
		time.Sleep(300 * time.Millisecond)
		stop()
		waitCaughtUp(t, cl, f, ts, tps...)
		for _, tp := range tps {
			checkMirror(t, cl, tp, ts.get(tp))
		}
		st, _ := f.Status(tps[0])
		if st.Truncations != int64(epoch) || st.LastTruncation.From != end || st.LastTruncation.To != keep {
			t.Fatalf("epoch %d: truncations %d, last %+v; want from %d to %d", epoch, st.Truncations, st.LastTruncation, end, keep)
		}
		if st.CurrentLeaderEpoch != epoch {
			t.Fatalf("epoch %d: status %+v", epoch, st)
		}
	}
	if f.Stats().LinkFetchRequests == 0 {
		t.Fatal("no LinkFetch requests")
	}
}

// stopOnce makes a produceInBackground stop safe to call again (deferred
// for a test that fails before it stops the producer itself).
func stopOnce(stop func()) func() {
	var once sync.Once
	return func() { once.Do(stop) }
}

// rewriteHistoryAt is rewriteHistory to any leader epoch: partition 0 of
// topic gets epoch, its log is truncated to keep (a batch boundary) and n
// records are appended as leader in that epoch.
func rewriteHistoryAt(t *testing.T, dir, topic string, keep int64, n int, epoch int32) {
	t.Helper()
	store, err := metadata.OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	top, err := store.DeleteTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	top.LeaderEpochs[0] = epoch
	if err := store.CreateTopic(top); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := log.Open(log.Options{Dir: filepath.Join(dir, topic+"-0"), Topic: topic, TopicID: top.ID, CleanShutdown: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(keep); err != nil {
		t.Fatal(err)
	}
	bl := record.NewBuilder()
	for i := 0; i < n; i++ {
		bl.Append(time.Now().UnixMilli(), nil, []byte(fmt.Sprintf("epoch-%d-%d", epoch, i)))
	}
	if _, err := l.AppendAsLeader(bl.Build(), epoch); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// wanSource is a Tandem broker that advertises a wanproxy in front of
// it, so that the fetcher's every connection crosses the delayed path,
// and a dialer for the test's own clients that maps the advertised
// address back to the broker (producing and checking do not cross it).
type wanSource struct {
	b      *tandemtest.Broker
	addr   string // the proxy's (advertised) address
	path   *wanproxy.Path
	mu     sync.Mutex
	proxy  *wanproxy.Proxy
	direct []kgo.Opt
}

func startWANSource(t *testing.T, rtt time.Duration) *wanSource {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w := &wanSource{addr: addr, path: wanproxy.NewPath(wanproxy.Config{Delay: rtt / 2})}
	w.b = tandemtest.Start(t, tandemtest.Config("advertised.listeners", "PLAINTEXT://"+addr))
	target := w.b.Addr()
	w.direct = []kgo.Opt{kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
		if host == addr {
			host = target
		}
		var d net.Dialer
		return d.DialContext(ctx, network, host)
	})}
	w.listen(t)
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		_ = w.proxy.Close()
	})
	return w
}

func (w *wanSource) listen(t *testing.T) {
	t.Helper()
	var err error
	for i := 0; i < 50; i++ { // the port was just released
		var p *wanproxy.Proxy
		if p, err = wanproxy.Listen(w.addr, w.b.Addr(), w.path); err == nil {
			w.mu.Lock()
			w.proxy = p
			w.mu.Unlock()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(err)
}

// cut closes every connection across the path (and the listener), then
// listens again at the same address: the fetcher's requests in flight
// fail and it reconnects.
func (w *wanSource) cut(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	_ = w.proxy.Close()
	w.mu.Unlock()
	w.listen(t)
}

// TestPipelinedMirrorAcrossWAN: at 40 ms RTT, under continuous produce,
// with the path cut twice mid-stream, the pipelined mirror catches up and
// is byte-identical.
func TestPipelinedMirrorAcrossWAN(t *testing.T) {
	w := startWANSource(t, 40*time.Millisecond)
	cl := newClient(t, []string{w.b.Addr()}, w.direct...)
	topic := "wan"
	const n = 3
	createTopic(t, cl, topic, n, nil)
	tps := tpsOf(topic, n)
	stop := stopOnce(produceInBackground(t, newClient(t, []string{w.b.Addr()}, w.direct...), topic, n, false))
	defer stop()

	ts := newTargets(t)
	cfg := testConfig([]string{w.addr}, linkOpts()...)
	cfg.FetchMaxWait = 500 * time.Millisecond // the default, above the RTT
	f := startFetcher(t, cfg)
	addAll(t, f, ts, StartEarliest, tps...)
	for cut := 0; cut < 2; cut++ {
		start := ts.get(tps[0]).LogEndOffset()
		waitFor(t, 10*time.Second, func() (bool, string) {
			return ts.get(tps[0]).LogEndOffset() > start+20, "no progress across the path"
		})
		w.cut(t)
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	waitCaughtUp(t, cl, f, ts, tps...)
	for _, tp := range tps {
		checkMirror(t, cl, tp, ts.get(tp))
	}
	st := f.Stats()
	if st.LinkFetchRequests == 0 || st.FetchErrors == 0 {
		t.Fatalf("LinkFetch requests %d, fetch errors %d: want both (pipelined, cut)", st.LinkFetchRequests, st.FetchErrors)
	}
	t.Logf("stats: %+v; %d bytes down the path", st, w.path.Delivered())
}

// logCounter is a slog handler counting the records whose message
// contains a substring.
type logCounter struct {
	sub string
	n   *atomic.Int64
}

func (h logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h logCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.sub) {
		h.n.Add(1)
	}
	return nil
}
func (h logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logCounter) WithGroup(string) slog.Handler      { return h }

// TestPipelinedMirrorSessionsDropped: the source drops every LinkFetch
// session (as eviction or the idle timeout would) again and again while
// the fetcher pipelines, under continuous produce and while caught up:
// the fetcher sees the Sequence start over, begins a new session each
// time, and the mirror stays byte-identical.
func TestPipelinedMirrorSessionsDropped(t *testing.T) {
	b := tandemtest.Start(t)
	seeds := []string{b.Addr()}
	cl := newClient(t, seeds)
	topic := "sessions"
	const n = 3
	createTopic(t, cl, topic, n, nil)
	tps := tpsOf(topic, n)
	stop := stopOnce(produceInBackground(t, newClient(t, seeds), topic, n, false))
	defer stop()

	resets := new(atomic.Int64)
	cfg := testConfig(seeds, linkOpts()...)
	cfg.Logger = slog.New(logCounter{sub: "LinkFetch session reset", n: resets})
	ts := newTargets(t)
	f := startFetcher(t, cfg)
	addAll(t, f, ts, StartEarliest, tps...)
	waitFor(t, 10*time.Second, func() (bool, string) {
		return f.Stats().LinkFetchRequests > 10, "not pipelining"
	})
	drops := 0
	dropFor := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			if b.Node.Broker().DropLinkFetchSessions() > 0 {
				drops++
			}
			time.Sleep(30 * time.Millisecond)
		}
	}
	dropFor(2 * time.Second)
	stop()
	// Caught up: the requests are long polls when the sessions go.
	waitCaughtUp(t, cl, f, ts, tps...)
	dropFor(500 * time.Millisecond)
	produce(t, cl, rec(topic, 0, "", "after"), rec(topic, 1, "", "after"), rec(topic, 2, "", "after"))
	waitCaughtUp(t, cl, f, ts, tps...)
	for _, tp := range tps {
		checkMirror(t, cl, tp, ts.get(tp))
	}
	if resets.Load() == 0 || drops == 0 {
		t.Fatalf("%d sessions dropped, %d session resets seen by the fetcher", drops, resets.Load())
	}
	t.Logf("%d drops, %d session resets, stats %+v", drops, resets.Load(), f.Stats())
}

// TestPipelinedReAddedPartitionChecksDivergence: a partition removed
// while LinkFetch long polls carrying it are parked at the source, whose
// target meanwhile diverges (its epoch-2 records replaced by local writes
// under epoch 1, which the source never had, as a mirror promoted in
// between would hold), and which is re-added at the same end offset, must
// be checked for divergence from that target (KIP-595: its first fetch
// names the target's last epoch), as with Kafka's fetch. The parked
// answers were read from the session's cursor, checked against the
// removed state's epochs: applying them to the new state appends the
// source's next records after the local ones, and the target never
// matches the source again.
func TestPipelinedReAddedPartitionChecksDivergence(t *testing.T) {
	forEachFetch(t, testReAddedPartitionChecksDivergence)
}

func testReAddedPartitionChecksDivergence(t *testing.T, opts []kgo.Opt) *Fetcher {
	b := tandemtest.Start(t)
	seeds := []string{b.Addr()}
	cl := newClient(t, seeds)
	topic := "readd"
	createTopic(t, cl, topic, 2, nil)
	tps := tpsOf(topic, 2)
	for i := 0; i < 5; i++ {
		produce(t, cl, rec(topic, 0, "", fmt.Sprintf("a%d", i)), rec(topic, 0, "", fmt.Sprintf("b%d", i)), rec(topic, 1, "", fmt.Sprintf("c%d", i)))
	}
	// Offsets 10-16 of partition 0 in leader epoch 2.
	b.RestartAfter(func() { rewriteHistoryAt(t, b.Dir, topic, 10, 7, 2) })
	cl = newClient(t, seeds)

	cfg := testConfig(seeds, opts...)
	cfg.FetchMaxWait = 500 * time.Millisecond // the default: the long polls stay parked meanwhile
	ts := newTargets(t)
	f := startFetcher(t, cfg)
	addAll(t, f, ts, StartEarliest, tps...)
	waitCaughtUp(t, cl, f, ts, tps...)
	// The requests now in flight are long polls (tps[1] keeps the
	// worker, and its requests, alive).
	reqs := f.Stats().FetchRequests
	waitFor(t, 10*time.Second, func() (bool, string) {
		return f.Stats().FetchRequests > reqs, "no long poll issued"
	})
	time.Sleep(100 * time.Millisecond)

	if err := f.RemovePartitions(tps[0]); err != nil {
		t.Fatal(err)
	}
	target := ts.get(tps[0])
	if err := target.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	bl := record.NewBuilder()
	for i := 0; i < 7; i++ {
		bl.Append(time.Now().UnixMilli(), nil, []byte(fmt.Sprintf("local-%d", i)))
	}
	if _, err := target.AppendAsLeader(bl.Build(), 1); err != nil {
		t.Fatal(err)
	}
	if got := target.LogEndOffset(); got != 17 {
		t.Fatalf("target end %d, want 17", got)
	}
	if err := f.AddPartitions(map[TopicPartition]PartitionConfig{tps[0]: {Target: target}}); err != nil {
		t.Fatal(err)
	}
	// New records wake the parked long polls.
	produce(t, cl, rec(topic, 0, "", "new-1"), rec(topic, 0, "", "new-2"))
	waitCaughtUp(t, cl, f, ts, tps...)
	checkMirror(t, cl, tps[0], target)
	if st, _ := f.Status(tps[0]); st.Truncations != 1 || st.LastTruncation.To != 10 {
		t.Fatalf("want one truncation to 10: %+v", st)
	}
	return f
}

// TestResumeAndAddOnIdleWorker: with every partition caught up, a
// fetcher's requests are long polls parked at the source until max wait
// (20 s here). A partition resumed, or added to that worker, must not wait
// for them: Kafka's fetch cancels its one request; a pipelined worker
// starts a new session, and the source answers the old session's parked
// polls at once (its connection named another session). Without that, the
// partition waited for every outstanding poll: up to 6 × max wait.
func TestResumeAndAddOnIdleWorker(t *testing.T) {
	forEachFetch(t, testResumeAndAddOnIdleWorker)
}

func testResumeAndAddOnIdleWorker(t *testing.T, opts []kgo.Opt) *Fetcher {
	b := tandemtest.Start(t)
	seeds := []string{b.Addr()}
	cl := newClient(t, seeds)
	topic := "idle2"
	createTopic(t, cl, topic, 3, nil)
	tps := tpsOf(topic, 3)
	for _, tp := range tps {
		produce(t, cl, rec(topic, tp.Partition, "", "first"))
	}
	cfg := testConfig(seeds, opts...)
	cfg.FetchMaxWait = 20 * time.Second
	ts := newTargets(t)
	f := startFetcher(t, cfg) // one fetcher: every partition on one worker
	addAll(t, f, ts, StartEarliest, tps[:2]...)
	waitCaughtUp(t, cl, f, ts, tps[:2]...)
	parked := func() { time.Sleep(300 * time.Millisecond) } // the long polls reach the source

	if err := f.Pause(tps[0]); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, rec(topic, 0, "", "while paused"))
	parked()
	start := time.Now()
	if err := f.Resume(tps[0]); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, cl, f, ts, tps[:2]...)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("resume waited %v for the parked long polls", d)
	} else {
		t.Logf("resume: caught up after %v", d)
	}

	parked()
	start = time.Now()
	addAll(t, f, ts, StartEarliest, tps[2])
	waitCaughtUp(t, cl, f, ts, tps...)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a partition added to the idle worker waited %v", d)
	} else {
		t.Logf("add: caught up after %v", d)
	}
	for _, tp := range tps {
		checkMirror(t, cl, tp, ts.get(tp))
	}

	// A partition with nothing to fetch, added while idle: its first
	// request parks like the others. The worker must then stay quiet
	// (its long polls answered at max wait), not start session after
	// session while that request waits.
	createTopic(t, cl, "empty2", 1, nil)
	addAll(t, f, ts, StartEarliest, TopicPartition{"empty2", 0})
	time.Sleep(300 * time.Millisecond)
	before := f.Stats().FetchRequests
	time.Sleep(1500 * time.Millisecond)
	if n := f.Stats().FetchRequests - before; n > 2 {
		t.Errorf("%d fetch requests in 1.5 s of an idle worker with a 20 s max wait", n)
	}
	// Wake the polls still parked so the broker can stop.
	for _, tp := range tps {
		produce(t, cl, rec(topic, tp.Partition, "", "wake"))
	}
	produce(t, cl, rec("empty2", 0, "", "wake"))
	return f
}
