package mirror_test

// Regression tests for the link-plane defects of issue #8, each between
// real brokers with the real data path.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// waitUntil polls cond every 50 ms until it holds or d passes; it
// returns how long that took.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func produceN(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		cl.Produce(ctxT(t), &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint("v", i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func mirrorOf(t *testing.T, lm *link.Manager, l, topic string) link.MirrorInfo {
	t.Helper()
	mi, err := lm.Mirror(l, topic)
	if err != nil {
		t.Fatal(err)
	}
	return mi
}

func lags(mi link.MirrorInfo) []int64 {
	var out []int64
	for _, p := range mi.Partitions {
		out = append(out, p.Lag())
	}
	return out
}

// TestLagAndAvailabilityWhilePausedOrUnreachable: a paused mirror's lag
// follows the source (it read 0 before), keeps its last known value with
// a growing age once the source is gone; the link goes UNAVAILABLE
// within availability.check.ms × threshold of the source dying (it stayed
// ACTIVE for minutes before), and so does a destination restarted while
// the source is down.
func TestLagAndAvailabilityWhilePausedOrUnreachable(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 1, 1, nil, "clicks"); err != nil {
		t.Fatal(err)
	}
	produceN(t, scl, "orders", 200)
	lm := dst.Node.Links()
	cfg := map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100", "topic.config.sync.ms": "1000",
		"availability.check.ms": "500", "availability.check.consecutive.failure.threshold": "2"}
	if err := lm.CreateLink(ctxT(t), "dr", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"orders", "clicks"} {
		if err := lm.CreateMirror(ctxT(t), "dr", topic, "", nil, false); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "caught up", func() bool {
		mi := mirrorOf(t, lm, "dr", "orders")
		var leo int64
		for _, p := range mi.Partitions {
			leo += p.LocalEndOffset
			if p.Lag() != 0 {
				return false
			}
		}
		return leo == 200
	})
	if res, _ := lm.AlterMirrors(ctxT(t), "dr", "pause", []string{"orders"}, "", false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	produceN(t, scl, "orders", 100)
	var sum int64
	waitUntil(t, 10*time.Second, "lag of the paused mirror follows the source", func() bool {
		sum = 0
		for _, l := range lags(mirrorOf(t, lm, "dr", "orders")) {
			sum += l
		}
		return sum == 100
	})

	// The source dies: the link notices within check × threshold (+ one
	// check's timeout and a poll), the ACTIVE mirror reports
	// SOURCE_UNAVAILABLE, the paused one keeps its last known lag.
	src.Stop()
	took := waitUntil(t, 5*time.Second, "link UNAVAILABLE after the source died", func() bool {
		li, _ := lm.Link("dr")
		return li.State == link.LinkUnavailable
	})
	t.Logf("link UNAVAILABLE %v after the source stopped (availability.check.ms=500, threshold 2)", took)
	if mi := mirrorOf(t, lm, "dr", "clicks"); mi.State != metadata.MirrorSourceUnavailable {
		t.Fatalf("active mirror while the source is down: %s", mi.State)
	}
	mi := mirrorOf(t, lm, "dr", "orders")
	var lagNow int64
	for _, p := range mi.Partitions {
		lagNow += p.Lag()
		if p.SourceEndTime.IsZero() || time.Since(p.SourceEndTime) < 500*time.Millisecond {
			t.Fatalf("source end age while unreachable: %+v", p)
		}
	}
	if lagNow != 100 || mi.State != metadata.MirrorPaused {
		t.Fatalf("paused mirror with the source down: state %s lag %d, want PAUSED 100", mi.State, lagNow)
	}
	li, _ := lm.Link("dr")
	var avail link.TaskStatus
	for _, tk := range li.Tasks {
		if tk.Name == link.TaskAvailabilityCheck {
			avail = tk
		}
	}
	if avail.State != link.TaskInError || avail.ErrorCode == "" {
		t.Fatalf("availability task while the source is down: %+v", avail)
	}

	// A destination restarted while the source is down finds out too.
	dst.Restart()
	lm = dst.Node.Links()
	waitUntil(t, 5*time.Second, "link UNAVAILABLE after a destination restart", func() bool {
		li, _ := lm.Link("dr")
		return li.State == link.LinkUnavailable
	})
}

