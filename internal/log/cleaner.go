package log

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Log compaction (cleanup.policy=compact), after Kafka's LogCleaner:
//
//   - The log splits at the cleaner checkpoint (firstDirtyOffset) into a
//     clean head, compacted by earlier passes, and a dirty tail. Only whole
//     inactive segments below the first uncleanable offset are cleaned:
//     min(LastStableOffset, active segment base, first segment younger
//     than min.compaction.lag.ms), rounded down to a segment boundary
//     (LogCleanerManager.cleanableOffsets). The LSO is below the high
//     watermark, so the cleaner only ever sees durable data.
//   - A pass maps every key of the dirty section to its latest offset
//     (offsetMap, bounded by the dedupe buffer; if it fills up, only a
//     prefix of the dirty section is cleaned), then rewrites every segment
//     from the start of the log up to the end of the mapped range, in
//     groups that fit segment.bytes and int32 relative offsets
//     (Cleaner.groupSegmentsBySize).
//   - Offsets never change. A record stays if it is the latest for its key
//     (or beyond the mapped range); a tombstone additionally stays until
//     delete.retention.ms after the pass that first saw it (KIP-534 delete
//     horizon, stored in the batch). Aborted transactional data goes; a
//     marker goes once no data of its transaction is left and its own
//     delete horizon passed. A batch that loses nothing is copied byte for
//     byte; otherwise it is rebuilt with the same base offset,
//     lastOffsetDelta and producer fields, re-compressed with its codec
//     and a new CRC. An empty batch is dropped, except the one holding an
//     active producer's last sequence (or last marker), which stays empty.
//   - Each group's output is written as <base>.*.cleaned, fsynced, renamed
//     to .swap, the replaced segments are renamed to .deleted, and the
//     .swap files take their final names (LocalLog.replaceSegments). Open
//     rolls an interrupted swap forward (recovery.go, completeSwaps).
//
// Locks: Log.cleanMu serializes passes on one log and is taken before
// everything else. A pass reads inactive segments, which nothing but
// truncation and deletion changes, without any log lock; it takes truncMu
// exclusively (so no reader is inside the old segments) only to swap a
// group in, after checking that no truncation ran and the group's segments
// are all still there; otherwise the pass is abandoned
// (ErrCleaningAborted), which loses nothing.

// DefaultDedupeBufferBytes is Kafka's log.cleaner.dedupe.buffer.size
// (128 MiB). The offset map grows to it only as keys require.
const DefaultDedupeBufferBytes = 128 << 20

// cleanerCheckpoint is the per-partition file holding the cleaner
// checkpoint (Kafka keeps all partitions in one directory-level
// cleaner-offset-checkpoint). Format: "0\ncleaner-offset N\n".
const cleanerCheckpoint = "cleaner-offset-checkpoint"

// CleanOptions configures one cleaning pass.
type CleanOptions struct {
	// DedupeBufferBytes bounds the key → offset map (24 bytes a key);
	// DefaultDedupeBufferBytes when <= 0.
	DedupeBufferBytes int64
	// Context, when non-nil, abandons the pass once done
	// (ErrCleaningAborted).
	Context context.Context

	offsetMap *offsetMap // the Cleaner's per-thread map, reused
}

// CleanResult describes a cleaning pass.
type CleanResult struct {
	// FirstDirtyOffset and FirstUncleanableOffset bound the dirty section
	// the pass considered (LogToClean); EndOffset is where the clean
	// section ends now (the new cleaner checkpoint).
	FirstDirtyOffset       int64
	FirstUncleanableOffset int64
	EndOffset              int64
	// MapFull: the dedupe buffer filled up and only a prefix of the dirty
	// section was cleaned; another pass continues from EndOffset.
	MapFull bool
	// Groups rewritten and swapped in; SegmentsBefore of them became
	// SegmentsAfter (= Groups). Single segments that nothing changed are
	// left in place.
	Groups, SegmentsBefore, SegmentsAfter int
	BytesRead, BytesWritten               int64
	RecordsRead, RecordsRemoved           int64
	BatchesRemoved                        int64
	// KeylessRemoved counts records without a key that were dropped.
	KeylessRemoved int64
	Duration       time.Duration
}

