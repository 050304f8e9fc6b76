package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openTestLog opens a log with a manual syncer.
func openTestLog(t testing.TB, cfg Config) (*Log, *Syncer, *manualClock) {
	t.Helper()
	clock := &manualClock{t: time.UnixMilli(1_700_000_000_000)}
	s := newSyncer(nil, true)
	l, err := Open(Options{Dir: t.TempDir(), Config: cfg, Syncer: s, Files: NewFileCache(8), Now: clock.Now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, s, clock
}

func simpleBatch(n int, ts int64) record.Batch {
	b := record.NewBuilder()
	for i := 0; i < n; i++ {
		b.Append(ts, []byte("k"), []byte(fmt.Sprintf("value-%d", i)))
	}
	return b.Build()
}

func TestLeaderValidation(t *testing.T) {
	now := int64(1_700_000_000_000)
	cfg := DefaultConfig()
	cfg.MaxMessageBytes = 400
	cfg.TimestampBeforeMaxMs = 60_000
	cfg.TimestampAfterMaxMs = 60_000
	good := simpleBatch(2, now)
	fix := func(b record.Batch) record.Batch {
		binary.BigEndian.PutUint32(b[17:], record.Checksum(b[21:]))
		return b
	}
	clone := func(b record.Batch) record.Batch { return append(record.Batch(nil), b...) }
	idem := func(seq int32) record.Batch {
		b := record.NewBuilder()
		b.ProducerID, b.ProducerEpoch, b.BaseSequence = 1, 0, seq
		return b.Append(now, nil, []byte("v")).Build()
	}
	// An uncompressed batch whose second record has offset delta 5 while
	// the header says lastOffsetDelta 1: only a record walk finds it.
	badDelta := func() record.Batch {
		b := record.NewBuilder()
		b.Append(now, nil, []byte("a"))
		b.AppendAt(5, now, nil, []byte("b"))
		out := b.Build()
		binary.BigEndian.PutUint32(out[23:], 1)
		return fix(out)
	}()
	tests := []struct {
		name string
		in   []byte
		want []error // every error in want must match
	}{
		{"ok", good, nil},
		{"ok two batches", append(clone(good), good...), nil},
		{"empty input", nil, nil},
		{"magic 1", func() []byte { b := clone(good); b[16] = 1; return b }(), []error{record.ErrUnsupportedMagic}},
		{"crc", func() []byte { b := clone(good); b[len(b)-2] ^= 1; return b }(), []error{record.ErrCorrupt}},
		{"partial trailing", append(clone(good), good[:20]...), []error{record.ErrCorrupt}},
		{"garbage trailing", append(clone(good), 1, 2, 3), []error{record.ErrCorrupt}},
		{"control from client", record.NewControlBatch(1, 0, true, 0, now), []error{ErrInvalidRecord}},
		{"zero records", func() []byte {
			b := record.NewBuilder()
			return b.Build()
		}(), []error{ErrInvalidRecord}},
		{"count != lastOffsetDelta+1", func() []byte {
			b := clone(good)
			binary.BigEndian.PutUint32(b[23:], 5)
			return fix(b)
		}(), []error{ErrInvalidRecord}},
		{"inner offset delta", badDelta, []error{ErrInvalidRecord}},
		{"too large", simpleBatch(40, now), []error{ErrRecordTooLarge}},
		{"timestamp too old", simpleBatch(1, now-120_000), []error{ErrInvalidTimestamp}},
		{"timestamp too new", simpleBatch(1, now+120_000), []error{ErrInvalidTimestamp}},
		{"negative sequence", idem(-1), []error{record.ErrInvalidRecord}},
		{"ok idempotent", idem(0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := validateLeaderInput(append([]byte(nil), tt.in...), originClient, &cfg, now)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Fatalf("got %v, want %v", err, w)
				}
			}
		})
	}
}

