package log

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/record"
)

// checkRead verifies a read result: whole batches with valid CRCs,
// strictly increasing offsets, the first containing (or following)
// fetchOffset, nothing at or above the bound.
func checkRead(t *testing.T, fetch int64, res ReadResult, iso Isolation, contiguous bool) {
	t.Helper()
	bound := res.HighWatermark
	if iso == ReadCommitted {
		bound = res.LastStableOffset
	}
	it := record.NewIter(res.Records)
	prev := int64(-1)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if err := b.ValidateHeader(); err != nil {
			t.Errorf("fetch %d: %v", fetch, err)
			return
		}
		if prev < 0 && b.LastOffset() < fetch {
			t.Errorf("fetch %d: first batch %d..%d ends before the fetch offset", fetch, b.BaseOffset(), b.LastOffset())
		}
		if prev >= 0 && (b.BaseOffset() <= prev || (contiguous && b.BaseOffset() != prev+1)) {
			t.Errorf("fetch %d: batch %d after %d", fetch, b.BaseOffset(), prev)
		}
		if b.BaseOffset() >= bound {
			t.Errorf("fetch %d: batch %d at or above bound %d", fetch, b.BaseOffset(), bound)
		}
		prev = b.LastOffset()
	}
	if it.Err() != nil || len(it.Rest()) != 0 {
		t.Errorf("fetch %d: framing %v, %d trailing bytes", fetch, it.Err(), len(it.Rest()))
	}
}

// TestConcurrentLeader runs appends, reads, group commit, retention,
// DeleteRecords and lookups at once (run with -race; invariants are
// checked inside the log in race builds).
func TestConcurrentLeader(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	cfg.IndexIntervalBytes = 256
	cfg.RetentionBytes = 64 << 10
	cfg.RetentionMs = -1
	cfg.FileDeleteDelayMs = 5
	s := NewSyncer(2, nil)
	defer s.Close()
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Config: cfg, Syncer: s, Files: NewFileCache(6), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var appended atomic.Int64
	for p := 0; p < 3; p++ {
		wg.Add(1)
		go func(pid int64) {
			defer wg.Done()
			seq := int32(0)
			for ctx.Err() == nil {
				b := record.NewBuilder()
				b.ProducerID, b.ProducerEpoch, b.BaseSequence = pid, 0, seq
				n := 1 + rand.Intn(5)
				for i := 0; i < n; i++ {
					b.Append(time.Now().UnixMilli(), nil, make([]byte, rand.Intn(300)))
				}
				if pid == 2 {
					b.Compression = record.Zstd
				}
				res, err := l.AppendAsLeader(b.Build(), 1)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				seq += int32(n)
				appended.Add(1)
				if pid == 0 { // acks=all
					if err := l.WaitHighWatermark(ctx, res.LastOffset+1); err != nil && ctx.Err() == nil {
						t.Errorf("wait: %v", err)
					}
				}
			}
		}(int64(p))
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			iso := Isolation(r % 2)
			for ctx.Err() == nil {
				st := l.Stats()
				span := st.HighWatermark - st.LogStartOffset
				off := st.LogStartOffset
				if span > 0 {
					off += rand.Int63n(span + 1)
				}
				res, err := l.Read(off, int32(rand.Intn(8<<10)), iso, rand.Intn(2) == 0)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start meanwhile
				}
				if err != nil {
					t.Errorf("read %d: %v", off, err)
					return
				}
				checkRead(t, off, res, iso, true)
			}
		}(r)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := l.EnforceRetention(); err != nil {
				t.Errorf("retention: %v", err)
				return
			}
			if hw := l.HighWatermark(); rand.Intn(10) == 0 && hw > 0 {
				if _, err := l.DeleteRecordsBefore(hw - rand.Int63n(hw/2+1)); err != nil {
					t.Errorf("delete records: %v", err)
					return
				}
			}
			l.OffsetForTimestamp(time.Now().Add(-time.Second).UnixMilli())
			l.MaxTimestamp()
			l.EndOffsetForEpoch(1)
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	if appended.Load() == 0 {
		t.Fatal("no appends")
	}
	st := l.Stats()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(Options{Dir: dir, Config: cfg, Syncer: s, CleanShutdown: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	st2 := l2.Stats()
	if st2.LogEndOffset != st.LogEndOffset || st2.LogStartOffset < st.LogStartOffset {
		t.Fatalf("reopen: %+v, before close %+v", st2, st)
	}
}

// TestConcurrentMirror runs verbatim appends with truncations against
// concurrent readers.
func TestConcurrentMirror(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2 << 10
	cfg.IndexIntervalBytes = 128
	s := NewSyncer(1, nil)
	defer s.Close()
	l, err := Open(Options{Dir: t.TempDir(), Config: cfg, Syncer: s, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		epoch := int32(0)
		for ctx.Err() == nil {
			next := l.LogEndOffset()
			var buf []byte
			for i := 0; i < 1+rand.Intn(4); i++ {
				b := record.NewBuilder()
				b.BaseOffset = next + int64(rand.Intn(3)) // gaps
				b.PartitionLeaderEpoch = epoch
				for j := 0; j < 1+rand.Intn(4); j++ {
					b.Append(time.Now().UnixMilli(), nil, make([]byte, rand.Intn(200)))
				}
				bb := b.Build()
				buf = append(buf, bb...)
				next = bb.NextOffset()
			}
			if _, err := l.AppendVerbatim(buf); err != nil {
				t.Errorf("verbatim: %v", err)
				return
			}
			if rand.Intn(20) == 0 {
				leo := l.LogEndOffset()
				if err := l.TruncateTo(leo - rand.Int63n(leo/2+1)); err != nil {
					t.Errorf("truncate: %v", err)
					return
				}
				epoch++
			}
		}
	}()
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				st := l.Stats()
				off := st.LogStartOffset + rand.Int63n(st.HighWatermark-st.LogStartOffset+1)
				res, err := l.Read(off, 4<<10, ReadUncommitted, true)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // truncated meanwhile
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				checkRead(t, off, res, ReadUncommitted, false)
			}
		}()
	}
	wg.Wait()
}