// cleanSeg is a segment as planned: its bounds at planning time.
type cleanSeg struct {
	s          *segment
	base, next int64 // next: the following segment's base (LEO for the active)
	size       int64
	indexN     int64
	lastIdxOff int64
	lastIdxPos int64
}

// cleanPlan is what a pass decided under the log lock.
type cleanPlan struct {
	cfg    *Config
	nowMs  int64
	gen    uint64
	status cleanStatus
	segs   []cleanSeg // every segment; the last is the active one
	// aborted holds every aborted-transaction entry of the log, sorted by
	// first offset.
	aborted     []abortedEntry
	lastRecords map[int64]lastProducerRecord
}

// cleanStatus is the cleaner's view of one log (Kafka LogToClean).
type cleanStatus struct {
	firstDirty       int64
	firstUncleanable int64
	cleanableEnd     int64 // base of the first segment that cannot be cleaned whole
	cleanBytes       int64
	cleanableBytes   int64
	// needNow: a dirty segment's first batch is older than
	// max.compaction.lag.ms (KIP-354).
	needNow bool
	// horizonDue: a kept tombstone or marker's delete horizon has passed.
	horizonDue bool
}

// ratio is cleanableBytes / (cleanBytes + cleanableBytes).
func (st cleanStatus) ratio() float64 {
	if total := st.cleanBytes + st.cleanableBytes; total > 0 {
		return float64(st.cleanableBytes) / float64(total)
	}
	return 0
}

