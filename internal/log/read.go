package log

import (
	"fmt"
	"sort"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// segView is what a reader copies from a segment under the read lock.
type segView struct {
	s               *segment
	end             int64 // readable bytes (bounded by the high watermark)
	indexEntries    int64
	lastIndexOffset int64
	lastIndexPos    int64
	txnEntries      int64
}

// segmentIndexLocked returns the index of the segment that may hold offset
// (the last with base <= offset), or 0.
func (l *Log) segmentIndexLocked(offset int64) int {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset })
	return max(i-1, 0)
}

// viewsLocked snapshots segments from index i on, bounded by the high
// watermark position. Caller holds mu (read).
func (l *Log) viewsLocked(i int) []segView {
	var out []segView
	for _, s := range l.segments[i:] {
		if s.base > l.hwSegBase {
			break // nothing readable beyond the high watermark
		}
		end := s.size
		if s.base == l.hwSegBase {
			end = min(l.hwPos, s.size)
		}
		out = append(out, segView{s: s, end: end, indexEntries: s.indexEntries,
			lastIndexOffset: s.lastIndexOffset, lastIndexPos: s.lastIndexPos, txnEntries: s.txnEntries})
	}
	return out
}

// Read returns whole batches starting with the one containing fetchOffset,
// up to maxBytes — or at least that first batch when minOneBatch, however
// large (KIP-74) — never past HighWatermark (ReadUncommitted) or
// LastStableOffset (ReadCommitted), and from a single segment, as Kafka
// reads. fetchOffset outside [LogStartOffset, LogEndOffset] is
// ErrOffsetOutOfRange; at or above the isolation bound the result is empty.
// ReadCommitted also lists the aborted transactions overlapping the
// returned offsets (from the .txnindex files).
//
// The position is found with the sparse offset index and a scan of batch
// headers; the bytes are read with pread into a fresh buffer, without the
// log mutex. Readers hold the truncation lock shared, so retention and
// truncation wait for in-flight reads instead of pulling files away.
func (l *Log) Read(fetchOffset int64, maxBytes int32, isolation Isolation, minOneBatch bool) (ReadResult, error) {
	return l.read(fetchOffset, maxBytes, isolation, minOneBatch, false)
}

// ReadSlice is Read for a caller that can send file bytes without copying
// them (sendfile): it returns the records as res.Slice, a pinned range of
// the segment file delimited from batch headers alone, and leaves
// res.Records nil. The caller must Release the slice. A read_committed
// bound below the high watermark (an open transaction's LSO) is located
// like a fetch offset; only if it fell inside a batch would the records be
// read into memory and trimmed as Read does.
func (l *Log) ReadSlice(fetchOffset int64, maxBytes int32, isolation Isolation, minOneBatch bool) (ReadResult, error) {
	return l.read(fetchOffset, maxBytes, isolation, minOneBatch, true)
}

func (l *Log) read(fetchOffset int64, maxBytes int32, isolation Isolation, minOneBatch, slice bool) (ReadResult, error) {
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ReadResult{}, l.errClosed()
	}
	res := ReadResult{HighWatermark: l.hw, LastStableOffset: l.lsoLocked(), LogStartOffset: l.logStart}
	if fetchOffset < l.logStart || fetchOffset > l.leo {
		start, end := l.logStart, l.leo
		l.mu.RUnlock()
		return res, fmt.Errorf("%w: fetch offset %d, log range [%d, %d]", ErrOffsetOutOfRange, fetchOffset, start, end)
	}
	bound := res.HighWatermark
	if isolation == ReadCommitted {
		bound = res.LastStableOffset
		res.AbortedTransactions = []AbortedTxn{}
	}
	if fetchOffset >= bound {
		l.mu.RUnlock()
		return res, nil
	}
	views := l.viewsLocked(l.segmentIndexLocked(fetchOffset))
	l.mu.RUnlock()

	limit := int64(max(maxBytes, 0))
	for vi, v := range views {
		if v.end == 0 {
			continue // an empty segment (compaction can leave one anywhere)
		}
		pos, first, found, err := v.locate(fetchOffset)
		if err != nil {
			return res, err
		}
		if !found {
			continue // fetchOffset falls in a gap after this segment's last batch
		}
		// The view ends at the high watermark's position; a lower bound
		// (an open transaction's LSO) needs its own position to send the
		// file as is.
		end, sliceable := v.end, slice
		if slice && bound < res.HighWatermark {
			if end, sliceable, err = v.boundPosition(bound); err != nil {
				return res, err
			}
		}
		n := min(max(limit, 0), end-pos)
		if minOneBatch && n < first {
			n = first
		}
		if n < first {
			return res, nil // first batch larger than maxBytes, and not minOneBatch
		}
		if sliceable {
			fs, err := v.slice(pos, n)
			if err != nil {
				return res, err
			}
			res.Slice = fs
			if isolation == ReadCommitted && fs.Len > 0 {
				aborted, err := collectAborted(views[vi:], fetchOffset, fs.LastOffset)
				if err != nil {
					fs.Release()
					res.Slice = nil
					return res, err
				}
				res.AbortedTransactions = aborted
			}
			return res, nil
		}
		buf := make([]byte, n)
		if err := readAt(v.s.log, buf, pos); err != nil {
			return res, fmt.Errorf("log: read segment %d at %d: %w", v.s.base, pos, err)
		}
		// Keep whole batches below the bound.
		it := record.NewIter(buf)
		keep, last := 0, int64(-1)
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			if b.BaseOffset() >= bound {
				break
			}
			keep, last = it.Pos(), b.LastOffset()
		}
		if err := it.Err(); err != nil {
			return res, fmt.Errorf("log: segment %d at %d: %w", v.s.base, pos, err)
		}
		res.Records = buf[:keep:keep]
		if isolation == ReadCommitted && keep > 0 {
			aborted, err := collectAborted(views[vi:], fetchOffset, last)
			if err != nil {
				return res, err
			}
			res.AbortedTransactions = aborted
		}
		return res, nil
	}
	return res, nil
}

