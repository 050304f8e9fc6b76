package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// diskSegment is what the directory listing says about one segment.
type diskSegment struct {
	base                       int64
	size                       int64
	index, timeIndex, txnIndex int64 // sizes, -1 when missing
}

// load reads the directory and recovers the log (LogLoader). See
// docs/storage.md "Recovery".
func (l *Log) load(clean bool) error {
	cfg := l.config()
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if swapped, err := l.completeSwaps(entries); err != nil {
		return err
	} else if swapped {
		if entries, err = l.fs.ReadDir(l.dir); err != nil {
			return fmt.Errorf("log: %w", err)
		}
	}
	segs := map[int64]*diskSegment{}
	get := func(base int64) *diskSegment {
		d := segs[base]
		if d == nil {
			d = &diskSegment{base: base, size: -1, index: -1, timeIndex: -1, txnIndex: -1}
			segs[base] = d
		}
		return d
	}
	var snapshots []int64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		// Leftovers of interrupted deletes, compactions and atomic writes
		// (Kafka LogLoader.removeTempFilesAndCollectSwapFiles). Swaps that
		// had begun were completed above; what is left is an unfinished
		// cleaning pass (.cleaned) or partial renames of one (.swap
		// index files without their .log.swap).
		if strings.HasSuffix(name, deletedSuffix) || strings.HasSuffix(name, cleanedSuffix) ||
			strings.HasSuffix(name, swapSuffix) || strings.HasSuffix(name, tmpSuffix) {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("log: remove leftover %s: %w", name, err)
			}
			continue
		}
		size := int64(-1)
		if fi, err := e.Info(); err == nil {
			size = fi.Size()
		}
		if off, ok := parseOffsetName(name, logExt); ok {
			get(off).size = size
		} else if off, ok := parseOffsetName(name, indexExt); ok {
			get(off).index = size
		} else if off, ok := parseOffsetName(name, timeIndexExt); ok {
			get(off).timeIndex = size
		} else if off, ok := parseOffsetName(name, txnIndexExt); ok {
			get(off).txnIndex = size
		} else if off, ok := parseOffsetName(name, snapshotExt); ok {
			snapshots = append(snapshots, off)
		}
	}
	var bases []int64
	for base, d := range segs {
		if d.size < 0 { // index files without a .log: orphans
			for _, ext := range []string{indexExt, timeIndexExt, txnIndexExt} {
				_ = l.fs.Remove(filepath.Join(l.dir, fileName(base, ext)))
			}
			continue
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)
	slices.Sort(snapshots)

	ckpt, ckptErr := l.readOffsetsCheckpoint()
	haveCkpt := ckptErr == nil
	if ckptErr != nil && !errors.Is(ckptErr, os.ErrNotExist) {
		l.logger.Warn("log: ignoring unreadable offsets checkpoint", "dir", l.dir, "err", ckptErr)
	}

	if len(bases) == 0 {
		base := int64(0)
		if haveCkpt {
			base = ckpt.LogStartOffset
		}
		s, err := createSegment(l.files, l.dir, base)
		if err != nil {
			return err
		}
		l.segments = []*segment{s}
		l.leo, l.logStart, l.hw, l.hwSegBase, l.recoveryPoint = base, base, base, base, base
		l.dirSync = true
		// Stale snapshots or epoch entries of a removed incarnation.
		for _, off := range snapshots {
			_ = l.fs.Remove(filepath.Join(l.dir, fileName(off, snapshotExt)))
		}
		if _, ok, _ := readEpochCheckpoint(l.fs, filepath.Join(l.dir, epochCheckpointName)); ok {
			_ = l.fs.Remove(filepath.Join(l.dir, epochCheckpointName))
		}
		return nil
	}

	interval := int64(cfg.IndexIntervalBytes)
	needIndex := map[*segment]bool{}
	needTxn := map[*segment]bool{}
	for i, base := range bases {
		d := segs[base]
		s := newSegment(l.files, l.dir, base)
		s.size = d.size
		last := i == len(bases)-1
		switch {
		case d.index >= 0 && d.index%offsetEntrySize == 0:
			s.indexEntries = d.index / offsetEntrySize
		case d.index < 0 && s.size <= interval:
		default:
			needIndex[s] = true
		}
		switch {
		case d.timeIndex >= 0 && d.timeIndex%timeEntrySize == 0:
			s.timeEntries = d.timeIndex / timeEntrySize
			if !last && s.size > 0 && s.timeEntries == 0 {
				needIndex[s] = true // a sealed non-empty segment always has its final entry
			}
		case d.timeIndex < 0 && (last || s.size == 0):
		default:
			needIndex[s] = true
		}
		switch {
		case d.txnIndex < 0:
		case d.txnIndex%txnEntrySize == 0:
			s.txnEntries = d.txnIndex / txnEntrySize
		default:
			needTxn[s] = true
		}
		l.segments = append(l.segments, s)
	}

	// Unclean shutdown: every segment at or above the recovery point may
	// hold unsynced bytes; validate it batch by batch and cut it at the
	// first torn or corrupt batch (LogLoader.recoverLog). Anything after a
	// cut segment is gone too.
	recoveryPoint := int64(0)
	if haveCkpt {
		recoveryPoint = ckpt.RecoveryPoint
	}
	var recovered []*segment
	ends := map[*segment]int64{} // end offsets the validation found
	nextOffset := int64(-1)      // end offset of the active segment when known
	if !clean {
		for i := 0; i < len(l.segments); i++ {
			s := l.segments[i]
			if s.base < recoveryPoint && i != len(l.segments)-1 {
				continue
			}
			next, cut, err := l.validateSegment(s)
			if err != nil {
				return err
			}
			ends[s] = next
			recovered = append(recovered, s)
			needIndex[s], needTxn[s] = true, true
			if cut && i < len(l.segments)-1 {
				for _, gone := range l.segments[i+1:] {
					l.logger.Warn("log: removing segment after corruption point", "dir", l.dir, "segment", gone.base)
					if err := removeSegmentFiles(gone); err != nil {
						return err
					}
				}
				l.segments = l.segments[:i+1]
			}
			if i == len(l.segments)-1 {
				nextOffset = next
			}
		}
	} else if a := l.active(); !needIndex[a] && !l.indexesSane(a) {
		l.logger.Warn("log: rebuilding inconsistent indexes of the active segment", "dir", l.dir, "segment", a.base)
		needIndex[a] = true
	}

	for _, s := range l.segments {
		if needIndex[s] {
			if !clean && !slices.Contains(recovered, s) {
				l.logger.Info("log: rebuilding missing or invalid index", "dir", l.dir, "segment", s.base)
			}
			if err := s.rebuildIndexes(interval); err != nil {
				return err
			}
		}
	}

	if err := l.checkSegmentContinuity(ends); err != nil {
		return err
	}

	// Log end offset: the end of the active segment's last batch.
	a := l.active()
	if nextOffset < 0 {
		next, err := l.scanEnd(a)
		if err != nil {
			return err
		}
		nextOffset = next
	}
	l.leo = max(nextOffset, a.base)
	a.bytesSinceIndex = a.size - max(a.lastIndexPos, 0)
	if a.lastIndexOffset < 0 && a.indexEntries > 0 {
		if off, pos, err := a.offsetEntry(a.indexEntries - 1); err == nil {
			a.lastIndexOffset, a.lastIndexPos = off, pos
			a.bytesSinceIndex = a.size - pos
		}
	}
	a.loadMaxTimestamp()

	l.logStart = l.segments[0].base
	if haveCkpt && ckpt.LogStartOffset > l.logStart {
		l.logStart = ckpt.LogStartOffset
	}
	if l.logStart > l.leo {
		l.logger.Warn("log: log start offset beyond recovered end; clamping", "dir", l.dir,
			"logStartOffset", l.logStart, "logEndOffset", l.leo)
		l.logStart = l.leo
	}

	if err := l.loadEpochCache(); err != nil {
		return err
	}
	if err := l.loadProducerState(snapshots, needTxn); err != nil {
		return err
	}

	// Everything recovered was read back from disk, but after a process
	// crash it may still sit only in the page cache: make it durable before
	// calling it the high watermark.
	if !clean {
		var files []*fileHandle
		for _, s := range recovered {
			files = append(files, s.handles()...)
		}
		for s := range needIndex {
			files = append(files, s.index, s.timeIndex)
		}
		if err := l.syncFiles(files, nil, true); err != nil {
			return err
		}
	}
	l.hw, l.hwSegBase, l.hwPos = l.leo, a.base, a.size
	l.producers.onHighWatermarkUpdated(l.hw)
	oldRP := recoveryPoint
	l.recoveryPoint = a.base
	if !haveCkpt || l.recoveryPoint != oldRP || ckpt.LogStartOffset != l.logStart {
		if err := l.writeOffsetsCheckpoint(); err != nil {
			return err
		}
	}
	l.pruneSnapshotsLocked()
	return nil
}