// CleanableRatio returns the share of the log's bytes that a cleaning pass
// could compact now (Kafka LogToClean.cleanableRatio); the Cleaner picks
// the log with the highest ratio above min.cleanable.dirty.ratio. It is 0
// for a log that is not compacted.
func (l *Log) CleanableRatio() float64 {
	cfg := l.config()
	if !cfg.Compact {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	return l.cleanStatusLocked(cfg, l.now().UnixMilli()).ratio()
}

// cleanStatusLocked computes the dirty section. Caller holds mu
// exclusively (segment timestamps load lazily).
func (l *Log) cleanStatusLocked(cfg *Config, nowMs int64) cleanStatus {
	var st cleanStatus
	st.firstDirty = l.cleanOffset
	if st.firstDirty < l.logStart || st.firstDirty > l.leo {
		st.firstDirty = l.logStart // no or stale checkpoint (LogCleanerManager)
	}
	n := len(l.segments)
	next := func(i int) int64 {
		if i+1 < n {
			return l.segments[i+1].base
		}
		return l.leo
	}
	unc := min(l.lsoLocked(), l.active().base)
	if cfg.MinCompactionLagMs > 0 {
		for i := 0; i < n-1; i++ {
			s := l.segments[i]
			// An empty segment holds nothing young; its file time (what
			// largestTimestamp falls back on) must not hold the cleaner up.
			if next(i) <= st.firstDirty || s.size == 0 {
				continue
			}
			if s.largestTimestamp() > nowMs-cfg.MinCompactionLagMs {
				unc = min(unc, s.base)
				break
			}
		}
	}
	st.firstUncleanable = unc
	st.cleanableEnd = l.segments[0].base
	for i := 1; i < n && l.segments[i].base <= unc; i++ {
		st.cleanableEnd = l.segments[i].base
	}
	earliest := int64(math.MaxInt64)
	for i, s := range l.segments {
		if s.base < st.firstDirty {
			st.cleanBytes += s.size
		}
		if s.base < st.cleanableEnd && next(i) > st.firstDirty {
			st.cleanableBytes += s.size
		}
		if i < n-1 && next(i) > st.firstDirty && s.size > 0 {
			if !s.firstBatchTSKnown {
				s.firstBatchTS, s.firstBatchTSKnown = l.readFirstBatchTS(s), true
			}
			if s.firstBatchTS > 0 {
				earliest = min(earliest, s.firstBatchTS)
			}
		}
	}
	if earliest != math.MaxInt64 && earliest < nowMs-cfg.MaxCompactionLagMs && st.cleanableBytes > 0 {
		st.needNow = true
	}
	st.horizonDue = l.cleanHorizon != record.NoTimestamp && l.cleanHorizon <= nowMs && st.cleanableEnd > l.segments[0].base
	return st
}

// Clean runs one compaction pass over the log (Kafka Cleaner.clean): it
// maps the keys of the dirty section and rewrites the cleanable segments
// from the start of the log, as described at the top of this file. It
// ignores min.cleanable.dirty.ratio (the Cleaner applies it) and may be
// called at any time; passes on one log are serialized. A pass abandoned
// because the log changed under it returns ErrCleaningAborted.
func (l *Log) Clean(opts CleanOptions) (CleanResult, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	start := time.Now()
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	m := opts.offsetMap
	if m == nil {
		size := opts.DedupeBufferBytes
		if size <= 0 {
			size = DefaultDedupeBufferBytes
		}
		m = newOffsetMap(size)
	} else {
		m.reset()
	}
	p, err := l.planClean()
	if err != nil {
		return CleanResult{}, err
	}
	st := p.status
	res := CleanResult{FirstDirtyOffset: st.firstDirty, FirstUncleanableOffset: st.firstUncleanable, EndOffset: st.firstDirty}

	full, err := l.buildOffsetMap(ctx, p, m)
	if err != nil {
		return res, l.cleanError(p, err)
	}
	res.MapFull = full
	endOffset := max(st.cleanableEnd, st.firstDirty)
	if full {
		endOffset = m.latestOffset + 1
	}
	// Records below the dirty section survived earlier passes: for them
	// the map is authoritative as well (it holds every later version).
	latest := max(m.latestOffset, st.firstDirty-1)

	var rewrite []cleanSeg
	for i, cs := range p.segs {
		if i == len(p.segs)-1 || cs.next > st.cleanableEnd || cs.base >= endOffset {
			break
		}
		rewrite = append(rewrite, cs)
	}
	f := &batchFilter{m: m, latest: latest, nowMs: p.nowMs, retentionMs: p.cfg.DeleteRetentionMs,
		lastRecords: p.lastRecords, stats: &res, minHorizon: record.NoTimestamp}
	if len(rewrite) > 0 {
		// One transaction tracker for the whole pass, as Kafka shares its
		// CleanedTransactionMetadata across groups: a marker in one group
		// must know whether its transaction's batches (possibly kept
		// empty) were seen in an earlier group.
		f.txns = newCleanedTxns(p.abortedIn(rewrite[0].base, rewrite[len(rewrite)-1].next), func(e abortedEntry) error {
			out := f.out
			if err := writeAt(out.txnIndex, e.encode(), out.txnEntries*txnEntrySize); err != nil {
				return fmt.Errorf("log: write cleaned transaction index: %w", err)
			}
			out.txnEntries++
			return nil
		})
	}
	for _, g := range groupSegments(rewrite, p.cfg.SegmentBytes) {
		if err := l.cleanGroup(ctx, p, g, f, &res); err != nil {
			return res, l.cleanError(p, err)
		}
	}

	l.mu.Lock()
	if l.truncGen == p.gen && !l.closed {
		l.cleanOffset = endOffset // >= firstDirty, which replaced any stale value
		l.cleanHorizon = f.minHorizon
	}
	res.EndOffset = endOffset
	l.mu.Unlock()
	if err := l.writeCleanerCheckpoint(); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	if res.Groups > 0 {
		l.logger.Info("log: cleaned", "dir", l.dir, "firstDirtyOffset", res.FirstDirtyOffset, "endOffset", res.EndOffset,
			"segments", fmt.Sprintf("%d->%d", res.SegmentsBefore, res.SegmentsAfter),
			"bytes", fmt.Sprintf("%d->%d", res.BytesRead, res.BytesWritten), "recordsRemoved", res.RecordsRemoved,
			"mapFull", res.MapFull, "duration", res.Duration)
	}
	return res, nil
}

// planClean snapshots what a pass needs under the log lock.
func (l *Log) planClean() (*cleanPlan, error) {
	cfg := l.config()
	if !cfg.Compact {
		return nil, ErrNotCompacted
	}
	nowMs := l.now().UnixMilli()
	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return nil, err
	}
	p := &cleanPlan{cfg: cfg, nowMs: nowMs, gen: l.truncGen, status: l.cleanStatusLocked(cfg, nowMs)}
	txnSegs := make([]cleanSeg, 0)
	var txnCounts []int64
	for i, s := range l.segments {
		cs := cleanSeg{s: s, base: s.base, size: s.size, indexN: s.indexEntries,
			lastIdxOff: s.lastIndexOffset, lastIdxPos: s.lastIndexPos, next: l.leo}
		if i+1 < len(l.segments) {
			cs.next = l.segments[i+1].base
		}
		p.segs = append(p.segs, cs)
		if s.txnEntries > 0 {
			txnSegs = append(txnSegs, cs)
			txnCounts = append(txnCounts, s.txnEntries)
		}
	}
	p.lastRecords = make(map[int64]lastProducerRecord, len(l.producers.producers))
	for pid, e := range l.producers.producers {
		lr := lastProducerRecord{epoch: e.Epoch}
		if n := len(e.Batches); n > 0 {
			lr.hasData, lr.lastDataOffset = true, e.Batches[n-1].LastOffset
		}
		p.lastRecords[pid] = lr
	}
	l.mu.Unlock()

	// Transaction indexes: entries are appended only after their bytes, so
	// the counts snapshotted above are safe to read without the lock.
	for i, cs := range txnSegs {
		entries, err := cs.s.readAborted(txnCounts[i])
		if err != nil {
			return nil, l.cleanError(p, fmt.Errorf("log: transaction index of segment %d: %w", cs.base, err))
		}
		p.aborted = append(p.aborted, entries...)
	}
	slices.SortStableFunc(p.aborted, func(a, b abortedEntry) int { return compareInt64(a.FirstOffset, b.FirstOffset) })
	return p, nil
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// abortedIn returns the aborted transactions overlapping [from, to).
func (p *cleanPlan) abortedIn(from, to int64) []abortedEntry {
	var out []abortedEntry
	for _, e := range p.aborted {
		if e.LastOffset >= from && e.FirstOffset < to {
			out = append(out, e)
		}
	}
	return out
}

// cleanError turns an error met while the log changed under the pass
// into ErrCleaningAborted.
func (l *Log) cleanError(p *cleanPlan, err error) error {
	if err == nil || errors.Is(err, ErrCleaningAborted) {
		return err
	}
	if p != nil && !l.planValid(p) {
		return fmt.Errorf("%w: %v", ErrCleaningAborted, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrCleaningAborted, err)
	}
	return err
}

// planValid reports whether the log is still what p was planned on: open,
// not truncated since, and holding every planned inactive segment.
func (l *Log) planValid(p *cleanPlan) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed || l.failed != nil || l.truncGen != p.gen {
		return false
	}
	return true
}

