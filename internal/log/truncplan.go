package log

import (
	"fmt"

	"github.com/tandem-streaming/tandem/internal/record"
)

// TruncationPlan is what TruncateTo(Offset) would remove, computed without
// changing anything (truncate-and-restore's validate_only and
// include_partition_level_truncation_data, docs/design/links-bidirectional.md).
type TruncationPlan struct {
	// Offset is the offset asked for.
	Offset int64
	// TruncatedTo is the log end offset TruncateTo(Offset) leaves: Offset,
	// or the base offset of the batch Offset falls inside (TruncateTo
	// removes that whole batch), or the log end offset when Offset is at
	// or beyond it (nothing to do).
	TruncatedTo int64
	// LogEndOffset is the log end offset before the truncation.
	LogEndOffset int64
	// Records counts the data records removed: the recordsCount of every
	// non-control batch at or after TruncatedTo. Offsets compacted away
	// and transaction markers are not records and are not counted;
	// records of aborted transactions are (they are in the log).
	Records int64
	// FirstOffset and LastOffset bound the removed batches' offsets
	// (-1 when nothing is removed).
	FirstOffset, LastOffset int64
}

// PlanTruncation reports what TruncateTo(offset) would remove. It reads
// batch headers only, one pread each, holding the truncation lock shared
// like a reader; it reads up to the log end offset (not the high
// watermark: truncation removes unreplicated data too).
func (l *Log) PlanTruncation(offset int64) (TruncationPlan, error) {
	if offset < 0 {
		return TruncationPlan{}, fmt.Errorf("%w: negative offset %d", ErrOffsetOutOfRange, offset)
	}
	l.truncMu.RLock()
	defer l.truncMu.RUnlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return TruncationPlan{}, l.errClosed()
	}
	p := TruncationPlan{Offset: offset, LogEndOffset: l.leo, TruncatedTo: offset, FirstOffset: -1, LastOffset: -1}
	if offset >= l.leo {
		p.TruncatedTo = l.leo
		l.mu.RUnlock()
		return p, nil
	}
	logStart := l.logStart
	from := max(offset, logStart)
	var views []segView
	for _, s := range l.segments[l.segmentIndexLocked(from):] {
		views = append(views, segView{s: s, end: s.size, indexEntries: s.indexEntries,
			lastIndexOffset: s.lastIndexOffset, lastIndexPos: s.lastIndexPos})
	}
	l.mu.RUnlock()
	first := true
	for _, v := range views {
		if v.end == 0 {
			continue
		}
		pos := int64(0)
		if first {
			var found bool
			var err error
			pos, _, found, err = v.locate(from)
			if err != nil {
				return p, err
			}
			if !found {
				continue
			}
		}
		first = false
		var hdr [record.BatchHeaderSize]byte
		for pos < v.end {
			if err := readAt(v.s.log, hdr[:], pos); err != nil {
				return p, fmt.Errorf("log: segment %d: batch header at %d: %w", v.s.base, pos, err)
			}
			b := record.Batch(hdr[:])
			if p.FirstOffset < 0 {
				p.FirstOffset = b.BaseOffset()
				if offset >= logStart && b.BaseOffset() < offset {
					// offset falls inside this batch: all of it goes.
					p.TruncatedTo = b.BaseOffset()
				}
			}
			p.LastOffset = b.LastOffset()
			if !b.IsControl() {
				p.Records += int64(b.NumRecords())
			}
			pos += record.LogOverhead + int64(b.Length())
		}
	}
	return p, nil
}
