package log

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// TestReadSliceMatchesRead checks the zero-copy read against the copying
// one: for every fetch offset, a spread of maxBytes (cutting inside
// batches, on boundaries, below the first batch), both isolation levels
// and minOneBatch, ReadSlice must name exactly the bytes Read returns,
// with the same bounds and aborted transactions. The log has several
// segments, batches of varied size, a sparse index that points into the
// middle of segments, offset gaps (verbatim appends), an aborted and a
// committed transaction, and finally an open one (LSO below HW: the slice
// must stop at the LSO's batch).
func TestReadSliceMatchesRead(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 10
	cfg.IndexIntervalBytes = 700
	l, s, clock := openTestLog(t, cfg)
	rng := rand.New(rand.NewPCG(7, 9))
	now := clock.Now().UnixMilli()

	next := int64(0)
	verbatim := func(spec batchSpec) {
		t.Helper()
		spec.base = next
		b := spec.build()
		if _, err := l.AppendVerbatim(b); err != nil {
			t.Fatal(err)
		}
		next = b.LastOffset() + 1
	}
	plain := func() batchSpec {
		return batchSpec{records: 1 + rng.IntN(12), ts: now, valueSize: 10 + rng.IntN(300), pid: -1}
	}
	for i := 0; i < 60; i++ {
		spec := plain()
		if i%7 == 3 {
			next += int64(1 + rng.IntN(5)) // a gap, as compaction leaves
		}
		verbatim(spec)
	}
	txn := func(pid int64, commit bool) {
		for j := 0; j < 3; j++ {
			spec := plain()
			spec.pid, spec.seq, spec.txn = pid, int32(j*100), true
			verbatim(spec)
			verbatim(plain())
		}
		ctl := "abort"
		if commit {
			ctl = "commit"
		}
		verbatim(batchSpec{control: ctl, pid: pid, ts: now})
	}
	txn(11, false)
	for i := 0; i < 20; i++ {
		verbatim(plain())
	}
	txn(12, true)
	for i := 0; i < 10; i++ {
		verbatim(plain())
	}
	s.runPending()

	check := func(t *testing.T, isolation Isolation) {
		t.Helper()
		zeroCopy := 0
		for off := l.LogStartOffset(); off <= l.HighWatermark(); off++ {
			for _, maxBytes := range []int32{0, 1, 61, 200, 999, 1500, 4096, 9000, 1 << 20} {
				for _, minOne := range []bool{false, true} {
					want, werr := l.Read(off, maxBytes, isolation, minOne)
					got, gerr := l.ReadSlice(off, maxBytes, isolation, minOne)
					if (werr == nil) != (gerr == nil) {
						t.Fatalf("offset %d max %d: Read err %v, ReadSlice err %v", off, maxBytes, werr, gerr)
					}
					gotBytes := got.Records
					if got.Slice != nil {
						if got.Records != nil {
							t.Fatal("both Records and Slice set")
						}
						b, err := readSliceBytes(got.Slice)
						if err != nil {
							t.Fatal(err)
						}
						if got.Slice.Len > 0 {
							zeroCopy++
							last := record.Batch(b[len(b)-lastBatchLen(t, b):]).LastOffset()
							if last != got.Slice.LastOffset {
								t.Fatalf("slice LastOffset %d, bytes end with %d", got.Slice.LastOffset, last)
							}
						}
						got.Slice.Release()
						gotBytes = b
					}
					if !bytes.Equal(gotBytes, want.Records) {
						t.Fatalf("offset %d max %d minOne %v: slice has %d bytes, Read %d", off, maxBytes, minOne, len(gotBytes), len(want.Records))
					}
					want.Records, got.Records, got.Slice = nil, nil, nil
					if len(want.AbortedTransactions) == 0 && len(got.AbortedTransactions) == 0 {
						want.AbortedTransactions, got.AbortedTransactions = nil, nil
					}
					if !reflect.DeepEqual(want, got) {
						t.Fatalf("offset %d max %d: Read %+v, ReadSlice %+v", off, maxBytes, want, got)
					}
				}
			}
		}
		if zeroCopy == 0 {
			t.Fatal("no read went through a file slice")
		}
	}
	t.Run("closed transactions", func(t *testing.T) {
		check(t, ReadUncommitted)
		check(t, ReadCommitted)
	})

	// An open transaction holds the LSO below the HW: read_committed
	// slices must end where the LSO's batch starts.
	spec := plain()
	spec.pid, spec.txn = 13, true
	verbatim(spec)
	for i := 0; i < 5; i++ {
		verbatim(plain())
	}
	s.runPending()
	if l.LastStableOffset() >= l.HighWatermark() {
		t.Fatalf("LSO %d not below HW %d", l.LastStableOffset(), l.HighWatermark())
	}
	t.Run("open transaction", func(t *testing.T) {
		check(t, ReadUncommitted)
		check(t, ReadCommitted)
	})
}

