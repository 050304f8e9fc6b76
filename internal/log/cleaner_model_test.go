package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/invariants"
	"github.com/tandem-streaming/tandem/internal/record"
)

// modelRecord is the latest committed record of a key in the model.
type modelRecord struct {
	offset  int64
	value   []byte // nil: tombstone
	written int64  // clock when appended (ms)
}

// compactionModel is what a compacted log must still show.
type compactionModel struct {
	latest map[string]modelRecord
}

func (m *compactionModel) apply(key string, r modelRecord) {
	if cur, ok := m.latest[key]; !ok || r.offset > cur.offset {
		m.latest[key] = r
	}
}

// check compares a read_committed consumption of the whole log with the
// model: every key's latest value is there at its original offset; a
// latest tombstone is either there or gone, but never before
// delete.retention.ms after it was written; no other key appears.
func (m *compactionModel) check(t *testing.T, l *Log, nowMs, retentionMs int64, when string) {
	t.Helper()
	kv, err := consume(l, ReadCommitted)
	if err != nil {
		t.Fatalf("%s: consume: %v", when, err)
	}
	for k, want := range m.latest {
		got, ok := kv.latest[k]
		switch {
		case want.value != nil && (!ok || got.offset != want.offset || !bytes.Equal(got.value, want.value)):
			t.Log(dumpLog(l, false))
			t.Fatalf("%s: key %s: got %v (present %t), want %s@%d", when, k, got, ok, want.value, want.offset)
		case want.value == nil && ok && (got.offset != want.offset || got.value != nil):
			t.Log(dumpLog(l, false))
			t.Fatalf("%s: key %s: got %s@%d, want its tombstone at %d or nothing", when, k, show(got.value), got.offset, want.offset)
		case want.value == nil && !ok && nowMs < want.written+retentionMs:
			t.Log(dumpLog(l, false))
			t.Fatalf("%s: key %s: tombstone at %d removed before delete.retention.ms (written %d, now %d)", when, k, want.offset, want.written, nowMs)
		}
	}
	for k, got := range kv.latest {
		if _, ok := m.latest[k]; !ok {
			t.Fatalf("%s: key %s=%s@%d is not in the model", when, k, show(got.value), got.offset)
		}
	}
}

type modelProducer struct {
	pid     int64
	epoch   int16
	seq     int32
	txn     bool
	pending []struct {
		key string
		rec modelRecord
	}
}

// TestCompactionModel runs random produce/clean/reopen/crash sequences and
// compares the compacted log with a model of the latest record per key.
func TestCompactionModel(t *testing.T) {
	seeds := 12
	if testing.Short() || invariants.Enabled {
		// Race builds run ~8x slower (LZ4 and zstd writers allocate
		// megabytes per batch); a few seeds still cover the races.
		seeds = 3
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runCompactionModel(t, seed) })
	}
}