// TestStopReportsFinalOffsets: failover and promote results, and the
// description of the STOPPED mirror (also after a restart), carry the
// offsets and lag at the moment of the stop, not -1.
func TestStopReportsFinalOffsets(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	for _, topic := range []string{"a", "b"} {
		if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		produceN(t, scl, topic, 300)
	}
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), "dr", "", map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}, false, true); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"a", "b"} {
		if err := lm.CreateMirror(ctxT(t), "dr", topic, "", nil, false); err != nil {
			t.Fatal(err)
		}
	}
	caughtUp := func(topic string) bool {
		var leo int64
		for _, p := range mirrorOf(t, lm, "dr", topic).Partitions {
			if p.Lag() != 0 {
				return false
			}
			leo += p.LocalEndOffset
		}
		return leo == 300
	}
	waitUntil(t, 30*time.Second, "caught up", func() bool { return caughtUp("a") && caughtUp("b") })
	check := func(what string, ps []link.PartitionStatus) {
		t.Helper()
		var leo, srcEnd int64
		for _, p := range ps {
			if p.LocalEndOffset < 0 || p.SourceEndOffset < 0 || p.LastSourceFetchOffset < 0 || p.Lag() != 0 {
				t.Fatalf("%s: partition %+v", what, p)
			}
			leo += p.LocalEndOffset
			srcEnd += p.SourceEndOffset
		}
		if len(ps) != 2 || leo != 300 || srcEnd != 300 {
			t.Fatalf("%s: %d partitions, local ends %d, source ends %d; want 2, 300, 300", what, len(ps), leo, srcEnd)
		}
	}
	res, _ := lm.AlterMirrors(ctxT(t), "dr", "promote", []string{"a"}, "", false)
	if res[0].Err != nil || res[0].Info.State != metadata.MirrorStopped {
		t.Fatalf("promote: %v %s", res[0].Err, res[0].Info.State)
	}
	check("promote result", res[0].Info.Partitions)
	res, _ = lm.AlterMirrors(ctxT(t), "dr", "failover", []string{"b"}, "", false)
	if res[0].Err != nil || res[0].Info.State != metadata.MirrorStopped {
		t.Fatalf("failover: %v %s", res[0].Err, res[0].Info.State)
	}
	check("failover result", res[0].Info.Partitions)
	// The source moves on; the stopped mirrors still describe their stop.
	produceN(t, scl, "a", 50)
	dst.Restart()
	lm = dst.Node.Links()
	check("stopped mirror after restart", mirrorOf(t, lm, "dr", "a").Partitions)
	check("failed-over mirror after restart", mirrorOf(t, lm, "dr", "b").Partitions)
	// Their lag at the stop is not a live lag series (nor the link's max).
	if body := scrape(t, "http://"+dst.HTTPAddr()+"/metrics"); strings.Contains(body, `tandem_mirror_partition_lag{link="dr"`) ||
		strings.Contains(body, `tandem_link_max_lag{link="dr"}`) {
		t.Fatalf("stopped mirrors still export lag:\n%s", body)
	}
}