// boundPosition returns where a read bounded by offset (a last stable
// offset below the high watermark) must stop in v: the start of the batch
// whose base offset is bound, or v.end when bound lies past v's batches.
// ok is false when bound falls inside a batch, which an LSO never does
// (it is the first offset of a transaction's first batch); the caller
// then reads and trims batch by batch.
func (v *segView) boundPosition(bound int64) (end int64, ok bool, err error) {
	pos, _, found, err := v.locate(bound)
	if err != nil || !found {
		return v.end, err == nil, err
	}
	var hdr [record.LogOverhead]byte
	if err := readAt(v.s.log, hdr[:], pos); err != nil {
		return 0, false, fmt.Errorf("log: segment %d: batch header at %d: %w", v.s.base, pos, err)
	}
	if record.Batch(hdr[:]).BaseOffset() != bound {
		return v.end, false, nil
	}
	return pos, true, nil
}

// locate finds the first batch in v with LastOffset >= target: its
// position and size. An index entry that leads the scan astray (only
// possible if the index file was damaged) is retried from position 0.
func (v *segView) locate(target int64) (pos, size int64, found bool, err error) {
	start, err := v.s.lookupPosition(target, v.indexEntries, v.end, v.lastIndexOffset, v.lastIndexPos)
	if err != nil {
		return 0, 0, false, fmt.Errorf("log: offset index of segment %d: %w", v.s.base, err)
	}
	for {
		var stop scanStop
		var why error
		err = v.s.log.withFile(func(f vfs.File) error {
			sc := newScanner(f, start, v.end)
			for sc.next() {
				if sc.hdr.LastOffset() >= target {
					pos, size, found = sc.batchPos, sc.batchLen, true
					return nil
				}
			}
			stop, why = sc.stop, sc.stopErr
			return nil
		})
		if err != nil {
			return 0, 0, false, err
		}
		if found || stop == scanEOF {
			return pos, size, found, nil
		}
		if start == 0 {
			return 0, 0, false, record.CorruptErrorf("segment %d: %v", v.s.base, why)
		}
		start = 0
	}
}

// collectAborted returns aborted transactions overlapping [from, to]
// (UnifiedLog.collectAbortedTransactions): entries with lastOffset >= from
// and firstOffset <= to, searching the transaction indexes from the fetch
// segment on, including segments past to, and stopping once an entry's
// lastStableOffset passes to (later entries cannot overlap:
// TransactionIndex.collectAbortedTxns).
func collectAborted(views []segView, from, to int64) ([]AbortedTxn, error) {
	out := []AbortedTxn{}
	for _, v := range views {
		// An entry sits in the segment of its ABORT marker, which can be
		// any later segment: keep searching past `to` until an entry's
		// lastStableOffset shows that later ones cannot overlap
		// (UnifiedLog.collectAbortedTransactions walks the higher
		// segments the same way).
		entries, err := v.s.readAborted(v.txnEntries)
		if err != nil {
			return nil, fmt.Errorf("log: transaction index of segment %d: %w", v.s.base, err)
		}
		for _, e := range entries {
			if e.LastOffset >= from && e.FirstOffset <= to {
				out = append(out, AbortedTxn{ProducerID: e.ProducerID, FirstOffset: e.FirstOffset})
			}
			if e.LastStableOffset > to {
				return out, nil
			}
		}
	}
	return out, nil
}