// TestGroupCommit checks that appends arriving before a round are covered
// by one fsync of the segment, and that HW only moves when it completes.
func TestGroupCommit(t *testing.T) {
	l, s, clock := openTestLog(t, DefaultConfig())
	s.runPending() // directory sync of the new log
	var syncs atomic.Int32
	l.syncFile = func(f vfs.File) error { syncs.Add(1); return f.Datasync() }
	for i := 0; i < 50; i++ {
		if _, err := l.AppendAsLeader(simpleBatch(1, clock.Now().UnixMilli()), 0); err != nil {
			t.Fatal(err)
		}
	}
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("HW %d before any sync", hw)
	}
	if n := s.runPending(); n != 1 {
		t.Fatalf("%d rounds, want 1", n)
	}
	// One data file; the epoch checkpoint is written synchronously.
	if n := syncs.Load(); n != 1 {
		t.Fatalf("%d fsyncs, want 1", n)
	}
	if hw := l.HighWatermark(); hw != 50 {
		t.Fatalf("HW %d, want 50", hw)
	}
	if n := s.runPending(); n != 0 {
		t.Fatalf("idle log ran %d rounds", n)
	}
}

// TestSyncerRealWorkers exercises acks=all waiting with real workers.
func TestSyncerRealWorkers(t *testing.T) {
	var rounds atomic.Int32
	s := NewSyncer(2, func(time.Duration) { rounds.Add(1) })
	defer s.Close()
	var logs []*Log
	for i := 0; i < 4; i++ {
		l, err := Open(Options{Dir: t.TempDir(), Syncer: s, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		logs = append(logs, l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := 0; round < 20; round++ {
		for _, l := range logs {
			res, err := l.AppendAsLeader(simpleBatch(3, time.Now().UnixMilli()), 1)
			if err != nil {
				t.Fatal(err)
			}
			ch := l.Changed()
			if err := l.WaitHighWatermark(ctx, res.LastOffset+1); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ch:
			default:
				if l.HighWatermark() <= res.LastOffset {
					t.Fatal("Changed not closed although HW moved")
				}
			}
		}
	}
	if rounds.Load() == 0 {
		t.Fatal("observe never called")
	}
}

func TestFsyncFailureFailsLog(t *testing.T) {
	l, s, clock := openTestLog(t, DefaultConfig())
	s.runPending()
	l.syncFile = func(vfs.File) error { return errors.New("EIO") }
	if _, err := l.AppendAsLeader(simpleBatch(1, clock.Now().UnixMilli()), 0); err != nil {
		t.Fatal(err)
	}
	s.runPending()
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("HW advanced to %d despite fsync failure", hw)
	}
	if _, err := l.AppendAsLeader(simpleBatch(1, clock.Now().UnixMilli()), 0); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("append after failure: %v", err)
	}
	if err := l.WaitHighWatermark(context.Background(), 1); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("wait after failure: %v", err)
	}
}

