package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Index entry sizes (Kafka OffsetIndex, TimeIndex, AbortedTxn).
const (
	offsetEntrySize = 8  // relative offset int32, position int32
	timeEntrySize   = 12 // timestamp int64, relative offset int32
	txnEntrySize    = 34 // version int16, producerId, firstOffset, lastOffset, lastStableOffset int64
	txnEntryVersion = 0
)

// segment is one .log file and its indexes. Only metadata lives in memory:
// the files are opened lazily through the FileCache and indexes are
// searched with pread (the page cache plays the part of Kafka's mmap), so
// an idle segment costs a few hundred bytes and no descriptor.
//
// Fields are guarded by Log.mu; readers copy what they need under RLock
// and then do I/O without it. Entry counts bound what readers look at:
// an entry is counted only after its bytes were written, so a reader
// never sees a half-written entry.
type segment struct {
	base int64

	log, index, timeIndex, txnIndex *fileHandle

	size         int64 // bytes of valid batches in .log
	indexEntries int64
	timeEntries  int64
	txnEntries   int64

	// Last offset-index entry, so a tailing read skips the index search.
	lastIndexOffset int64 // -1 when none
	lastIndexPos    int64

	// Append state (active segment; recomputed on open or rebuild).
	bytesSinceIndex int64
	lastTimeIndexTS int64 // timestamp of the last time-index entry, -1 none

	// Largest batch timestamp and the last offset of the first batch that
	// reached it (Kafka's shallowOffsetOfMaxTimestampSoFar). Loaded lazily
	// from the last time-index entry for inactive segments.
	maxTS       int64
	maxTSOffset int64
	maxTSKnown  bool

	// Index files written since their last fsync. Index files are synced
	// at roll and close only (the active segment's are rebuilt by recovery).
	indexUnsynced, timeUnsynced bool

	// MaxTimestamp of the segment's first batch: the time-based roll
	// compares incoming batches against it (LogSegment.rollingBasedTimestamp).
	firstBatchTS      int64
	firstBatchTSKnown bool
}

func newSegment(c *FileCache, dir string, base int64) *segment {
	p := func(ext string) string { return filepath.Join(dir, fileName(base, ext)) }
	return &segment{
		base:            base,
		log:             c.handle(p(logExt)),
		index:           c.handle(p(indexExt)),
		timeIndex:       c.handle(p(timeIndexExt)),
		txnIndex:        c.handle(p(txnIndexExt)),
		lastIndexOffset: -1,
		lastTimeIndexTS: -1,
		maxTS:           record.NoTimestamp,
		maxTSOffset:     -1,
	}
}

