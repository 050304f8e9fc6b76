package log

import (
	"bytes"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandem-streaming/tandem/internal/record"
)

// FuzzRecovery damages the tail of a log after a crash — truncation, a
// flipped byte or appended garbage at an arbitrary position of the newest
// segment — and reopens it uncleanly. Recovery must never panic, must keep
// every batch that lies wholly before the damage, and must leave a log
// that accepts appends and reads.
func FuzzRecovery(f *testing.F) {
	f.Add(int64(1), uint8(10), uint8(0), uint32(100))
	f.Add(int64(2), uint8(30), uint8(1), uint32(1000))
	f.Add(int64(3), uint8(5), uint8(2), uint32(0))
	f.Add(int64(4), uint8(50), uint8(1), uint32(12))
	f.Fuzz(func(t *testing.T, seed int64, nBatches uint8, kind uint8, pos uint32) {
		rng := rand.New(rand.NewSource(seed))
		cfg := DefaultConfig()
		cfg.SegmentBytes = 1500
		cfg.IndexIntervalBytes = 200
		dir := t.TempDir()
		s := newSyncer(nil, true)
		l, err := Open(Options{Dir: dir, Config: cfg, Syncer: s, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		var batches []record.Batch
		seq := int32(0)
		for i := 0; i < int(nBatches)%60+1; i++ {
			b := record.NewBuilder()
			n := 1 + rng.Intn(4)
			if rng.Intn(3) == 0 {
				b.ProducerID, b.ProducerEpoch, b.BaseSequence = 7, 0, seq
				seq += int32(n)
			}
			if rng.Intn(4) == 0 {
				b.Compression = record.Snappy
			}
			for j := 0; j < n; j++ {
				b.Append(1_700_000_000_000+int64(i), nil, make([]byte, rng.Intn(120)))
			}
			buf := b.Build()
			if _, err := l.AppendAsLeader(buf, int32(i/10)); err != nil {
				t.Fatal(err)
			}
			batches = append(batches, buf)
			if rng.Intn(8) == 0 {
				s.runPending()
			}
		}
		// Crash.
		l.mu.Lock()
		l.closed = true
		segs := l.segments
		l.mu.Unlock()
		for _, sg := range segs {
			sg.closeFiles()
		}
		last := segs[len(segs)-1]
		path := filepath.Join(dir, fileName(last.base, logExt))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		damage := int64(0)
		if len(data) > 0 {
			damage = int64(pos) % int64(len(data)+1)
		}
		switch kind % 3 {
		case 0:
			data = data[:damage]
		case 1:
			if damage < int64(len(data)) {
				data[damage] ^= 0xa5
			}
		case 2:
			data = append(data[:damage], bytes.Repeat([]byte{0x42}, 77)...)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}

		l, err = Open(Options{Dir: dir, Config: cfg, Syncer: s, CleanShutdown: false, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer l.Close()
		st := l.Stats()
		if st.HighWatermark != st.LogEndOffset {
			t.Fatalf("HW %d != LEO %d after recovery", st.HighWatermark, st.LogEndOffset)
		}
		// Every batch wholly before the damage point must be intact.
		var mustKeep []record.Batch
		for _, b := range batches {
			if b.BaseOffset() < last.base {
				mustKeep = append(mustKeep, b)
				continue
			}
			// Position of b in the last segment.
			p := int64(0)
			for _, c := range batches {
				if c.BaseOffset() >= last.base && c.BaseOffset() < b.BaseOffset() {
					p += int64(len(c))
				}
			}
			if p+int64(len(b)) <= damage {
				mustKeep = append(mustKeep, b)
			}
		}
		next := int64(0)
		for _, want := range mustKeep {
			res, err := l.Read(want.BaseOffset(), 1, ReadUncommitted, true)
			if err != nil {
				t.Fatalf("read %d: %v", want.BaseOffset(), err)
			}
			it := record.NewIter(res.Records)
			got, ok := it.Next()
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("batch at %d lost or changed (damage at %d of segment %d)", want.BaseOffset(), damage, last.base)
			}
			next = want.NextOffset()
		}
		if st.LogEndOffset < next {
			t.Fatalf("LEO %d below the last intact batch end %d", st.LogEndOffset, next)
		}
		// Still usable.
		res, err := l.AppendAsLeader(simpleBatch(2, 1_700_000_000_000), math.MaxInt32)
		if err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
		s.runPending()
		if r, err := l.Read(res.BaseOffset, 1<<20, ReadUncommitted, true); err != nil || len(r.Records) == 0 {
			t.Fatalf("read after recovery: %v", err)
		}
	})
}