// OffsetForTimestamp answers ListOffsets for a timestamp >= 0 (Kafka
// UnifiedLog.fetchOffsetByTimestamp): the first record at or after the log
// start offset with timestamp >= ts, its timestamp and its batch's
// partition leader epoch. The segment is chosen by its largest timestamp,
// the position by the time index, and the records of the matching batch
// are decoded (decompressed if needed) so the offset is the record's own,
// as Kafka returns. Only data below the high watermark is considered.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, leaderEpoch int32, ok bool) {
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	l.mu.Lock() // lazily loads per-segment max timestamps
	if l.closed {
		l.mu.Unlock()
		return -1, -1, -1, false
	}
	startOffset, hw := l.logStart, l.hw
	i0 := l.segmentIndexLocked(startOffset)
	first := -1
	for i := i0; i < len(l.segments); i++ {
		s := l.segments[i]
		s.loadMaxTimestamp()
		if s.maxTS >= ts {
			first = i
			break
		}
	}
	if first < 0 {
		l.mu.Unlock()
		return -1, -1, -1, false
	}
	views := l.viewsLocked(first)
	timeEntries := make([]int64, len(views))
	for i, v := range views {
		timeEntries[i] = v.s.timeEntries
	}
	l.mu.Unlock()

	for i, v := range views {
		if v.end == 0 {
			continue
		}
		// Time index → offset → offset index → position (LogSegment.findOffsetByTimestamp).
		from := v.s.base
		if i == 0 && timeEntries[i] > 0 {
			off, err := v.s.lookupTime(ts, timeEntries[i])
			if err != nil {
				return -1, -1, -1, false
			}
			from = off
		}
		from = max(from, startOffset)
		pos, _, found, err := v.locate(from)
		if err != nil || !found {
			continue
		}
		var hit bool
		_ = v.s.log.withFile(func(f vfs.File) error {
			sc := newScanner(f, pos, v.end)
			for sc.next() {
				if sc.hdr.MaxTimestamp() < ts || sc.hdr.LastOffset() < startOffset {
					continue
				}
				b, err := sc.full()
				if err != nil {
					return err
				}
				err = b.Records(func(r record.Record) error {
					o, t := r.Offset(b), r.Timestamp(b)
					if t >= ts && o >= startOffset && o < hw {
						offset, timestamp, leaderEpoch, hit = o, t, b.PartitionLeaderEpoch(), true
						return errStopIteration
					}
					return nil
				})
				if hit || (err != nil && err != errStopIteration) {
					return nil
				}
			}
			return nil
		})
		if hit {
			return offset, timestamp, leaderEpoch, true
		}
	}
	return -1, -1, -1, false
}

var errStopIteration = fmt.Errorf("stop")

// MaxTimestamp answers ListOffsets with timestamp -3 (KIP-734): the record
// with the largest timestamp in the log, its offset and its batch's leader
// epoch; (-1, -1, -1) for an empty log. The segment with the largest
// timestamp is found from per-segment maxima; its batch holding that
// timestamp is decoded for the exact record offset (KAFKA-16310).
func (l *Log) MaxTimestamp() (timestamp int64, offset int64, leaderEpoch int32) {
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return -1, -1, -1
	}
	var best *segment
	for _, s := range l.segments {
		s.loadMaxTimestamp()
		if s.maxTS >= 0 && (best == nil || s.maxTS > best.maxTS) {
			best = s
		}
	}
	if best == nil {
		l.mu.Unlock()
		return -1, -1, -1
	}
	ts, shallow := best.maxTS, best.maxTSOffset
	v := segView{s: best, end: best.size, indexEntries: best.indexEntries, lastIndexOffset: best.lastIndexOffset, lastIndexPos: best.lastIndexPos}
	l.mu.Unlock()

	pos, _, found, err := v.locate(shallow)
	if err != nil || !found {
		return ts, shallow, -1
	}
	offset, leaderEpoch = shallow, -1
	_ = best.log.withFile(func(f vfs.File) error {
		sc := newScanner(f, pos, v.end)
		if !sc.next() {
			return nil
		}
		b, err := sc.full()
		if err != nil {
			return err
		}
		leaderEpoch = b.PartitionLeaderEpoch()
		_ = b.Records(func(r record.Record) error {
			if r.Timestamp(b) == ts {
				offset = r.Offset(b)
				return errStopIteration
			}
			return nil
		})
		return nil
	})
	return ts, offset, leaderEpoch
}