func runCompactionModel(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	e := newLogEnv(t)
	e.cfg.Compact, e.cfg.Delete = true, false
	e.cfg.SegmentBytes = int64(300 + rng.Intn(1500))
	e.cfg.IndexIntervalBytes = int32(64 + rng.Intn(256))
	e.cfg.DeleteRetentionMs = int64(rng.Intn(2000))
	if rng.Intn(3) == 0 {
		e.cfg.MinCompactionLagMs = int64(rng.Intn(1000))
	}
	if err := e.open(true); err != nil {
		t.Fatal(err)
	}
	model := &compactionModel{latest: map[string]modelRecord{}}
	producers := []*modelProducer{{pid: -1}, {pid: 10}, {pid: 11}, {pid: 20, txn: true}, {pid: 21, txn: true}}
	codecs := []record.Codec{record.None, record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd}
	nkeys := 5 + rng.Intn(30)
	openTxns := func() bool {
		for _, p := range producers {
			if len(p.pending) > 0 {
				return true
			}
		}
		return false
	}
	endTxn := func(p *modelProducer, commit bool) {
		if _, err := e.l.AppendControl(p.pid, p.epoch, commit, 0, 0); err != nil {
			t.Fatalf("seed %d: marker: %v", seed, err)
		}
		if commit {
			for _, x := range p.pending {
				model.apply(x.key, x.rec)
			}
		}
		p.pending = nil
	}
	var swapped, removed, crashes int
	defer func() {
		t.Logf("seed %d: %d groups swapped, %d records removed, %d crashes mid-swap", seed, swapped, removed, crashes)
	}()
	for op := 0; op < 400; op++ {
		now := e.clock.Now().UnixMilli()
		switch r := rng.Intn(100); {
		case r < 55: // produce
			p := producers[rng.Intn(len(producers))]
			b := record.NewBuilder()
			b.Compression = codecs[rng.Intn(len(codecs))]
			if p.pid >= 0 {
				b.ProducerID, b.ProducerEpoch, b.BaseSequence, b.Transactional = p.pid, p.epoch, p.seq, p.txn
			}
			type kv struct {
				k string
				v []byte
			}
			var recs []kv
			for i := 0; i < 1+rng.Intn(5); i++ {
				k := fmt.Sprintf("k%d", rng.Intn(nkeys))
				var v []byte
				if rng.Intn(6) != 0 {
					v = []byte(fmt.Sprintf("v%d-%d", op, i))
				}
				recs = append(recs, kv{k, v})
				b.Append(now, []byte(k), v)
			}
			res, err := e.l.AppendAsLeader(b.Build(), 0)
			if err != nil {
				t.Fatalf("seed %d op %d: produce as %d: %v", seed, op, p.pid, err)
			}
			if res.Duplicate {
				t.Fatalf("seed %d op %d: unexpected duplicate", seed, op)
			}
			p.seq += int32(len(recs))
			for i, x := range recs {
				mr := modelRecord{offset: res.BaseOffset + int64(i), value: x.v, written: now}
				if p.txn {
					p.pending = append(p.pending, struct {
						key string
						rec modelRecord
					}{x.k, mr})
				} else {
					model.apply(x.k, mr)
				}
			}
		case r < 62: // end a transaction
			for _, p := range producers {
				if len(p.pending) > 0 {
					endTxn(p, rng.Intn(3) != 0)
					break
				}
			}
		case r < 70: // a producer bumps its epoch (a new session)
			p := producers[1+rng.Intn(len(producers)-1)]
			if len(p.pending) > 0 {
				endTxn(p, false)
			}
			p.epoch++
			p.seq = 0
		case r < 80:
			e.syncer.runPending()
		case r < 90: // clean, sometimes with a tiny dedupe buffer
			e.syncer.runPending()
			dedupe := int64(0)
			if rng.Intn(2) == 0 {
				dedupe = int64(24 * (8 + rng.Intn(40)))
			}
			res, err := e.l.Clean(CleanOptions{DedupeBufferBytes: dedupe})
			if err != nil {
				t.Fatalf("seed %d op %d: clean: %v", seed, op, err)
			}
			swapped += res.Groups
			removed += int(res.RecordsRemoved)
		case r < 94:
			e.clock.Advance(time.Duration(rng.Intn(800)) * time.Millisecond)
		case r < 97: // restart, cleanly or not
			e.syncer.runPending()
			if rng.Intn(2) == 0 {
				if err := e.l.Close(); err != nil {
					t.Fatal(err)
				}
				e.l = nil
				if err := e.open(true); err != nil {
					t.Fatal(err)
				}
			} else {
				e.crash()
				if err := e.open(false); err != nil {
					t.Fatalf("seed %d op %d: recover: %v", seed, op, err)
				}
			}
		default: // crash in the middle of a swap
			e.syncer.runPending()
			stages := []string{"cleaned", "swap", "deleted", "renamed"}
			stage := stages[rng.Intn(len(stages))]
			e.l.testCleanHook = func(s string) error {
				if s == stage {
					return errSimulatedCrash
				}
				return nil
			}
			_, err := e.l.Clean(CleanOptions{})
			if err != nil && !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("seed %d op %d: clean: %v", seed, op, err)
			}
			if err != nil {
				crashes++
			}
			e.crash()
			if err := e.open(false); err != nil {
				t.Fatalf("seed %d op %d: recover after a crash at %s: %v", seed, op, stage, err)
			}
		}
		if op%25 == 24 && !openTxns() {
			e.syncer.runPending()
			model.check(t, e.l, e.clock.Now().UnixMilli(), e.cfg.DeleteRetentionMs, fmt.Sprintf("seed %d op %d", seed, op))
		}
	}
	for _, p := range producers {
		if len(p.pending) > 0 {
			endTxn(p, true)
		}
	}
	e.syncer.runPending()
	for i := 0; i < 3; i++ {
		if _, err := e.l.Clean(CleanOptions{}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Duration(e.cfg.DeleteRetentionMs+1) * time.Millisecond)
	}
	model.check(t, e.l, e.clock.Now().UnixMilli(), e.cfg.DeleteRetentionMs, fmt.Sprintf("seed %d end", seed))
	if err := e.l.Close(); err != nil {
		t.Fatal(err)
	}
	e.l = nil
	if err := e.open(false); err != nil {
		t.Fatal(err)
	}
	model.check(t, e.l, e.clock.Now().UnixMilli(), e.cfg.DeleteRetentionMs, fmt.Sprintf("seed %d reopened", seed))
}

