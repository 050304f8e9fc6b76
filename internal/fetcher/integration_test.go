package fetcher_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"

	. "github.com/tandem-streaming/tandem/internal/fetcher"
)

// Shared helpers of the integration tests: local target logs, a Fetcher
// with test-friendly timings, and bounded waits.

func testLogger() *slog.Logger {
	if os.Getenv("FETCHER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// targets owns the local logs a test mirrors into.
type targets struct {
	t      testing.TB
	dir    string
	files  *log.FileCache
	syncer *log.Syncer
	mu     sync.Mutex
	logs   map[TopicPartition]*log.Log
}

func newTargets(t testing.TB) *targets {
	ts := &targets{t: t, dir: t.TempDir(), files: log.NewFileCache(64), syncer: log.NewSyncer(2, nil), logs: map[TopicPartition]*log.Log{}}
	t.Cleanup(func() {
		ts.closeAll()
		ts.syncer.Close()
	})
	return ts
}

// open opens (or reopens) tp's log; clean=false runs crash recovery.
func (ts *targets) open(tp TopicPartition, clean bool) *log.Log {
	ts.t.Helper()
	l, err := log.Open(log.Options{
		Dir: filepath.Join(ts.dir, tp.String()), Topic: tp.Topic, Partition: tp.Partition,
		Config: log.Config{SegmentBytes: 64 << 10}, CleanShutdown: clean,
		Files: ts.files, Syncer: ts.syncer, Logger: testLogger(),
	})
	if err != nil {
		ts.t.Fatalf("open target %s: %v", tp, err)
	}
	ts.mu.Lock()
	ts.logs[tp] = l
	ts.mu.Unlock()
	return l
}

func (ts *targets) get(tp TopicPartition) *log.Log {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.logs[tp]
}

func (ts *targets) closeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for tp, l := range ts.logs {
		_ = l.Close()
		delete(ts.logs, tp)
	}
}

// epochKeeper is a Fetcher owner's side of EffectRaiseLeaderEpoch: it
// records the leader epoch each mirror partition advertises, to check
// DLE >= SLE. Its apply is Config.OnEffect.
type epochKeeper struct {
	mu     sync.Mutex
	epochs map[TopicPartition]int32
}

func newEpochKeeper() *epochKeeper { return &epochKeeper{epochs: map[TopicPartition]int32{}} }

func (k *epochKeeper) apply(e Effect) error {
	if e.Kind != EffectRaiseLeaderEpoch {
		return fmt.Errorf("unexpected effect %s", e)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur, ok := k.epochs[e.TopicPartition]; !ok || e.LeaderEpoch > cur {
		k.epochs[e.TopicPartition] = e.LeaderEpoch
	}
	return nil
}

// epoch is tp's advertised epoch (-1 before any effect).
func (k *epochKeeper) epoch(tp TopicPartition) int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.epochs[tp]; ok {
		return e
	}
	return -1
}

func testConfig(seeds []string, extra ...kgo.Opt) Config {
	return Config{
		ClientOpts:        append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RetryTimeout(2 * time.Second)}, extra...),
		FetchMaxWait:      100 * time.Millisecond,
		FetchBackoff:      50 * time.Millisecond,
		RetryBackoff:      20 * time.Millisecond,
		RetryBackoffMax:   200 * time.Millisecond,
		RequestTimeout:    5 * time.Second,
		PartitionMaxBytes: 64 << 10, // several rounds per partition
		Logger:            testLogger(),
	}
}

func startFetcher(t testing.TB, cfg Config) *Fetcher {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// waitFor polls cond until it holds or the timeout passes, then fails
// with cond's last explanation.
func waitFor(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCaughtUp waits until every target holds, durably, everything below
// its source partition's high watermark.
func waitCaughtUp(t testing.TB, cl *kgo.Client, f *Fetcher, ts *targets, tps ...TopicPartition) {
	t.Helper()
	adm := kadm.NewClient(cl)
	waitFor(t, 30*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		topics := map[string]bool{}
		for _, tp := range tps {
			topics[tp.Topic] = true
		}
		var names []string
		for n := range topics {
			names = append(names, n)
		}
		ends, err := adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return false, err.Error()
		}
		for _, tp := range tps {
			o, ok := ends.Lookup(tp.Topic, tp.Partition)
			if !ok || o.Err != nil {
				return false, fmt.Sprintf("%s: end offset: %v", tp, o.Err)
			}
			l := ts.get(tp)
			if l.LogEndOffset() != o.Offset || l.HighWatermark() != o.Offset {
				st, _ := f.Status(tp)
				return false, fmt.Sprintf("%s: source high watermark %d, target end %d hw %d; status %s (err %v)",
					tp, o.Offset, l.LogEndOffset(), l.HighWatermark(), st.State, st.LastError)
			}
		}
		return true, ""
	})
}

// hasGap reports whether the batches skip offsets (compaction).
func hasGap(bs []record.Batch) bool {
	for i := 1; i < len(bs); i++ {
		if bs[i].BaseOffset() != bs[i-1].NextOffset() {
			return true
		}
	}
	return false
}

func produce(t testing.TB, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func rec(topic string, p int32, key, value string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(value)}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

func newClient(t testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MetadataMinAge(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, cl *kgo.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// addAll adds tps to f, each into a fresh target.
func addAll(t testing.TB, f *Fetcher, ts *targets, start StartSpec, tps ...TopicPartition) {
	t.Helper()
	m := map[TopicPartition]PartitionConfig{}
	for _, tp := range tps {
		m[tp] = PartitionConfig{Target: ts.open(tp, true), Start: start}
	}
	if err := f.AddPartitions(m); err != nil {
		t.Fatal(err)
	}
}

func tpsOf(topic string, n int32) []TopicPartition {
	var out []TopicPartition
	for p := int32(0); p < n; p++ {
		out = append(out, TopicPartition{topic, p})
	}
	return out
}
