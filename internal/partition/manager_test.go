package partition

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"
)

func newManager(t *testing.T, dir string, clean bool) *Manager {
	t.Helper()
	syncer, err := log.StartSyncer(log.SyncerOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(syncer.Close)
	return NewManager(Options{Dir: dir, CleanShutdown: clean, Files: log.NewFileCache(64), Syncer: syncer,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func spec(name string, id byte, partitions int) Spec {
	s := Spec{Name: name, ID: [16]byte{id}, Config: log.DefaultConfig(), MinInsyncReplicas: 1}
	for i := 0; i < partitions; i++ {
		s.LeaderEpochs = append(s.LeaderEpochs, int32(i))
	}
	return s
}

func appendOne(t *testing.T, p *Partition) int64 {
	t.Helper()
	b := record.NewBuilder()
	b.Append(time.Now().UnixMilli(), []byte("k"), []byte("v"))
	res, err := p.Log.AppendAsLeader(b.Build(), p.LeaderEpoch())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Log.WaitHighWatermark(ctx, res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	return res.LastOffset
}

// TestManagerLifecycle walks a topic through what the broker does with
// one: host, look up, add partitions, change config and read-only state,
// close and reopen with its data, delete.
func TestManagerLifecycle(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir, true)
	if err := m.Host(spec("orders", 1, 2)); err != nil {
		t.Fatal(err)
	}
	p0, err := m.Get("orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	appendOne(t, p0)

	for _, tt := range []struct {
		topic string
		p     int32
		want  error
	}{
		{"orders", 2, ErrUnknownPartition},
		{"orders", -1, ErrUnknownPartition},
		{"nope", 0, ErrUnknownTopic},
	} {
		if _, err := m.Get(tt.topic, tt.p); !errors.Is(err, tt.want) {
			t.Errorf("Get(%s, %d) = %v, want %v", tt.topic, tt.p, err, tt.want)
		}
	}
	if tp, ok := m.TopicByID([16]byte{1}); !ok || tp.Name != "orders" {
		t.Fatalf("TopicByID: %v %v", tp, ok)
	}
	if err := m.Host(spec("orders", 9, 2)); err == nil {
		t.Fatal("hosting a topic name again under another id was accepted")
	}

	// CreatePartitions: the existing partitions (and their logs) stay.
	s := spec("orders", 1, 4)
	s.LeaderEpochs[0] = 7
	if err := m.Host(s); err != nil {
		t.Fatal(err)
	}
	tp, _ := m.Topic("orders")
	if len(tp.Partitions) != 4 || tp.Partitions[0] != p0 {
		t.Fatalf("after adding partitions: %d partitions, first replaced: %v", len(tp.Partitions), tp.Partitions[0] != p0)
	}
	if p0.LeaderEpoch() != 7 {
		t.Fatalf("leader epoch %d, want 7 from the new spec", p0.LeaderEpoch())
	}

	s.ReadOnly = true
	if err := m.Host(s); err != nil || !p0.ReadOnly() || !tp.Partitions[3].ReadOnly() {
		t.Fatalf("Host with ReadOnly: %v", err)
	}
	cfg := log.DefaultConfig()
	cfg.RetentionMs = 1234
	if err := m.SetConfig("orders", cfg, 2); err != nil || p0.Log.Config().RetentionMs != 1234 || p0.MinInsyncReplicas() != 2 {
		t.Fatalf("SetConfig: %v", err)
	}
	if err := m.SetConfig("nope", cfg, 1); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("SetConfig of an unknown topic: %v", err)
	}

	if err := m.Host(spec("audit", 2, 1)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range m.Topics() {
		names = append(names, tp.Name)
	}
	if !slices.Equal(names, []string{"audit", "orders"}) {
		t.Fatalf("Topics() = %v, want sorted [audit orders]", names)
	}
	n := 0
	m.EachPartition(func(*Partition) { n++ })
	if n != 5 {
		t.Fatalf("EachPartition visited %d, want 5", n)
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Host(spec("late", 3, 1)); err == nil {
		t.Fatal("Host after Close was accepted")
	}
	if _, err := p0.Log.AppendAsLeader(record.NewBuilder().Append(0, nil, []byte("x")).Build(), 0); err == nil {
		t.Fatal("append to a closed manager's log was accepted")
	}

	// Reopen: the data is there.
	m2 := newManager(t, dir, true)
	defer m2.Close()
	if err := m2.Host(spec("orders", 1, 4)); err != nil {
		t.Fatal(err)
	}
	p, _ := m2.Get("orders", 0)
	if hw := p.Log.HighWatermark(); hw != 1 {
		t.Fatalf("reopened HW %d, want 1", hw)
	}

	// Unhost deletes the logs; a directory of no hosted topic is an orphan.
	if err := m2.Unhost("orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Get("orders", 0); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("Get after Unhost: %v", err)
	}
	if err := m2.Unhost("orders"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second Unhost: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "orders-0")); !os.IsNotExist(err) {
		t.Fatalf("orders-0 still exists after Unhost: %v", err)
	}
	orphans, err := m2.OrphanDirs()
	if err != nil {
		t.Fatal(err)
	}
	// "audit" was hosted by the first manager only: its directory is an
	// orphan for the second.
	if !slices.Equal(orphans, []string{filepath.Join(dir, "audit-0")}) {
		t.Fatalf("OrphanDirs = %v, want [%s]", orphans, filepath.Join(dir, "audit-0"))
	}
}

// TestHostOfflinePartition: a partition whose log cannot be opened is
// hosted offline (Get answers ErrPartitionOffline, Offline lists it) while
// the rest of the topic serves, and a later Host (the reconciler's retry)
// brings it online once the cause is gone.
func TestHostOfflinePartition(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir, true)
	defer m.Close()
	// A regular file where partition 2's directory should be.
	blocker := filepath.Join(dir, "t-2")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Host(spec("t", 1, 3)); err == nil {
		t.Fatal("Host succeeded with an unopenable partition")
	}
	for _, p := range []int32{0, 1} {
		pt, err := m.Get("t", p)
		if err != nil {
			t.Fatalf("Get(t, %d): %v", p, err)
		}
		appendOne(t, pt)
	}
	if _, err := m.Get("t", 2); !errors.Is(err, ErrPartitionOffline) {
		t.Fatalf("Get(t, 2) = %v, want ErrPartitionOffline", err)
	}
	off := m.Offline()
	if len(off) != 1 || off[0].Topic != "t" || off[0].Partition != 2 || off[0].Err == nil {
		t.Fatalf("Offline() = %+v", off)
	}
	n := 0
	m.EachPartition(func(*Partition) { n++ })
	if n != 2 {
		t.Fatalf("EachPartition visited %d partitions, want the 2 online", n)
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := m.Host(spec("t", 1, 3)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if off := m.Offline(); len(off) != 0 {
		t.Fatalf("still offline after the retry: %+v", off)
	}
	pt, err := m.Get("t", 2)
	if err != nil {
		t.Fatal(err)
	}
	appendOne(t, pt)
	if err := m.Unhost("t"); err != nil {
		t.Fatal(err)
	}
}

// TestHostDoesNotBlockProduce: hosting a topic with many partitions opens
// their logs without Manager.mu, so produces to another topic (Get +
// append, what every produce does) go on meanwhile: each takes a small
// fraction of the time the Host takes, and many complete during it. With
// the lock held across the opens, a produce started during Host waited
// for all of it (issue #9: 12.6 s for 50k partitions).
func TestHostDoesNotBlockProduce(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of logs")
	}
	dir := t.TempDir()
	m := newManager(t, dir, true)
	defer m.Close()
	if err := m.Host(spec("other", 1, 1)); err != nil {
		t.Fatal(err)
	}
	const partitions = 1500
	big := spec("big", 2, partitions)
	done := make(chan time.Duration)
	start := time.Now()
	go func() {
		if err := m.Host(big); err != nil {
			t.Error(err)
		}
		done <- time.Since(start)
	}()
	b := record.NewBuilder()
	b.Append(time.Now().UnixMilli(), []byte("k"), []byte("v"))
	batch := b.Build()
	var worst time.Duration
	produced := 0
	for {
		select {
		case took := <-done:
			if produced < 10 {
				t.Fatalf("only %d produces completed during a Host of %v", produced, took)
			}
			if worst > took/4 {
				t.Fatalf("a produce to another topic took %v during a Host of %v", worst, took)
			}
			t.Logf("Host of %d partitions took %v; %d produces meanwhile, the slowest %v", partitions, took, produced, worst)
			if n := len(m.Topics()); n != 2 {
				t.Fatalf("%d topics hosted", n)
			}
			return
		default:
		}
		t0 := time.Now()
		p, err := m.Get("other", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Log.AppendAsLeader(append(record.Batch(nil), batch...), p.LeaderEpoch()); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(t0))
		produced++
		time.Sleep(time.Millisecond)
	}
}
