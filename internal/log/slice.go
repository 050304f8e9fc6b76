package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// FileSlice is a range of whole batches in a segment file, for sending
// with sendfile(2) instead of copying through user memory (Kafka's
// FileRecords.slice + transferTo). The file descriptor is pinned in the
// FileCache until Release, so eviction cannot close it (or let the number
// be reused) under a send; a segment deleted meanwhile stays readable
// through the open descriptor.
//
// As in Kafka, the bytes are read when they are sent, not when the slice
// is taken. Reads never go past the high watermark, and only data above it
// is ever truncated in normal operation, so the range holds what the read
// saw. The exception is a truncation below the high watermark (a mirror
// following a source's unclean leader election): a send racing it may
// carry the new log's bytes at those positions, or come up short, which
// the sender must treat as a failed write (Kafka FileRecords.writeTo:
// "has been truncated during write").
type FileSlice struct {
	h        *fileHandle
	f        vfs.File
	released atomic.Bool

	// Pos and Len locate the bytes in the file.
	Pos, Len int64
	// LastOffset is the last offset of the last batch in the range.
	LastOffset int64
}

// File returns the open segment file, for sendfile(2); valid until
// Release. Every vfs.FS the broker runs on (vfs.Default, and vfs.ErrorFS
// in tests, whose sendfile reads bypass its rules) has descriptors.
func (s *FileSlice) File() *os.File { return vfs.OSFile(s.f) }

// Release unpins the file. It is safe to call more than once.
func (s *FileSlice) Release() {
	if s != nil && s.released.CompareAndSwap(false, true) {
		s.h.release()
	}
}

// slice pins v's log file and returns the whole batches in [pos, pos+n):
// the first batch always (the caller sized n to hold it), then every
// batch that ends within n. Only batch headers are read: the cut is found
// from the offset index and a walk of length fields, so the record bytes
// themselves never pass through user memory.
func (v *segView) slice(pos, n int64) (*FileSlice, error) {
	f, err := v.s.log.acquire()
	if err != nil {
		return nil, fmt.Errorf("log: open segment %d: %w", v.s.base, err)
	}
	fs := &FileSlice{h: v.s.log, f: f, Pos: pos}
	end, last, err := v.lastBoundary(f, pos, pos+n)
	if err != nil {
		fs.Release()
		return nil, err
	}
	fs.Len, fs.LastOffset = end-pos, last
	return fs, nil
}

// lastBoundary returns the end of the last whole batch that starts at or
// after from and ends at or before cut, and that batch's last offset. from
// is a batch start and the first batch fits (cut - from >= its size). The
// walk starts at the last offset-index entry at or before cut, when the
// index has one past from, so it reads a few headers, not the segment.
func (v *segView) lastBoundary(f vfs.File, from, cut int64) (end, last int64, err error) {
	start := from
	if p, ok, err := v.indexPositionBefore(cut); err != nil {
		return 0, 0, err
	} else if ok && p > from {
		start = p
	}
	var hdr [record.BatchHeaderSize]byte
	for p := start; p < cut; {
		if cut-p < record.BatchHeaderSize {
			break
		}
		if _, err := f.ReadAt(hdr[:], p); err != nil {
			return 0, 0, fmt.Errorf("log: segment %d: batch header at %d: %w", v.s.base, p, err)
		}
		length := int64(int32(binary.BigEndian.Uint32(hdr[8:])))
		if length < record.MinLength || int8(hdr[16]) != record.MagicV2 {
			if start != from {
				// A damaged index entry pointed into a batch: walk
				// from the start of the range instead.
				return v.walkFrom(f, from, cut)
			}
			return 0, 0, record.CorruptErrorf("segment %d: batch at position %d: length %d, magic %d", v.s.base, p, length, int8(hdr[16]))
		}
		next := p + record.LogOverhead + length
		if next > cut {
			break
		}
		end, last, p = next, record.Batch(hdr[:]).LastOffset(), next
	}
	if end == 0 {
		// The index pointed past the first batch's end (damaged index)
		// or nothing fit: walk from the start of the range.
		if start != from {
			return v.walkFrom(f, from, cut)
		}
		return 0, 0, record.CorruptErrorf("segment %d: no whole batch in [%d, %d)", v.s.base, from, cut)
	}
	return end, last, nil
}

// walkFrom is lastBoundary without the index.
func (v *segView) walkFrom(f vfs.File, from, cut int64) (end, last int64, err error) {
	v2 := *v
	v2.indexEntries = 0
	return v2.lastBoundary(f, from, cut)
}

// indexPositionBefore returns the position of the last offset-index entry
// whose position is <= cut (entries are ordered by position as well as
// offset), within the view's snapshot.
func (v *segView) indexPositionBefore(cut int64) (int64, bool, error) {
	if v.indexEntries == 0 {
		return 0, false, nil
	}
	if v.lastIndexPos <= cut && v.lastIndexOffset >= 0 {
		return v.lastIndexPos, true, nil
	}
	lo, hi := int64(0), v.indexEntries-1
	best, found := int64(0), false
	for lo <= hi {
		mid := lo + (hi-lo)/2
		_, pos, err := v.s.offsetEntry(mid)
		if err != nil {
			return 0, false, fmt.Errorf("log: offset index of segment %d: %w", v.s.base, err)
		}
		if pos < 0 || pos > v.end {
			return 0, false, nil // damaged entry: let the caller walk
		}
		if pos <= cut {
			best, found = pos, true
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	return best, found, nil
}