var errMapFull = errors.New("log: offset map full")

// buildOffsetMap maps every key in the dirty section [firstDirty,
// cleanableEnd) to its latest offset (Cleaner.buildOffsetMap). Records of
// aborted transactions and control records are not mapped. It stops at a
// batch boundary when the map cannot take another batch, and reports
// full; the map then covers offsets up to m.latestOffset.
func (l *Log) buildOffsetMap(ctx context.Context, p *cleanPlan, m *offsetMap) (bool, error) {
	from, to := p.status.firstDirty, p.status.cleanableEnd
	if to <= from {
		return false, nil
	}
	txns := newCleanedTxns(p.abortedIn(from, to), nil)
	progress := false
	for _, cs := range p.segs[:len(p.segs)-1] {
		if cs.next <= from {
			continue
		}
		if cs.next > to {
			break
		}
		err := scanCleanSegment(ctx, cs, from, func(b record.Batch) error {
			if b.IsControl() {
				_, err := txns.onControl(b)
				return err
			}
			if !txns.onData(b) {
				if m.size()+int(b.NumRecords()) > m.capacity() {
					if !progress {
						return fmt.Errorf("log: the dedupe buffer (%d keys) cannot hold the %d records of the batch at offset %d",
							m.capacity(), b.NumRecords(), b.BaseOffset())
					}
					return errMapFull
				}
				err := b.Records(func(r record.Record) error {
					if off := r.Offset(b); r.Key != nil && off >= from {
						m.put(r.Key, off)
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("log: segment %d, batch at offset %d: %w", cs.base, b.BaseOffset(), err)
				}
			}
			m.latestOffset = max(m.latestOffset, b.LastOffset())
			progress = true
			return nil
		})
		if err == errMapFull {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// scanCleanSegment calls fn with every whole batch of the planned segment
// cs whose last offset is >= from, after checking its CRC: the cleaner
// never rewrites, and so never re-checksums, damaged bytes.
func scanCleanSegment(ctx context.Context, cs cleanSeg, from int64, fn func(record.Batch) error) error {
	pos, err := cs.s.lookupPosition(from, cs.indexN, cs.size, cs.lastIdxOff, cs.lastIdxPos)
	if err != nil {
		return err
	}
	return cs.s.log.withFile(func(f vfs.File) error {
		sc := newScanner(f, pos, cs.size)
		for sc.next() {
			if sc.hdr.LastOffset() < from {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			b, err := sc.full()
			if err != nil {
				return err
			}
			if err := b.VerifyCRC(); err != nil {
				return fmt.Errorf("log: segment %d: %w", cs.base, err)
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		if sc.stop != scanEOF {
			return record.CorruptErrorf("segment %d: %v", cs.base, sc.stopErr)
		}
		return nil
	})
}

// groupSegments splits segs into runs whose total size fits maxBytes and
// whose offsets fit the int32 relative offsets of one segment's indexes
// (Cleaner.groupSegmentsBySize; an empty segment never limits a group).
func groupSegments(segs []cleanSeg, maxBytes int64) [][]cleanSeg {
	var groups [][]cleanSeg
	for i := 0; i < len(segs); {
		g := []cleanSeg{segs[i]}
		size := segs[i].size
		for i++; i < len(segs); i++ {
			s := segs[i]
			if size+s.size > maxBytes || size+s.size > math.MaxInt32 {
				break
			}
			if s.size > 0 && s.next-1-g[0].base > math.MaxInt32 {
				break
			}
			g = append(g, s)
			size += s.size
		}
		groups = append(groups, g)
	}
	return groups
}

// cleanGroup rewrites one group of segments into a single cleaned segment
// and swaps it in (Cleaner.cleanSegments).
func (l *Log) cleanGroup(ctx context.Context, p *cleanPlan, g []cleanSeg, f *batchFilter, res *CleanResult) error {
	base := g[0].base
	out, err := l.createCleanedSegment(base)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			discardSegment(out)
		}
	}()
	w := &segmentWriter{s: out, ix: &indexer{s: out, interval: int64(p.cfg.IndexIntervalBytes)}}
	f.out = out
	changed := len(g) > 1
	var bytesRead int64
	for _, cs := range g {
		err := scanCleanSegment(ctx, cs, math.MinInt64, func(b record.Batch) error {
			bytesRead += int64(len(b))
			kept, ch, err := f.filter(b)
			if err != nil {
				return err
			}
			changed = changed || ch
			if kept != nil {
				return w.add(kept)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	res.BytesRead += bytesRead
	if !changed {
		return nil // a single segment that stays as it is
	}
	if err := w.finish(); err != nil {
		return err
	}
	if err := l.syncCleaned(out); err != nil {
		return err
	}
	// The cleaned segment inherits the last replaced segment's modification
	// time (Kafka cleaned.setLastModified), which time retention falls back
	// on for segments without timestamps.
	if fi, err := l.fs.Stat(g[len(g)-1].s.log.currentPath()); err == nil {
		_ = l.fs.Chtimes(out.log.currentPath(), fi.ModTime(), fi.ModTime())
	}
	if err := l.cleanHook("cleaned"); err != nil {
		done = true // simulated crash: leave the files as they are
		out.closeFiles()
		return err
	}
	done = true // from here on swapCleaned owns out's files
	if err := l.swapCleaned(p, g, out); err != nil {
		return err
	}
	res.Groups++
	res.SegmentsBefore += len(g)
	res.SegmentsAfter++
	res.BytesWritten += out.size
	return nil
}

// segmentWriter appends batches to a new segment in large writes,
// indexing them as the append path does.
type segmentWriter struct {
	s   *segment
	ix  *indexer
	buf []byte
}

const segmentWriterFlush = 1 << 20

func (w *segmentWriter) add(b record.Batch) error {
	pos := w.s.size + int64(len(w.buf))
	if pos+int64(len(b)) > math.MaxInt32 {
		return fmt.Errorf("log: cleaned segment %d would exceed the int32 position range", w.s.base)
	}
	w.ix.add(b, pos, int64(len(b)))
	w.buf = append(w.buf, b...)
	if len(w.buf) >= segmentWriterFlush {
		return w.flush()
	}
	return nil
}

func (w *segmentWriter) flush() error {
	if len(w.buf) > 0 {
		if err := writeAt(w.s.log, w.buf, w.s.size); err != nil {
			return fmt.Errorf("log: write cleaned segment %d: %w", w.s.base, err)
		}
		w.s.size += int64(len(w.buf))
		w.buf = w.buf[:0]
	}
	return w.ix.flush()
}

// finish writes what is buffered and the final time-index entry.
func (w *segmentWriter) finish() error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.s.seal()
}

// createCleanedSegment starts <base>.log.cleaned with index handles on
// <base>.{index,timeindex,txnindex}.cleaned, removing stale ones.
func (l *Log) createCleanedSegment(base int64) (*segment, error) {
	path := func(ext string) string { return filepath.Join(l.dir, fileName(base, ext)+cleanedSuffix) }
	for _, ext := range segmentExts {
		for _, p := range []string{path(ext), filepath.Join(l.dir, fileName(base, ext)+swapSuffix)} {
			if err := l.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("log: %w", err)
			}
		}
	}
	f, err := l.fs.OpenFile(path(logExt), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log: create cleaned segment: %w", err)
	}
	s := &segment{
		base:            base,
		log:             l.files.adopt(path(logExt), f),
		index:           l.files.handle(path(indexExt)),
		timeIndex:       l.files.handle(path(timeIndexExt)),
		txnIndex:        l.files.handle(path(txnIndexExt)),
		lastIndexOffset: -1,
		lastTimeIndexTS: -1,
		maxTS:           record.NoTimestamp,
		maxTSOffset:     -1,
		maxTSKnown:      true,
		firstBatchTS:    record.NoTimestamp,
		// The indexer sets firstBatchTS from the batch at position 0.
		firstBatchTSKnown: true,
	}
	return s, nil
}

// segmentExts are the per-segment file extensions.
var segmentExts = []string{logExt, indexExt, timeIndexExt, txnIndexExt}

// discardSegment closes and removes the files of a segment that never
// went into service.
func discardSegment(s *segment) {
	var paths []string
	for _, h := range s.handles() {
		paths = append(paths, h.currentPath())
	}
	s.closeFiles()
	removeFiles(s.log.cache.fs, paths)
}

// syncCleaned makes the cleaned segment's files durable before it can
// replace anything.
func (l *Log) syncCleaned(s *segment) error {
	files := []*fileHandle{s.log}
	if s.indexEntries > 0 {
		files = append(files, s.index)
	}
	if s.timeEntries > 0 {
		files = append(files, s.timeIndex)
	}
	if s.txnEntries > 0 {
		files = append(files, s.txnIndex)
	}
	for _, h := range files {
		if err := h.withFile(func(f vfs.File) error { return l.syncFile(f) }); err != nil {
			return fmt.Errorf("log: fsync %s: %w", h.currentPath(), err)
		}
	}
	s.indexUnsynced, s.timeUnsynced = false, false
	return nil
}

// errSimulatedCrash is returned by test hooks to stop a swap half-way.
var errSimulatedCrash = errors.New("log: simulated crash")

func (l *Log) cleanHook(stage string) error {
	if l.testCleanHook == nil {
		return nil
	}
	return l.testCleanHook(stage)
}

// renameSuffix renames h from its current path with suffix from removed
// (if any) and to added (if any).
func renameSuffix(h *fileHandle, from, to string) error {
	p := h.currentPath()
	return h.rename(strings.TrimSuffix(p, from) + to)
}

// swapCleaned replaces the group's segments with the cleaned segment n
// (LocalLog.replaceSegments), crash-safely:
//
//  1. n's files are renamed .cleaned → .swap, the .log last, and the
//     directory is fsynced: from now on recovery rolls the swap forward
//     (removing segments in its offset range) instead of discarding it;
//  2. the old segments' files are renamed to .deleted and the directory is
//     fsynced, so no old file can outlive the swap;
//  3. n's files take their final names; the segment list is updated.
//
// It holds truncMu exclusively, so no reader is inside the old segments
// and no truncation or retention runs; it first checks that the plan is
// still valid (no truncation, every segment of the group still in place).
func (l *Log) swapCleaned(p *cleanPlan, g []cleanSeg, n *segment) error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	l.mu.RLock()
	valid := !l.closed && l.failed == nil && l.truncGen == p.gen && l.groupIndexLocked(g) >= 0
	l.mu.RUnlock()
	if !valid {
		discardSegment(n)
		return ErrCleaningAborted
	}
	for _, h := range []*fileHandle{n.index, n.timeIndex, n.txnIndex, n.log} {
		if err := renameSuffix(h, cleanedSuffix, swapSuffix); err != nil {
			discardSegment(n) // nothing old was touched yet
			return err
		}
	}
	deleted, err := l.replaceFiles(g, n)
	if err != nil {
		// The .swap files are in place: recovery finishes the swap, but
		// the segment list no longer matches the files, so the log stops
		// taking writes until it is reopened (a simulated crash just
		// stops here).
		n.closeFiles()
		if errors.Is(err, errSimulatedCrash) {
			return err
		}
		return l.swapFailed(err)
	}

	l.mu.Lock()
	i := l.groupIndexLocked(g)
	segs := make([]*segment, 0, len(l.segments)-len(g)+1)
	segs = append(segs, l.segments[:i]...)
	segs = append(segs, n)
	segs = append(segs, l.segments[i+len(g):]...)
	l.segments = segs
	// The high watermark is at or beyond the group's end; if its position
	// was recorded in a replaced segment, it is now the end of n.
	if l.hwSegBase >= g[0].base && l.hwSegBase <= g[len(g)-1].base {
		l.hwSegBase, l.hwPos = n.base, n.size
	}
	l.dirSync = true // the final renames become durable with the next round
	l.scheduleSyncLocked()
	delay := l.config().FileDeleteDelayMs
	if delay > 0 {
		l.pendingDeletes = append(l.pendingDeletes, pendingDelete{paths: deleted, at: l.now().Add(time.Duration(delay) * time.Millisecond)})
	}
	l.checkInvariants()
	l.mu.Unlock()
	for _, cs := range g {
		cs.s.closeFiles()
	}
	if delay <= 0 {
		removeFiles(l.fs, deleted)
	}
	return nil
}

// replaceFiles runs steps 1 (from the directory fsync) to 3 of
// swapCleaned and returns the renamed old files.
func (l *Log) replaceFiles(g []cleanSeg, n *segment) ([]string, error) {
	if err := syncDir(l.fs, l.dir); err != nil {
		return nil, fmt.Errorf("log: fsync dir %s: %w", l.dir, err)
	}
	if err := l.cleanHook("swap"); err != nil {
		return nil, err
	}
	var deleted []string
	for _, cs := range g {
		for _, h := range cs.s.handles() {
			p := h.currentPath()
			if _, err := l.fs.Stat(p); err != nil {
				continue // index files never created
			}
			if err := h.rename(p + deletedSuffix); err != nil {
				return nil, err
			}
			deleted = append(deleted, p+deletedSuffix)
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return nil, fmt.Errorf("log: fsync dir %s: %w", l.dir, err)
	}
	if err := l.cleanHook("deleted"); err != nil {
		return nil, err
	}
	for _, h := range n.handles() {
		if err := renameSuffix(h, swapSuffix, ""); err != nil {
			return nil, err
		}
	}
	return deleted, l.cleanHook("renamed")
}

// swapFailed records an I/O error in the middle of a swap as a storage
// failure of the log.
func (l *Log) swapFailed(err error) error {
	l.mu.Lock()
	l.failLocked(err)
	l.mu.Unlock()
	return err
}

// groupIndexLocked returns the position of g's segments in l.segments, or
// -1 unless they are all there, contiguous and inactive.
func (l *Log) groupIndexLocked(g []cleanSeg) int {
	i := slices.Index(l.segments, g[0].s)
	if i < 0 || i+len(g) > len(l.segments)-1 {
		return -1
	}
	for j, cs := range g {
		if l.segments[i+j] != cs.s {
			return -1
		}
	}
	return i
}

// writeCleanerCheckpoint persists the cleaner checkpoint (the end of the
// clean section) when it changed; -1 removes the file. Must not be called
// with mu held.
func (l *Log) writeCleanerCheckpoint() error {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	if l.deleted {
		return l.errClosed()
	}
	l.mu.RLock()
	off := l.cleanOffset
	l.mu.RUnlock()
	if off == l.cleanCkptWritten {
		return nil
	}
	path := filepath.Join(l.dir, cleanerCheckpoint)
	if off < 0 {
		if err := l.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("log: %w", err)
		}
	} else if err := writeFileAtomic(l.fs, path, fmt.Appendf(nil, "0\ncleaner-offset %d\n", off)); err != nil {
		return fmt.Errorf("log: write %s: %w", cleanerCheckpoint, err)
	}
	l.cleanCkptWritten = off
	return nil
}

// readCleanerCheckpoint returns the persisted cleaner checkpoint, or -1.
func readCleanerCheckpoint(fs vfs.FS, dir string) int64 {
	data, err := vfs.ReadFile(fs, filepath.Join(dir, cleanerCheckpoint))
	if err != nil {
		return -1
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != "0" {
		return -1
	}
	f := strings.Fields(lines[1])
	if len(f) != 2 || f[0] != "cleaner-offset" {
		return -1
	}
	v, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || v < 0 {
		return -1
	}
	return v
}