// createSegment makes a new, empty segment on disk. Stale index files with
// the same base offset (from an earlier incarnation) are removed.
func createSegment(c *FileCache, dir string, base int64) (*segment, error) {
	s := newSegment(c, dir, base)
	for _, ext := range []string{indexExt, timeIndexExt, txnIndexExt} {
		if err := c.fs.Remove(filepath.Join(dir, fileName(base, ext))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	path := filepath.Join(dir, fileName(base, logExt))
	f, err := c.openFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return nil, fmt.Errorf("log: create segment: %w", err)
	}
	s.log.close()
	s.log = c.adopt(path, f)
	s.maxTSKnown, s.firstBatchTSKnown = true, true
	s.firstBatchTS = record.NoTimestamp
	return s, nil
}

func (s *segment) handles() []*fileHandle {
	return []*fileHandle{s.log, s.index, s.timeIndex, s.txnIndex}
}

func (s *segment) closeFiles() {
	for _, h := range s.handles() {
		h.close()
	}
}

// relative converts an absolute offset to the int32 stored in indexes.
func (s *segment) relative(offset int64) (int32, bool) {
	d := offset - s.base
	return int32(d), d >= 0 && d <= math.MaxInt32
}

// readAt reads exactly len(p) bytes of h at off.
func readAt(h *fileHandle, p []byte, off int64) error {
	return h.withFile(func(f vfs.File) error {
		n, err := f.ReadAt(p, off)
		if n == len(p) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
}

func writeAt(h *fileHandle, p []byte, off int64) error {
	return h.withFile(func(f vfs.File) error {
		_, err := f.WriteAt(p, off)
		return err
	})
}

func truncateFile(h *fileHandle, size int64) error {
	return h.withFile(func(f vfs.File) error { return f.Truncate(size) })
}

// offsetEntry reads offset-index entry i as (absolute offset, position).
func (s *segment) offsetEntry(i int64) (int64, int64, error) {
	var b [offsetEntrySize]byte
	if err := readAt(s.index, b[:], i*offsetEntrySize); err != nil {
		return 0, 0, err
	}
	return s.base + int64(int32(binary.BigEndian.Uint32(b[0:]))), int64(int32(binary.BigEndian.Uint32(b[4:]))), nil
}

// lookupPosition returns the position from which to scan for target: the
// position of the largest index entry whose offset is <= target (Kafka
// OffsetIndex.lookup), or 0. n and size are the caller's snapshot of
// indexEntries and size. Entries that contradict the snapshot (position
// past the end, offsets out of order) are treated as absent: the caller
// then scans from an earlier point, which is slower but correct.
func (s *segment) lookupPosition(target int64, n, size int64, lastOff, lastPos int64) (int64, error) {
	if n == 0 || target < s.base {
		return 0, nil
	}
	if lastOff >= 0 && target >= lastOff && lastPos <= size {
		return lastPos, nil // tail fast path
	}
	lo, hi := int64(0), n-1 // find the largest i with offset(i) <= target
	best, bestPos := int64(-1), int64(0)
	prevOff := int64(math.MinInt64)
	for lo <= hi {
		mid := lo + (hi-lo)/2
		off, pos, err := s.offsetEntry(mid)
		if err != nil {
			return 0, err
		}
		if pos < 0 || pos > size || off < s.base {
			return 0, nil // corrupt entry: scan from the start
		}
		if off <= target {
			if off < prevOff && best >= 0 {
				return 0, nil
			}
			best, bestPos, prevOff = mid, pos, off
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	if best < 0 {
		return 0, nil
	}
	return bestPos, nil
}

// timeEntry reads time-index entry i as (timestamp, absolute offset).
func (s *segment) timeEntry(i int64) (int64, int64, error) {
	var b [timeEntrySize]byte
	if err := readAt(s.timeIndex, b[:], i*timeEntrySize); err != nil {
		return 0, 0, err
	}
	return int64(binary.BigEndian.Uint64(b[0:])), s.base + int64(int32(binary.BigEndian.Uint32(b[8:]))), nil
}

// lookupTime returns the offset of the largest time-index entry with
// timestamp <= ts (Kafka TimeIndex.lookup), or the base offset.
func (s *segment) lookupTime(ts int64, n int64) (int64, error) {
	lo, hi := int64(0), n-1
	found := s.base
	for lo <= hi {
		mid := lo + (hi-lo)/2
		t, off, err := s.timeEntry(mid)
		if err != nil {
			return 0, err
		}
		if t <= ts {
			found = off
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	return found, nil
}

// loadMaxTimestamp fills maxTS from the last time-index entry, which for an
// inactive segment is written at roll/close with the segment's maximum
// (LogSegment.onBecomeInactiveSegment). The caller holds Log.mu.
func (s *segment) loadMaxTimestamp() {
	if s.maxTSKnown {
		return
	}
	s.maxTSKnown = true
	if s.timeEntries == 0 {
		return
	}
	if ts, off, err := s.timeEntry(s.timeEntries - 1); err == nil {
		s.maxTS, s.maxTSOffset = ts, off
		s.lastTimeIndexTS = ts
	}
}

// largestTimestamp is the retention clock of a segment: its max timestamp,
// or the file's modification time when it holds no timestamps (Kafka
// LogSegment.largestTimestamp).
func (s *segment) largestTimestamp() int64 {
	s.loadMaxTimestamp()
	if s.maxTS >= 0 {
		return s.maxTS
	}
	if fi, err := s.log.cache.fs.Stat(s.log.currentPath()); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return record.NoTimestamp
}

// abortedEntry is one .txnindex record (Kafka AbortedTxn).
type abortedEntry struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

func (e abortedEntry) encode() []byte {
	b := make([]byte, txnEntrySize)
	binary.BigEndian.PutUint16(b[0:], txnEntryVersion)
	binary.BigEndian.PutUint64(b[2:], uint64(e.ProducerID))
	binary.BigEndian.PutUint64(b[10:], uint64(e.FirstOffset))
	binary.BigEndian.PutUint64(b[18:], uint64(e.LastOffset))
	binary.BigEndian.PutUint64(b[26:], uint64(e.LastStableOffset))
	return b
}

func decodeAborted(b []byte) (abortedEntry, error) {
	if v := int16(binary.BigEndian.Uint16(b)); v != txnEntryVersion {
		return abortedEntry{}, record.CorruptErrorf("transaction index entry version %d", v)
	}
	return abortedEntry{
		ProducerID:       int64(binary.BigEndian.Uint64(b[2:])),
		FirstOffset:      int64(binary.BigEndian.Uint64(b[10:])),
		LastOffset:       int64(binary.BigEndian.Uint64(b[18:])),
		LastStableOffset: int64(binary.BigEndian.Uint64(b[26:])),
	}, nil
}

// readAborted reads the first n entries of the transaction index.
func (s *segment) readAborted(n int64) ([]abortedEntry, error) {
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, n*txnEntrySize)
	if err := readAt(s.txnIndex, buf, 0); err != nil {
		return nil, err
	}
	out := make([]abortedEntry, 0, n)
	for i := int64(0); i < n; i++ {
		e, err := decodeAborted(buf[i*txnEntrySize:])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// indexer accumulates index entries for batches appended to a segment and
// writes them in one pwrite per index per append.
type indexer struct {
	s        *segment
	interval int64
	offBuf   []byte
	timeBuf  []byte
	nOff     int64
	nTime    int64
}

// add accounts for a batch written at pos (Kafka LogSegment.append: an
// offset-index entry for the batch's last offset once more than
// index.interval.bytes were written since the previous entry, and a
// time-index entry when the max timestamp grew since the last one).
func (ix *indexer) add(h record.Batch, pos, size int64) {
	s := ix.s
	maxTS, last := h.MaxTimestamp(), h.LastOffset()
	if pos == 0 {
		s.firstBatchTS, s.firstBatchTSKnown = maxTS, true
	}
	s.loadMaxTimestamp()
	if maxTS > s.maxTS {
		s.maxTS, s.maxTSOffset = maxTS, last
	}
	if s.bytesSinceIndex > ix.interval {
		rel, _ := s.relative(last)
		var e [offsetEntrySize]byte
		binary.BigEndian.PutUint32(e[0:], uint32(rel))
		binary.BigEndian.PutUint32(e[4:], uint32(pos))
		ix.offBuf = append(ix.offBuf, e[:]...)
		ix.nOff++
		s.lastIndexOffset, s.lastIndexPos = last, pos
		ix.maybeTime()
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += size
}

// maybeTime appends a time-index entry for the running maximum if it grew
// (TimeIndex.maybeAppend); final entries are written at roll and close.
func (ix *indexer) maybeTime() {
	s := ix.s
	if s.maxTS <= s.lastTimeIndexTS || s.maxTSOffset < 0 {
		return
	}
	rel, _ := s.relative(s.maxTSOffset)
	var e [timeEntrySize]byte
	binary.BigEndian.PutUint64(e[0:], uint64(s.maxTS))
	binary.BigEndian.PutUint32(e[8:], uint32(rel))
	ix.timeBuf = append(ix.timeBuf, e[:]...)
	ix.nTime++
	s.lastTimeIndexTS = s.maxTS
}

// flush writes the accumulated entries and publishes the new counts.
func (ix *indexer) flush() error {
	s := ix.s
	if len(ix.offBuf) > 0 {
		if err := writeAt(s.index, ix.offBuf, s.indexEntries*offsetEntrySize); err != nil {
			return fmt.Errorf("log: write offset index: %w", err)
		}
		s.indexEntries += ix.nOff
		s.indexUnsynced = true
	}
	if len(ix.timeBuf) > 0 {
		if err := writeAt(s.timeIndex, ix.timeBuf, s.timeEntries*timeEntrySize); err != nil {
			return fmt.Errorf("log: write time index: %w", err)
		}
		s.timeEntries += ix.nTime
		s.timeUnsynced = true
	}
	ix.offBuf, ix.timeBuf, ix.nOff, ix.nTime = ix.offBuf[:0], ix.timeBuf[:0], 0, 0
	return nil
}

// rebuildIndexes recreates .index and .timeindex by scanning the segment's
// batches up to s.size (LogSegment.recover). It returns the scan result so
// recovery can reuse it; it never touches .log.
func (s *segment) rebuildIndexes(interval int64) error {
	if err := truncateFile(s.index, 0); err != nil {
		return err
	}
	if err := truncateFile(s.timeIndex, 0); err != nil {
		return err
	}
	s.indexEntries, s.timeEntries = 0, 0
	s.indexUnsynced, s.timeUnsynced = true, true
	s.lastIndexOffset, s.lastIndexPos = -1, 0
	s.bytesSinceIndex, s.lastTimeIndexTS = 0, -1
	s.maxTS, s.maxTSOffset, s.maxTSKnown = record.NoTimestamp, -1, true
	s.firstBatchTSKnown = false
	ix := &indexer{s: s, interval: interval}
	err := s.scanBatches(func(sc *batchScanner) error {
		ix.add(sc.hdr, sc.batchPos, sc.batchLen)
		if len(ix.offBuf) >= 64<<10 {
			return ix.flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !s.firstBatchTSKnown {
		s.firstBatchTS, s.firstBatchTSKnown = record.NoTimestamp, true
	}
	return ix.flush()
}

// scanBatches calls fn for every batch of s up to its size; broken framing
// inside that range is corruption.
func (s *segment) scanBatches(fn func(sc *batchScanner) error) error {
	return s.log.withFile(func(f vfs.File) error {
		sc := newScanner(f, 0, s.size)
		for sc.next() {
			if err := fn(sc); err != nil {
				return err
			}
		}
		if sc.stop != scanEOF {
			return record.CorruptErrorf("segment %d: %v", s.base, sc.stopErr)
		}
		return nil
	})
}

// seal writes the final time-index entry when a segment stops being active
// (roll or close), so the last entry holds the segment's maximum.
func (s *segment) seal() error {
	ix := &indexer{s: s}
	s.loadMaxTimestamp()
	ix.maybeTime()
	return ix.flush()
}

func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