func (l *Log) readOffsetsCheckpoint() (offsetsCheckpointData, error) {
	data, err := vfs.ReadFile(l.fs, filepath.Join(l.dir, offsetsCheckpoint))
	if err != nil {
		return offsetsCheckpointData{}, err
	}
	return decodeOffsetsCheckpoint(data)
}

// removeSegmentFiles deletes a segment's files at once (recovery only).
func removeSegmentFiles(s *segment) error {
	paths := make([]string, 0, 4)
	for _, h := range s.handles() {
		paths = append(paths, h.currentPath())
	}
	s.closeFiles()
	for _, p := range paths {
		if err := s.log.cache.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// validateSegment checks every batch of s (framing, CRC, offsets strictly
// increasing and within the segment's int32 relative range) and truncates
// the file at the first bad one. It returns the offset after the last
// valid batch (s.base when empty) and whether it cut.
func (l *Log) validateSegment(s *segment) (next int64, cut bool, err error) {
	next = s.base
	validEnd := int64(0)
	var why string
	var damaged error
	err = s.log.withFile(func(f vfs.File) error {
		sc := newScanner(f, 0, s.size)
		for sc.next() {
			base, lod := sc.hdr.BaseOffset(), sc.hdr.LastOffsetDelta()
			switch {
			case base < next:
				why = fmt.Sprintf("batch at position %d has base offset %d, expected >= %d", sc.batchPos, base, next)
			case lod < 0 || base+int64(lod)-s.base > math.MaxInt32:
				why = fmt.Sprintf("batch at position %d has invalid lastOffsetDelta %d", sc.batchPos, lod)
			}
			if why != "" {
				return nil
			}
			if err := sc.verifyCRC(); err != nil {
				if !errors.Is(err, record.ErrCorrupt) {
					return err
				}
				why = fmt.Sprintf("batch at position %d: %v", sc.batchPos, err)
				// A torn write ends the file; an intact batch after a
				// failed CRC means the bytes were damaged in place (bit
				// rot, a bad disk), not torn by a crash. Recovery still
				// cuts there, as Kafka's LogLoader does, but says so
				// loudly and keeps a copy of what it cuts.
				if pos, ok := intactBatchAfter(f, sc.batchPos+sc.batchLen, s.size, next); ok {
					damaged = corruptf(s.log.currentPath(), "batch at position %d (offsets %d-%d) fails its CRC (%v) "+
						"but an intact batch follows at position %d: the segment was damaged in place, not torn by a crash",
						sc.batchPos, base, base+int64(lod), err, pos)
				}
				return nil
			}
			next = base + int64(lod) + 1
			validEnd = sc.batchPos + sc.batchLen
		}
		if sc.stop != scanEOF {
			why = sc.stopErr.Error()
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("log: recover segment %d: %w", s.base, err)
	}
	if damaged != nil {
		kept := s.log.currentPath() + "." + strconv.FormatInt(validEnd, 10) + damagedSuffix
		if err := copyTail(s.log.currentPath(), kept, validEnd); err != nil {
			kept = "(not kept: " + err.Error() + ")"
		}
		l.logger.Error("log: CRC failure inside a segment; cutting the segment there drops intact batches after it",
			"dir", l.dir, "segment", s.base, "err", damaged, "droppedFrom", next, "droppedBytes", s.size-validEnd, "copyOfDroppedBytes", kept)
	}
	if validEnd < s.size {
		l.logger.Warn("log: truncating torn or corrupt segment tail", "dir", l.dir, "segment", s.base,
			"validBytes", validEnd, "droppedBytes", s.size-validEnd, "reason", why)
		if err := truncateFile(s.log, validEnd); err != nil {
			return 0, false, fmt.Errorf("log: truncate segment %d: %w", s.base, err)
		}
		s.size = validEnd
		cut = true
	}
	return next, cut, nil
}

// scanEnd finds the end offset of s by scanning batch headers from its
// last index entry. A clean shutdown leaves no torn tail; if one is found
// anyway (the caller was wrong about the shutdown), it is cut.
func (l *Log) scanEnd(s *segment) (int64, error) {
	start := int64(0)
	if s.indexEntries > 0 {
		if _, pos, err := s.offsetEntry(s.indexEntries - 1); err == nil && pos <= s.size {
			start = pos
		}
	}
	next := s.base
	end := start
	var stop scanStop
	var why error
	err := s.log.withFile(func(f vfs.File) error {
		sc := newScanner(f, start, s.size)
		for sc.next() {
			next = sc.hdr.NextOffset()
			end = sc.batchPos + sc.batchLen
		}
		stop, why = sc.stop, sc.stopErr
		return nil
	})
	if err != nil {
		return 0, err
	}
	if stop != scanEOF {
		l.logger.Warn("log: cutting unexpected torn tail after a clean shutdown", "dir", l.dir, "segment", s.base, "position", end, "reason", why)
		if err := truncateFile(s.log, end); err != nil {
			return 0, err
		}
		s.size = end
		if err := s.rebuildIndexes(int64(l.config().IndexIntervalBytes)); err != nil {
			return 0, err
		}
	}
	return next, nil
}

// indexesSane cheaply checks the active segment's indexes after a clean
// shutdown (Kafka's sanityCheck): entries increase, positions lie inside
// the file, the time index is monotonic.
func (l *Log) indexesSane(s *segment) bool {
	if s.indexEntries > 0 {
		buf := make([]byte, s.indexEntries*offsetEntrySize)
		if readAt(s.index, buf, 0) != nil {
			return false
		}
		prevRel, prevPos := int64(-1), int64(-1)
		for i := int64(0); i < s.indexEntries; i++ {
			rel := int64(int32(be32(buf[i*8:])))
			pos := int64(int32(be32(buf[i*8+4:])))
			if rel <= prevRel || pos <= prevPos || pos >= s.size || rel < 0 {
				return false
			}
			prevRel, prevPos = rel, pos
		}
		s.lastIndexOffset, s.lastIndexPos = s.base+prevRel, prevPos
	}
	if s.timeEntries > 0 {
		buf := make([]byte, s.timeEntries*timeEntrySize)
		if readAt(s.timeIndex, buf, 0) != nil {
			return false
		}
		prevTS, prevRel := int64(math.MinInt64), int64(-1)
		for i := int64(0); i < s.timeEntries; i++ {
			ts := int64(be64(buf[i*12:]))
			rel := int64(int32(be32(buf[i*12+8:])))
			if ts <= prevTS || rel < prevRel || rel < 0 {
				return false
			}
			prevTS, prevRel = ts, rel
		}
	}
	return true
}

// loadEpochCache reads leader-epoch-checkpoint, drops entries beyond the
// recovered end and before the log start, and rebuilds the cache from the
// batches' partition leader epochs when the file is missing or malformed.
func (l *Log) loadEpochCache() error {
	path := filepath.Join(l.dir, epochCheckpointName)
	entries, ok, err := readEpochCheckpoint(l.fs, path)
	rebuild := false
	if err != nil {
		l.logger.Warn("log: rebuilding unreadable leader-epoch-checkpoint from the log", "dir", l.dir, "err", err)
		rebuild = true
	} else if !ok && l.leo > l.segments[0].base {
		rebuild = true
	}
	changed := !ok
	if rebuild {
		changed = true
		entries = nil
		err := l.forEachBatchFrom(l.segments[0].base, func(_ *segment, h record.Batch, _ func() (record.Batch, error)) error {
			l.epochs.assign(h.PartitionLeaderEpoch(), h.BaseOffset())
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, e := range entries {
		if c, removed := l.epochs.assign(e.Epoch, e.StartOffset); c && len(removed) > 0 {
			changed = true
		}
	}
	if l.epochs.truncateFromEnd(l.leo) {
		changed = true
	}
	if l.epochs.truncateFromStart(l.logStart) {
		changed = true
	}
	if changed && (len(l.epochs.entries) > 0 || ok) {
		return l.persistEpochsLocked()
	}
	return nil
}

// loadProducerState restores producer state from the newest usable
// snapshot and replays batch headers after it (ProducerStateManager
// truncateAndReload + UnifiedLog.rebuildProducerState). Segments in
// needTxn get their transaction index rebuilt by the replay, so the replay
// must start at or before the first of them.
func (l *Log) loadProducerState(snapshots []int64, needTxn map[*segment]bool) error {
	replayFloor := l.leo
	for s := range needTxn {
		replayFloor = min(replayFloor, s.base)
	}
	for _, s := range l.segments {
		if needTxn[s] {
			if err := truncateFile(s.txnIndex, 0); err != nil {
				return err
			}
			s.txnEntries = 0
		}
	}
	// Snapshots above the end offset describe data that is gone.
	var kept []int64
	for _, off := range snapshots {
		if off > l.leo {
			_ = l.fs.Remove(filepath.Join(l.dir, fileName(off, snapshotExt)))
			continue
		}
		kept = append(kept, off)
	}
	// Newest readable snapshot at or below the replay floor; without one,
	// replay the whole log.
	from := l.segments[0].base
	l.producers = newProducerState()
	for i := len(kept) - 1; i >= 0; i-- {
		off := kept[i]
		if off > replayFloor {
			continue
		}
		path := filepath.Join(l.dir, fileName(off, snapshotExt))
		p, err := readSnapshot(l.fs, path)
		if err != nil {
			l.logger.Warn("log: skipping unreadable producer snapshot", "path", path, "err", err)
			_ = l.fs.Remove(path)
			kept = slices.Delete(kept, i, i+1)
			continue
		}
		l.producers, from = p, off
		break
	}
	l.snapshots = kept
	err := l.forEachBatchFrom(from, func(s *segment, h record.Batch, full func() (record.Batch, error)) error {
		if h.BaseOffset() < from || !h.HasProducerID() {
			return nil
		}
		pa := l.producers.prepare(originReplication)
		if h.IsControl() {
			b, err := full()
			if err != nil {
				return err
			}
			m, err := b.ControlMarker()
			if err != nil {
				return nil // not a transaction marker we understand; Kafka skips too
			}
			if !m.Type.IsTxnMarker() {
				return nil
			}
			if err := pa.appendMarker(b.ProducerID(), b.ProducerEpoch(), m, b.BaseOffset(), b.MaxTimestamp()); err != nil {
				return err
			}
		} else if err := pa.appendData(h, h.BaseOffset(), h.LastOffset()); err != nil {
			return err
		}
		pa.commit()
		return l.completeTxnsLocked(s, pa.completed, needTxn[s])
	})
	if err != nil {
		return err
	}
	now := l.now().UnixMilli()
	l.producers.removeExpired(now, l.config().ProducerIDExpirationMs)
	return nil
}

// completeTxnsLocked applies completed transactions: aborted ones get a
// transaction-index entry in segment s when writeIndex.
func (l *Log) completeTxnsLocked(s *segment, completed []completedTxn, writeIndex bool) error {
	for _, c := range completed {
		if c.Aborted && writeIndex {
			e := abortedEntry{ProducerID: c.ProducerID, FirstOffset: c.FirstOffset, LastOffset: c.LastOffset,
				LastStableOffset: l.producers.lastStableOffsetFor(c)}
			if err := writeAt(s.txnIndex, e.encode(), s.txnEntries*txnEntrySize); err != nil {
				return fmt.Errorf("log: write transaction index: %w", err)
			}
			s.txnEntries++
		}
		l.producers.completeTxn(c)
	}
	return nil
}

// forEachBatchFrom calls fn for every batch whose segment may contain
// offsets >= from, in order, with the header and a loader for the whole
// batch. Used by recovery only (no concurrent writers).
func (l *Log) forEachBatchFrom(from int64, fn func(s *segment, h record.Batch, full func() (record.Batch, error)) error) error {
	for i, s := range l.segments {
		if i+1 < len(l.segments) && l.segments[i+1].base <= from {
			continue
		}
		err := s.scanBatches(func(sc *batchScanner) error {
			if sc.hdr.LastOffset() < from {
				return nil
			}
			return fn(s, sc.hdr, sc.full)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// completeSwaps finishes compaction swaps interrupted by a crash (Kafka
// LogLoader: swap files roll forward). A <base>.log.swap exists only once
// the cleaned segment is complete and fsynced and before any replaced
// segment was removed (cleaner.go, swapCleaned), so it always wins: every
// segment whose base offset lies in [base, next offset after the swap's
// last batch) is one it replaced and is removed, then the swap files take
// their final names. A replaced segment left wholly past the swap's last
// batch (compaction emptied its tail) is kept; it duplicates no offset, so
// the log stays consistent and the next pass cleans it. Index .swap files
// without a .log.swap are left for the caller to remove (the rename to
// .swap had not finished, so the old segments are intact).
func (l *Log) completeSwaps(entries []os.DirEntry) (bool, error) {
	var bases []int64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, swapSuffix) {
			continue
		}
		if off, ok := parseOffsetName(strings.TrimSuffix(name, swapSuffix), logExt); ok {
			bases = append(bases, off)
		}
	}
	if len(bases) == 0 {
		return false, nil
	}
	slices.Sort(bases)
	for _, base := range bases {
		swapLog := filepath.Join(l.dir, fileName(base, logExt)+swapSuffix)
		next, err := l.swapEnd(swapLog, base)
		if err != nil {
			return false, err
		}
		upper := max(next, base+1)
		for _, e := range entries {
			name := e.Name()
			for _, ext := range segmentExts {
				if off, ok := parseOffsetName(name, ext); ok && off >= base && off < upper {
					if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
						return false, fmt.Errorf("log: remove replaced segment file %s: %w", name, err)
					}
				}
			}
		}
		for _, ext := range segmentExts {
			from := filepath.Join(l.dir, fileName(base, ext)+swapSuffix)
			if err := l.fs.Rename(from, strings.TrimSuffix(from, swapSuffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("log: complete swap: %w", err)
			}
		}
		l.logger.Info("log: completed an interrupted compaction swap", "dir", l.dir, "segment", base, "nextOffset", next)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return false, fmt.Errorf("log: fsync dir %s: %w", l.dir, err)
	}
	return true, nil
}

// swapEnd returns the offset after the last batch of a swap segment (its
// base when empty). The file was fsynced before it was named .swap, so it
// holds whole batches; a torn tail is cut anyway.
func (l *Log) swapEnd(path string, base int64) (int64, error) {
	f, err := l.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("log: %w", err)
	}
	next, end := base, int64(0)
	sc := newScanner(f, 0, fi.Size())
	for sc.next() {
		next, end = sc.hdr.NextOffset(), sc.batchPos+sc.batchLen
	}
	if sc.stop != scanEOF {
		l.logger.Warn("log: cutting a torn swap segment", "path", path, "validBytes", end, "reason", sc.stopErr)
		if err := f.Truncate(end); err != nil {
			return 0, fmt.Errorf("log: %w", err)
		}
	}
	return next, nil
}

// intactBatchAfter reports whether an intact batch (framing and CRC good,
// base offset at least minBase) starts at or after pos, looking at batch
// boundaries as the damaged region's length field gives them, then byte by
// byte for a bounded distance (the length field itself may be the damage).
func intactBatchAfter(r io.ReaderAt, pos, size, minBase int64) (int64, bool) {
	const maxProbe = 1 << 20
	for p := pos; p < size && p < pos+maxProbe; p++ {
		sc := newScanner(r, p, size)
		if !sc.next() {
			continue
		}
		if sc.hdr.BaseOffset() < minBase || sc.hdr.LastOffsetDelta() < 0 {
			continue
		}
		if sc.verifyCRC() == nil {
			return p, true
		}
	}
	return 0, false
}

// checkSegmentContinuity compares each segment's end offset with the next
// segment's base offset. Offsets that overlap are damage (two segments
// claim the same offsets; a read would serve either): the log refuses to
// open. A gap is logged: a deleted or lost middle segment shows as one
// (nothing else would tell: reads skip it silently), but compaction and a
// mirror of a source with gaps make gaps legitimately, so it is not an
// error; `tandem check` reports it with the topic's cleanup.policy. ends
// holds the end offsets recovery already knows; the others are found by
// scanning each sealed segment from its last index entry (a few batch
// headers).
func (l *Log) checkSegmentContinuity(ends map[*segment]int64) error {
	compact := l.config().Compact
	for i := 0; i+1 < len(l.segments); i++ {
		s, nextSeg := l.segments[i], l.segments[i+1]
		end, ok := ends[s]
		if !ok {
			var err error
			if end, err = segmentEnd(s); err != nil {
				return fmt.Errorf("log: segment %d: %w", s.base, err)
			}
		}
		switch {
		case end > nextSeg.base:
			err := corruptf(s.log.currentPath(), "holds offsets up to %d but the next segment starts at %d (overlapping segments)", end-1, nextSeg.base)
			l.logger.Error("log: overlapping segments; the partition will not be served", "dir", l.dir, "err", err)
			return err
		case end < nextSeg.base && !compact:
			l.logger.Warn("log: offset gap between segments (a missing or deleted segment?); offsets in it cannot be read",
				"dir", l.dir, "segment", s.base, "endOffset", end, "nextSegment", nextSeg.base, "missingOffsets", nextSeg.base-end)
		}
	}
	return nil
}

// segmentEnd is the offset after the last batch of a segment (its base
// when empty), scanning headers from its last offset-index entry. Read
// only: a torn tail ends the scan (recovery deals with it elsewhere).
func segmentEnd(s *segment) (int64, error) {
	start := int64(0)
	if s.indexEntries > 0 {
		if _, pos, err := s.offsetEntry(s.indexEntries - 1); err == nil && pos <= s.size {
			start = pos
		}
	}
	next := s.base
	err := s.log.withFile(func(f vfs.File) error {
		for {
			sc := newScanner(f, start, s.size)
			for sc.next() {
				next = sc.hdr.NextOffset()
			}
			if sc.stop == scanEOF || start == 0 {
				return nil
			}
			// The index entry did not lead to a batch boundary (a stale
			// index of a sealed segment): scan the whole file.
			start, next = 0, s.base
		}
	})
	return next, err
}

// damagedSuffix names the copy recovery keeps of a segment tail it cut
// after in-place damage: <base>.log.<position>.damaged. Nothing reads it;
// it is for the operator (see docs/operations.md).
const damagedSuffix = ".damaged"

// copyTail copies bytes [from, EOF) of path to a new file to (fsynced).
func copyTail(path, to string, from int64) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, io.NewSectionReader(src, from, math.MaxInt64-from))
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}