// TestDeletedSourceTopicHonoursRetryTimeout: a deleted source topic fails
// the mirror only once cluster.link.retry.timeout.ms has passed (it
// failed within ~8 s even with 300000 before).
func TestDeletedSourceTopicHonoursRetryTimeout(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	sadm := kadm.NewClient(newClient(t, src.Addr()))
	for _, topic := range []string{"slow", "fast"} {
		if _, err := sadm.CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	lm := dst.Node.Links()
	base := map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100", "topic.config.sync.ms": "1000"}
	long, short := map[string]string{"cluster.link.retry.timeout.ms": "300000"}, map[string]string{"cluster.link.retry.timeout.ms": "2000"}
	for k, v := range base {
		long[k], short[k] = v, v
	}
	if err := lm.CreateLink(ctxT(t), "patient", "", long, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateLink(ctxT(t), "hasty", "", short, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "patient", "slow", "", nil, false); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "hasty", "fast", "", nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := sadm.DeleteTopics(ctxT(t), "slow", "fast"); err != nil {
		t.Fatal(err)
	}
	took := waitUntil(t, 15*time.Second, "short retry timeout fails the mirror", func() bool {
		mi := mirrorOf(t, lm, "hasty", "fast")
		return mi.State == metadata.MirrorFailed && mi.Topic.Mirror.Error == "SOURCE_TOPIC_MAY_BE_DELETED"
	})
	if took < 1500*time.Millisecond {
		t.Fatalf("failed after %v, before the 2 s retry timeout", took)
	}
	// Many sync rounds later, the patient mirror is still waiting.
	time.Sleep(3 * time.Second)
	if mi := mirrorOf(t, lm, "patient", "slow"); mi.State == metadata.MirrorFailed {
		t.Fatalf("mirror failed (%s) long before cluster.link.retry.timeout.ms=300000", mi.Topic.Mirror.Error)
	}
}

// TestDeletedLinkLeavesNoMirrors: after its link is deleted, a stopped
// mirror is an ordinary topic, absent from mirror listings, and does not
// reappear under a new link of the same name; a forced deletion fails
// over the mirrors still running.
func TestDeletedLinkLeavesNoMirrors(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	for _, topic := range []string{"kept", "forced"} {
		if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		produceN(t, scl, topic, 10)
	}
	lm := dst.Node.Links()
	cfg := map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}
	if err := lm.CreateLink(ctxT(t), "dr", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "dr", "kept", "", nil, false); err != nil {
		t.Fatal(err)
	}
	if res, _ := lm.AlterMirrors(ctxT(t), "dr", "failover", []string{"kept"}, "", false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if err := lm.DeleteLink("dr", false, false); err != nil {
		t.Fatal(err)
	}
	if ms, _ := lm.Mirrors("", ""); len(ms) != 0 {
		t.Fatalf("mirrors listed after their link was deleted: %+v", ms)
	}
	if err := lm.CreateLink(ctxT(t), "dr", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if ms, _ := lm.Mirrors("dr", ""); len(ms) != 0 {
		t.Fatalf("old mirror listed under the re-created link: %+v", ms)
	}
	if err := lm.CreateMirror(ctxT(t), "dr", "forced", "", nil, false); err != nil {
		t.Fatal(err)
	}
	if err := lm.DeleteLink("dr", true, false); err != nil {
		t.Fatal(err)
	}
	if ms, _ := lm.Mirrors("", ""); len(ms) != 0 {
		t.Fatalf("mirrors listed after a forced deletion: %+v", ms)
	}
	// Both are ordinary, writable topics now.
	dcl := newClient(t, dst.Addr())
	for _, topic := range []string{"kept", "forced"} {
		if err := dcl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Value: []byte("local")}).FirstErr(); err != nil {
			t.Fatalf("produce to %s after its link was deleted: %v", topic, err)
		}
		if tp, _ := dst.Node.Broker().TopicByName(topic); tp.Mirror != nil {
			t.Fatalf("%s still a mirror: %+v", topic, tp.Mirror)
		}
	}
}

// TestMirrorDeletedAndRecreatedFills: deleting a mirror topic (a metadata
// write; the broker no longer calls into the link) stops its data path,
// and a mirror created again under the same name fills from scratch.
func TestMirrorDeletedAndRecreatedFills(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	produceN(t, scl, "orders", 100)
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), "dr", "", map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}, false, true); err != nil {
		t.Fatal(err)
	}
	filled := func(want int64) func() bool {
		return func() bool {
			mi, err := lm.Mirror("dr", "orders")
			if err != nil {
				return false
			}
			var leo int64
			for _, p := range mi.Partitions {
				leo += p.LocalEndOffset
			}
			return leo == want
		}
	}
	if err := lm.CreateMirror(ctxT(t), "dr", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "first mirror filled", filled(100))
	dadm := kadm.NewClient(newClient(t, dst.Addr()))
	if r, err := dadm.DeleteTopics(ctxT(t), "orders"); err != nil || r["orders"].Err != nil {
		t.Fatalf("delete mirror topic: %v %v", err, r["orders"].Err)
	}
	produceN(t, scl, "orders", 50)
	if err := lm.CreateMirror(ctxT(t), "dr", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "re-created mirror filled", filled(150))
}

// corruptingProxy forwards loopback TCP to a backend, flipping one byte
// near the end of the first `budget` large server→client chunks (where a
// fetch answer's record batches are), as a faulty path or source would.
type corruptingProxy struct {
	ln      net.Listener
	backend atomic.Pointer[string]
	budget  atomic.Int64
}