// TestAppendRacesDelete deletes mirror logs while a fetcher-like writer
// appends (AppendVerbatim, starting above the empty log's end so the log
// start moves and the offsets checkpoint is rewritten after the append) and
// truncates them. Every call racing with Delete must either succeed or fail
// with ErrClosed; none may panic, fail otherwise, or leave the directory
// behind (a checkpoint written during or after the removal would).
func TestAppendRacesDelete(t *testing.T) {
	s := NewSyncer(1, nil)
	defer s.Close()
	for i := range 200 {
		dir := filepath.Join(t.TempDir(), "mirror-0")
		l, err := Open(Options{Dir: dir, Config: DefaultConfig(), Syncer: s, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			<-start
			next := int64(1000 + i)
			for {
				b := record.NewBuilder()
				b.BaseOffset = next
				b.Append(time.Now().UnixMilli(), nil, []byte("v"))
				bb := b.Build()
				_, err := l.AppendVerbatim(bb)
				if err == nil && next%7 == 0 {
					err = l.TruncateTo(next) // the next append leaves a gap
				}
				if err != nil {
					done <- err
					return
				}
				next = bb.NextOffset()
			}
		}()
		close(start)
		if i%2 == 1 {
			time.Sleep(time.Duration(rand.Intn(200)) * time.Microsecond)
		}
		if err := l.Delete(); err != nil {
			t.Fatalf("iteration %d: Delete: %v", i, err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("iteration %d: write racing Delete: %v, want ErrClosed", i, err)
		}
		if _, err := l.AppendVerbatim(nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("iteration %d: append after Delete: %v", i, err)
		}
		if err := l.TruncateFullyAndStartAt(5); !errors.Is(err, ErrClosed) {
			t.Fatalf("iteration %d: truncate after Delete: %v", i, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("iteration %d: directory after Delete: %v", i, err)
		}
	}
}