// lastBatchLen returns the size of the last whole batch in b.
func lastBatchLen(t *testing.T, b []byte) int {
	t.Helper()
	it := record.NewIter(b)
	prev, n := 0, 0
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		n, prev = it.Pos()-prev, it.Pos()
	}
	if err := it.Err(); err != nil || prev != len(b) {
		t.Fatalf("slice bytes are not whole batches: %v (%d of %d)", err, prev, len(b))
	}
	return n
}

// TestFileSlicePinsDescriptor checks that a slice keeps its file readable
// while the FileCache is pressed to close idle descriptors and the segment
// is deleted by retention.
func TestFileSlicePinsDescriptor(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2 << 10
	cfg.FileDeleteDelayMs = 0
	l, s, clock := openTestLog(t, cfg)
	for i := 0; i < 40; i++ {
		if _, err := l.AppendAsLeader(simpleBatch(5, clock.Now().UnixMilli()), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.runPending()
	want, err := l.Read(0, 1<<20, ReadUncommitted, true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.ReadSlice(0, 1<<20, ReadUncommitted, true)
	if err != nil || res.Slice == nil {
		t.Fatalf("ReadSlice: %v, %+v", err, res)
	}
	defer res.Slice.Release()
	// Touch every segment through an 8-descriptor cache, then delete the
	// first segments.
	for off := int64(0); off < l.HighWatermark(); off += 5 {
		if _, err := l.Read(off, 100, ReadUncommitted, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.DeleteRecordsBefore(l.HighWatermark() - 5); err != nil {
		t.Fatal(err)
	}
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(res.Slice.File().Name()); !os.IsNotExist(err) {
		t.Fatalf("segment %s still there (%v): the test did not delete it", res.Slice.File().Name(), err)
	}
	got, err := readSliceBytes(res.Slice)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Records) {
		t.Fatalf("pinned slice read %d bytes, want %d equal bytes", len(got), len(want.Records))
	}
}

// TestReadSliceDamagedIndex: index entries that point into the middle of
// batches (a damaged .index file) must not change what ReadSlice returns:
// the header walk falls back to the start of the range, as Read's locate
// falls back to the start of the segment.
func TestReadSliceDamagedIndex(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 300
	l, s, clock := openTestLog(t, cfg)
	for i := 0; i < 80; i++ {
		if _, err := l.AppendAsLeader(simpleBatch(1+i%7, clock.Now().UnixMilli()), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.runPending()
	l.mu.Lock()
	seg := l.segments[0]
	n := seg.indexEntries
	l.mu.Unlock()
	if n < 10 {
		t.Fatalf("only %d index entries", n)
	}
	// Shift every entry's position 7 bytes into its batch.
	err := seg.index.withFile(func(f vfs.File) error {
		buf := make([]byte, n*offsetEntrySize)
		if _, err := f.ReadAt(buf, 0); err != nil {
			return err
		}
		for i := int64(0); i < n; i++ {
			e := buf[i*offsetEntrySize:]
			binary.BigEndian.PutUint32(e[4:], binary.BigEndian.Uint32(e[4:])+7)
		}
		_, err := f.WriteAt(buf, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < l.HighWatermark(); off++ {
		for _, maxBytes := range []int32{100, 700, 2000, 1 << 20} {
			want, werr := l.Read(off, maxBytes, ReadUncommitted, true)
			got, gerr := l.ReadSlice(off, maxBytes, ReadUncommitted, true)
			if werr != nil || gerr != nil {
				t.Fatalf("offset %d max %d: Read %v, ReadSlice %v", off, maxBytes, werr, gerr)
			}
			b, err := readSliceBytes(got.Slice)
			got.Slice.Release()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want.Records) {
				t.Fatalf("offset %d max %d: slice %d bytes, Read %d", off, maxBytes, len(b), len(want.Records))
			}
		}
	}
}

// readSliceBytes reads what a slice names, as the server's sendfile would
// send it.
func readSliceBytes(s *FileSlice) ([]byte, error) {
	buf := make([]byte, s.Len)
	n, err := s.File().ReadAt(buf, s.Pos)
	if n == len(buf) {
		return buf, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}