func newCorruptingProxy(t *testing.T) *corruptingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &corruptingProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *corruptingProxy) serve(c net.Conn) {
	defer c.Close()
	addr := p.backend.Load()
	if addr == nil {
		return
	}
	b, err := net.Dial("tcp", *addr)
	if err != nil {
		return
	}
	defer b.Close()
	go func() { _, _ = io.Copy(b, c); b.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := b.Read(buf)
		if n > 2000 && p.budget.Add(-1) >= 0 {
			buf[n-50] ^= 0xff
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestCorruptFetchesAreCountedAndHealed: answers damaged on the way are
// dropped (nothing corrupt reaches the mirror), counted in
// tandem_link_fetch_corrupt_total / tandem_link_fetch_errors_total and
// logged; once the path is clean the mirror is byte-identical.
func TestCorruptFetchesAreCountedAndHealed(t *testing.T) {
	px := newCorruptingProxy(t)
	src := tandemtest.Start(t, tandemtest.Config("advertised.listeners", "PLAINTEXT://"+px.ln.Addr().String()))
	addr := src.Addr()
	px.backend.Store(&addr)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		scl.Produce(ctxT(t), &kgo.Record{Topic: "orders", Value: bytes.Repeat([]byte{byte(i)}, 100)}, nil)
	}
	if err := scl.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	px.budget.Store(3)
	lm := dst.Node.Links()
	if err := lm.CreateLink(ctxT(t), "dr", "", map[string]string{"bootstrap.servers": px.ln.Addr().String(),
		"replica.fetch.wait.max.ms": "100", "replica.fetch.backoff.ms": "100"}, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "dr", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "mirror caught up", func() bool {
		mi := mirrorOf(t, lm, "dr", "orders")
		return len(mi.Partitions) == 1 && mi.Partitions[0].LocalEndOffset == 2000
	})
	if px.budget.Load() >= 0 {
		t.Fatalf("the proxy corrupted only %d of 3 answers", 3-px.budget.Load())
	}
	body := scrape(t, "http://"+dst.HTTPAddr()+"/metrics")
	corrupt, errs := metricValue(body, `tandem_link_fetch_corrupt_total{link="dr"}`), metricValue(body, `tandem_link_fetch_errors_total{link="dr"}`)
	t.Logf("corrupt answers counted: %v, failed fetches: %v", corrupt, errs)
	if corrupt+errs < 1 {
		t.Fatalf("damaged answers not counted:\n%s", body)
	}
	dcl := newClient(t, dst.Addr())
	if !bytes.Equal(rawBatches(t, scl, "orders", 0, 2000), rawBatches(t, dcl, "orders", 0, 2000)) {
		t.Fatal("mirror differs from the source after damaged answers")
	}
}

// metricValue is the value of the series named exactly (with labels) in
// a Prometheus text exposition, 0 when absent.
func metricValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}

// TestAlteredLinkConfigsReachTheDataPath: after a link's configs change,
// the data path reconnects with them (a new fetcher: its counters start
// again) and mirroring goes on from where the logs end.
func TestAlteredLinkConfigsReachTheDataPath(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl := newClient(t, src.Addr())
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	produceN(t, scl, "orders", 100)
	lm := dst.Node.Links()
	cfg := map[string]string{"bootstrap.servers": src.Addr(), "replica.fetch.wait.max.ms": "100"}
	if err := lm.CreateLink(ctxT(t), "dr", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if err := lm.CreateMirror(ctxT(t), "dr", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	fetched := func() float64 {
		return metricValue(scrape(t, "http://"+dst.HTTPAddr()+"/metrics"), `tandem_link_fetched_records_total{link="dr"}`)
	}
	waitUntil(t, 30*time.Second, "100 records mirrored", func() bool { return fetched() == 100 })
	cfg["replica.fetch.wait.max.ms"] = "200"
	if err := lm.AlterLinkConfigs("dr", cfg, false); err != nil {
		t.Fatal(err)
	}
	produceN(t, scl, "orders", 10)
	waitUntil(t, 30*time.Second, "mirror caught up after the change", func() bool {
		mi := mirrorOf(t, lm, "dr", "orders")
		return mi.Partitions[0].LocalEndOffset == 110
	})
	if n := fetched(); n != 10 {
		t.Fatalf("records fetched by the link's fetcher after the change: %v, want 10 (a new fetcher, resuming at the log end)", n)
	}
}