// TestCompactionConcurrent cleans (Clean and a Cleaner thread) while
// producers append and consumers read (run with -race; the log checks its
// invariants in race builds), then checks the latest value of every key.
func TestCompactionConcurrent(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Compact, cfg.Delete = true, false
	cfg.SegmentBytes = 2 << 10
	cfg.IndexIntervalBytes = 128
	cfg.DeleteRetentionMs = 50
	cfg.MinCleanableDirtyRatio = 0.1
	cfg.FileDeleteDelayMs = 5
	s := NewSyncer(2, nil)
	defer s.Close()
	l, err := Open(Options{Dir: t.TempDir(), Config: cfg, Syncer: s, Files: NewFileCache(8), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cleaner := NewCleaner(1, 24*2000, time.Millisecond)
	defer cleaner.Close()
	cleaner.Add(l)

	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	models := make([]map[string]modelRecord, 3)
	for p := range models {
		models[p] = map[string]modelRecord{}
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(p)))
			seq := int32(0)
			for ctx.Err() == nil {
				b := record.NewBuilder()
				if p > 0 {
					b.ProducerID, b.ProducerEpoch, b.BaseSequence = int64(p), 0, seq
				}
				if p == 2 {
					b.Compression = record.Zstd
				}
				type kv struct {
					k string
					v []byte
				}
				var recs []kv
				for i := 0; i < 1+rng.Intn(4); i++ {
					k := fmt.Sprintf("p%d-k%d", p, rng.Intn(40))
					var v []byte
					if rng.Intn(5) != 0 {
						v = make([]byte, rng.Intn(100))
						rng.Read(v)
					}
					recs = append(recs, kv{k, v})
					b.Append(time.Now().UnixMilli(), []byte(k), v)
				}
				res, err := l.AppendAsLeader(b.Build(), 0)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				seq += int32(len(recs))
				for i, x := range recs {
					models[p][x.k] = modelRecord{offset: res.BaseOffset + int64(i), value: x.v}
				}
			}
		}(p)
	}
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(100 + r)))
			for ctx.Err() == nil {
				st := l.Stats()
				off := st.LogStartOffset
				if span := st.HighWatermark - st.LogStartOffset; span > 0 {
					off += rng.Int63n(span + 1)
				}
				res, err := l.Read(off, int32(rng.Intn(4<<10)), Isolation(r), rng.Intn(2) == 0)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue
				}
				if err != nil {
					t.Errorf("read %d: %v", off, err)
					return
				}
				checkRead(t, off, res, Isolation(r), false)
			}
		}(r)
	}
	var passes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_, err := l.Clean(CleanOptions{DedupeBufferBytes: 24 * 500})
			if err != nil && !errors.Is(err, ErrCleaningAborted) {
				t.Errorf("clean: %v", err)
				return
			}
			passes.Add(1)
			cleaner.Wake()
			if _, err := l.EnforceRetention(); err != nil {
				t.Errorf("retention: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	cleaner.Remove(l)
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := l.WaitHighWatermark(wctx, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Clean(CleanOptions{}); err != nil {
		t.Fatal(err)
	}
	if passes.Load() < 2 {
		t.Fatalf("only %d cleaning passes", passes.Load())
	}
	m := &compactionModel{latest: map[string]modelRecord{}}
	for _, pm := range models {
		for k, r := range pm {
			m.latest[k] = r
		}
	}
	m.check(t, l, 0, 0, "after concurrent cleaning")
	if st := cleaner.Stats(); len(st.Uncleanable) > 0 {
		t.Fatalf("uncleanable logs: %v", st.Uncleanable)
	}
}

// TestCleanerPicksFilthiest: the Cleaner takes the log with the highest
// cleanable ratio above its minimum, skips non-compacted logs, and its
// threads clean every qualifying log.
func TestCleanerPicksFilthiest(t *testing.T) {
	mk := func(dirty int, compact bool) *Log {
		cfg := DefaultConfig()
		cfg.Compact, cfg.Delete = compact, !compact
		cfg.SegmentBytes = 200
		cfg.FileDeleteDelayMs = 0
		s := newSyncer(nil, true)
		l, err := Open(Options{Dir: t.TempDir(), Config: cfg, Syncer: s, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		for i := 0; i < 10; i++ {
			b := record.NewBuilder()
			b.Append(1, []byte(fmt.Sprintf("k%d", i)), []byte("v"))
			if _, err := l.AppendAsLeader(b.Build(), 0); err != nil {
				t.Fatal(err)
			}
		}
		s.runPending()
		if _, err := l.Clean(CleanOptions{}); err != nil && !errors.Is(err, ErrNotCompacted) {
			t.Fatal(err)
		}
		for i := 0; i < dirty; i++ {
			b := record.NewBuilder()
			b.Append(1, []byte("k0"), []byte("v"))
			if _, err := l.AppendAsLeader(b.Build(), 0); err != nil {
				t.Fatal(err)
			}
		}
		s.runPending()
		return l
	}
	low, high, other := mk(4, true), mk(20, true), mk(40, false)
	// low: 0.33, below the default min.cleanable.dirty.ratio of 0.5.
	if !(high.CleanableRatio() > 0.5 && low.CleanableRatio() > 0.2 && low.CleanableRatio() < 0.5) || other.CleanableRatio() != 0 {
		t.Fatalf("ratios: low %.2f high %.2f other %.2f", low.CleanableRatio(), high.CleanableRatio(), other.CleanableRatio())
	}
	c := NewCleaner(0, 0, time.Hour)
	defer c.Close()
	for _, l := range []*Log{low, high, other} {
		c.Add(l)
	}
	got, _, err := c.CleanOnce()
	if err != nil || got != high {
		t.Fatalf("first pick: %v, %v", got, err)
	}
	if got, _, _ := c.CleanOnce(); got != nil {
		t.Fatalf("picked %s below min.cleanable.dirty.ratio", got.Dir())
	}
	cfg := low.Config()
	cfg.MinCleanableDirtyRatio = 0.2
	low.SetConfig(cfg)
	got, _, err = c.CleanOnce()
	if err != nil || got != low {
		t.Fatalf("second pick: %v, %v", got, err)
	}
	if got, _, _ := c.CleanOnce(); got != nil {
		t.Fatalf("third pick: %s", got.Dir())
	}
	if st := c.Stats(); st.Passes != 2 || st.RecordsRemoved == 0 {
		t.Fatalf("stats %+v", st)
	}

	// Background threads do the same.
	low2, high2 := mk(15, true), mk(30, true)
	bg := NewCleaner(2, 1<<20, time.Millisecond)
	defer bg.Close()
	bg.Add(low2)
	bg.Add(high2)
	deadline := time.Now().Add(5 * time.Second)
	for low2.CleanableRatio() != 0 || high2.CleanableRatio() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("background cleaner left ratios %.2f, %.2f", low2.CleanableRatio(), high2.CleanableRatio())
		}
		bg.Wake()
		time.Sleep(time.Millisecond)
	}
	bg.Remove(low2)
	bg.Remove(high2)
}