func TestFileCacheBound(t *testing.T) {
	dir := t.TempDir()
	c := NewFileCache(2)
	var hs []*fileHandle
	for i := 0; i < 5; i++ {
		hs = append(hs, c.handle(filepath.Join(dir, fmt.Sprint(i))))
	}
	// Hold three at once: the bound is soft, in-use files stay open.
	var fs []vfs.File
	for _, h := range hs[:3] {
		f, err := h.acquire()
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	if n := c.Open(); n != 3 {
		t.Fatalf("open=%d", n)
	}
	for _, f := range fs {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatalf("in-use file was closed: %v", err)
		}
	}
	for _, h := range hs[:3] {
		h.release()
	}
	if n := c.Open(); n != 2 {
		t.Fatalf("after release open=%d, want 2", n)
	}
	// LRU: hs[0] was released first and is gone; hs[1], hs[2] remain.
	for _, h := range hs[3:] {
		if err := h.withFile(func(vfs.File) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Open(); n != 2 {
		t.Fatalf("open=%d", n)
	}
	// Rename keeps the handle usable; close makes it unusable.
	if err := hs[0].rename(filepath.Join(dir, "renamed")); err != nil {
		t.Fatal(err)
	}
	if err := hs[0].withFile(func(f vfs.File) error { _, err := f.Stat(); return err }); err != nil {
		t.Fatal(err)
	}
	hs[0].close()
	if _, err := hs[0].acquire(); !errors.Is(err, errHandleClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "renamed")); err != nil {
		t.Fatal(err)
	}
}

func TestEpochCache(t *testing.T) {
	var c epochCache
	for _, e := range []epochEntry{{1, 0}, {1, 5}, {3, 10}, {5, 20}} {
		c.assign(e.Epoch, e.StartOffset)
	}
	if want := []epochEntry{{1, 0}, {3, 10}, {5, 20}}; !slices.Equal(c.entries, want) {
		t.Fatalf("entries %v", c.entries)
	}
	tests := []struct {
		epoch      int32
		wantEpoch  int32
		wantOffset int64
	}{
		{-1, -1, -1}, // UNDEFINED_EPOCH
		{0, 0, 0},    // below every known epoch: its end is the first entry's start
		{1, 1, 10},
		{2, 1, 10}, // unknown epoch between: largest smaller epoch, next start
		{3, 3, 20},
		{4, 3, 20},
		{5, 5, 30}, // latest: the log end offset
		{6, -1, -1},
	}
	for _, tt := range tests {
		e, o := c.endOffsetFor(tt.epoch, 30)
		if e != tt.wantEpoch || o != tt.wantOffset {
			t.Errorf("endOffsetFor(%d) = %d,%d want %d,%d", tt.epoch, e, o, tt.wantEpoch, tt.wantOffset)
		}
	}
	// A lower epoch at a lower offset truncates conflicting entries.
	c2 := epochCache{entries: slices.Clone(c.entries)}
	if changed, removed := c2.assign(2, 15); !changed || len(removed) != 2 {
		t.Fatalf("assign(2,15): %v %v", changed, removed)
	}
	if want := []epochEntry{{1, 0}, {2, 15}}; !slices.Equal(c2.entries, want) {
		t.Fatalf("entries %v", c2.entries)
	}
	c.truncateFromStart(12)
	if want := []epochEntry{{3, 12}, {5, 20}}; !slices.Equal(c.entries, want) {
		t.Fatalf("truncateFromStart: %v", c.entries)
	}
	c.truncateFromEnd(20)
	if want := []epochEntry{{3, 12}}; !slices.Equal(c.entries, want) {
		t.Fatalf("truncateFromEnd: %v", c.entries)
	}
	if got := c.epochForOffset(11); got != -1 {
		t.Fatalf("epochForOffset(11)=%d", got)
	}
	data := encodeEpochCheckpoint([]epochEntry{{1, 0}, {4, 100}})
	if string(data) != "0\n2\n1 0\n4 100\n" {
		t.Fatalf("checkpoint %q", data)
	}
	got, err := decodeEpochCheckpoint(data)
	if err != nil || !slices.Equal(got, []epochEntry{{1, 0}, {4, 100}}) {
		t.Fatal(got, err)
	}
	for _, bad := range []string{"", "1\n0\n", "0\n2\n1 0\n", "0\n1\nx y\n", "0\n1\n1 0\nextra\n"} {
		if _, err := decodeEpochCheckpoint([]byte(bad)); err == nil {
			t.Errorf("decoded bad checkpoint %q", bad)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	p := newProducerState()
	p.producers = map[int64]*producerEntry{
		7: {Epoch: 2, CoordinatorEpoch: 3, TxnFirstOffset: 40, LastTimestamp: 99,
			Batches: []batchMeta{{0, 4, 30, 34, 90}, {5, 9, 40, 44, 99}}},
		8: {Epoch: 0, CoordinatorEpoch: -1, TxnFirstOffset: -1, LastTimestamp: 5},
	}
	data := encodeSnapshot(p)
	q, err := decodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.producers) != 2 || q.producers[7].TxnFirstOffset != 40 || len(q.producers[7].Batches) != 2 ||
		q.producers[7].Batches[1] != (batchMeta{5, 9, 40, 44, 99}) || len(q.ongoing) != 1 {
		t.Fatalf("round trip: %+v", q.producers[7])
	}
	for i := range data {
		bad := slices.Clone(data)
		bad[i] ^= 0x10
		if _, err := decodeSnapshot(bad); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	if _, err := decodeSnapshot(data[:len(data)-1]); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestPartitionMetadata(t *testing.T) {
	dir := t.TempDir()
	id := [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if err := WritePartitionMetadata(dir, id); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, partitionMetadata))
	if string(data) != "version: 0\ntopic_id: 3q2-7wECAwQFBgcICQoLDA\n" {
		t.Fatalf("content %q", data)
	}
	got, ok, err := ReadPartitionMetadata(dir)
	if err != nil || !ok || got != id {
		t.Fatal(got, ok, err)
	}
	_, err = Open(Options{Dir: dir, TopicID: [16]byte{1}, Logger: quietLogger()})
	if !errors.Is(err, ErrInconsistentTopicID) {
		t.Fatalf("open with another topic id: %v", err)
	}
}

// TestRecoveryOfUnsyncedRolls: segments rolled since the last durable
// round are below no recovery point, so all of them are validated; damage
// in a middle one cuts it and drops everything after.
func TestRecoveryOfUnsyncedRolls(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	dir := t.TempDir()
	s := newSyncer(nil, true)
	open := func(clean bool) *Log {
		l, err := Open(Options{Dir: dir, Config: cfg, Syncer: s, CleanShutdown: clean, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open(true)
	s.runPending()
	for i := 0; i < 12; i++ {
		if _, err := l.AppendAsLeader(simpleBatch(2, time.Now().UnixMilli()), 0); err != nil {
			t.Fatal(err)
		}
	}
	st := l.Stats()
	if st.Segments < 4 {
		t.Fatalf("only %d segments", st.Segments)
	}
	l.mu.Lock()
	segs := slices.Clone(l.segments)
	l.closed = true
	l.mu.Unlock()
	for _, sg := range segs {
		sg.closeFiles()
	}
	// Corrupt the second segment's second batch.
	victim := filepath.Join(dir, fileName(segs[1].base, logExt))
	data, _ := os.ReadFile(victim)
	data[len(simpleBatch(2, 0))+10] ^= 0xff
	if err := os.WriteFile(victim, data, 0o644); err != nil {
		t.Fatal(err)
	}
	l = open(false)
	defer l.Close()
	st = l.Stats()
	if st.Segments != 2 {
		t.Fatalf("segments %d after recovery, want 2", st.Segments)
	}
	want := segs[1].base + 2 // first batch of the second segment survives
	if st.LogEndOffset != want || st.HighWatermark != want {
		t.Fatalf("recovered LEO %d HW %d, want %d", st.LogEndOffset, st.HighWatermark, want)
	}
	res, err := l.Read(0, math.MaxInt32, ReadUncommitted, true)
	if err != nil {
		t.Fatal(err)
	}
	// Reads are per segment; the first segment is intact.
	it := record.NewIter(res.Records)
	next := int64(0)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if b.BaseOffset() != next || b.VerifyCRC() != nil {
			t.Fatalf("batch %v", b)
		}
		next = b.NextOffset()
	}
	if next != segs[1].base {
		t.Fatalf("first segment ends at %d", next)
	}
}

func TestDuplicateWithLogAppendTime(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LogAppendTime = true
	l, _, clock := openTestLog(t, cfg)
	mk := func() record.Batch {
		b := record.NewBuilder()
		b.ProducerID, b.ProducerEpoch, b.BaseSequence = 3, 0, 0
		return b.Append(1, nil, []byte("v")).Build()
	}
	r1, err := l.AppendAsLeader(mk(), 0)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	r2, err := l.AppendAsLeader(mk(), 0)
	if err != nil || !r2.Duplicate || r2.BaseOffset != r1.BaseOffset || r2.LogAppendTime != r1.LogAppendTime {
		t.Fatalf("duplicate %+v (first %+v): %v", r2, r1, err)
	}
}

// TestAppendInPlace documents that AppendAsLeader rewrites only baseOffset
// and partitionLeaderEpoch of the caller's buffer, leaving the CRC valid.
func TestAppendInPlace(t *testing.T) {
	l, s, clock := openTestLog(t, DefaultConfig())
	b := simpleBatch(3, clock.Now().UnixMilli())
	orig := bytes.Clone(b)
	if _, err := l.AppendAsLeader(simpleBatch(1, clock.Now().UnixMilli()), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsLeader(b, 2); err != nil {
		t.Fatal(err)
	}
	if b.BaseOffset() != 1 || b.PartitionLeaderEpoch() != 2 || !bytes.Equal(b[17:], orig[17:]) || b.VerifyCRC() != nil {
		t.Fatalf("unexpected rewrite: %v", b)
	}
	s.runPending()
	res, err := l.Read(1, 1<<20, ReadUncommitted, true)
	if err != nil || !bytes.Equal(res.Records, b) {
		t.Fatalf("stored bytes differ: %v", err)
	}
}
