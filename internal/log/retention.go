package log

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// scheduleDeleteLocked removes segs from service: their files are renamed
// to *.deleted at once and removed after delayMs (Kafka
// file.delete.delay.ms), by EnforceRetention or Close; with no delay they
// are removed now. Segments must already be out of l.segments, and the
// caller holds truncMu exclusively (or the segments are empty), so no
// reader is inside them.
func (l *Log) scheduleDeleteLocked(segs []*segment, delayMs int64) {
	var paths []string
	for _, s := range segs {
		for _, h := range s.handles() {
			p := h.currentPath()
			if _, err := l.fs.Stat(p); err != nil {
				h.close()
				continue
			}
			if delayMs > 0 {
				// A failed rename leaves the file under its name; it is
				// removed under that name when the delay has passed.
				if err := h.rename(p + deletedSuffix); err != nil {
					l.logger.Warn("log: rename segment file for deletion failed", "path", p, "err", err)
				} else {
					p += deletedSuffix
				}
			}
			h.close()
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return
	}
	l.dirSync = true
	l.scheduleSyncLocked()
	if delayMs <= 0 {
		if left := l.removeFilesLogged(paths); len(left) > 0 {
			l.pendingDeletes = append(l.pendingDeletes, pendingDelete{paths: left, at: l.now()})
		}
		return
	}
	l.pendingDeletes = append(l.pendingDeletes, pendingDelete{paths: paths, at: l.now().Add(time.Duration(delayMs) * time.Millisecond)})
}

// removeDueFiles deletes renamed files whose delay has passed.
func (l *Log) removeDueFiles() {
	now := l.now()
	l.mu.Lock()
	var due [][]string
	kept := l.pendingDeletes[:0]
	for _, p := range l.pendingDeletes {
		if !now.Before(p.at) {
			due = append(due, p.paths)
		} else {
			kept = append(kept, p)
		}
	}
	l.pendingDeletes = kept
	l.mu.Unlock()
	var left []string
	for _, p := range due {
		left = append(left, l.removeFilesLogged(p)...)
	}
	if len(left) > 0 {
		// Retried by the next retention pass: a removal that fails (EIO,
		// or EBUSY on some file systems) must not leak the space for good.
		l.mu.Lock()
		l.pendingDeletes = append(l.pendingDeletes, pendingDelete{paths: left, at: now})
		l.mu.Unlock()
	}
}

// removeFilesLogged removes paths and returns those whose removal failed
// for another reason than their absence (logged).
func (l *Log) removeFilesLogged(paths []string) []string {
	var left []string
	for _, p := range paths {
		if err := l.fs.Remove(p); err != nil && !vfs.IsNotExist(err) {
			l.logger.Warn("log: removing a deleted segment file failed; retrying at the next retention pass", "path", p, "err", err)
			left = append(left, p)
		}
	}
	return left
}

// deletableLocked returns how many of the oldest segments retention may
// delete now (UnifiedLog.deleteOldSegments): the longest prefix matching
// time retention (largest timestamp older than retention.ms), size
// retention (total size stays >= retention.bytes without them) or the log
// start offset (wholly below it). Time and size retention apply only when
// cleanup.policy includes delete. A segment is eligible only if all of it
// is below the high watermark, and an empty active segment never is.
func (l *Log) deletableLocked(nowMs int64) int {
	cfg := l.config()
	n := len(l.segments)
	eligible := func(i int) bool {
		if i+1 < n {
			return l.segments[i+1].base <= l.hw
		}
		return l.segments[i].size > 0 && l.leo <= l.hw
	}
	prefix := func(pred func(i int) bool) int {
		k := 0
		for k < n && eligible(k) && pred(k) {
			k++
		}
		return k
	}
	best := prefix(func(i int) bool { return i+1 < n && l.segments[i+1].base <= l.logStart })
	if !cfg.Delete {
		// cleanup.policy=compact: only the log start offset deletes
		// segments (UnifiedLog.deleteOldSegments without config.delete).
		return best
	}
	if cfg.RetentionMs >= 0 {
		best = max(best, prefix(func(i int) bool { return nowMs-l.segments[i].largestTimestamp() > cfg.RetentionMs }))
	}
	if cfg.RetentionBytes >= 0 {
		var total int64
		for _, s := range l.segments {
			total += s.size
		}
		diff := total - cfg.RetentionBytes
		best = max(best, prefix(func(i int) bool {
			if diff-l.segments[i].size < 0 {
				return false
			}
			diff -= l.segments[i].size
			return true
		}))
	}
	return best
}

// EnforceRetention applies retention.ms, retention.bytes and the log start
// offset to whole segments, oldest first, and returns how many it deleted.
// When every segment qualifies the active one is rolled first (Kafka rolls,
// then deletes), so the log keeps an empty active segment at its end
// offset. The log start offset moves up to the first remaining segment.
// It also removes files whose file.delete.delay.ms has passed and forgets
// producers idle longer than ProducerIDExpirationMs. The caller ticks it
// (Kafka's log.retention.check.interval.ms); it is cheap when there is
// nothing to do.
func (l *Log) EnforceRetention() (int, error) {
	l.removeDueFiles()
	nowMs := l.now().UnixMilli()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, l.errClosed()
	}
	l.producers.removeExpired(nowMs, l.config().ProducerIDExpirationMs)
	k := l.deletableLocked(nowMs)
	l.mu.Unlock()
	if k == 0 {
		return 0, nil
	}
	return l.deleteOldSegments(nowMs)
}

func (l *Log) deleteOldSegments(nowMs int64) (int, error) {
	l.truncMu.Lock()
	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		l.truncMu.Unlock()
		return 0, err
	}
	k := l.deletableLocked(nowMs)
	if k == 0 {
		l.mu.Unlock()
		l.truncMu.Unlock()
		return 0, nil
	}
	if k == len(l.segments) {
		if err := l.rollLocked(l.leo, true, nil); err != nil {
			if !isTransient(err) {
				l.failLocked(err)
			}
			l.mu.Unlock()
			l.truncMu.Unlock()
			return 0, err
		}
		// The new active segment is empty and at the HW position.
		if l.hw == l.leo {
			l.hwSegBase, l.hwPos = l.active().base, 0
		}
	}
	gone := append([]*segment(nil), l.segments[:k]...)
	l.segments = append([]*segment(nil), l.segments[k:]...)
	l.scheduleDeleteLocked(gone, l.config().FileDeleteDelayMs)
	moved := l.advanceLogStartLocked(l.segments[0].base)
	l.pruneSnapshotsLocked()
	l.checkInvariants()
	l.mu.Unlock()
	l.truncMu.Unlock()
	l.logger.Info("log: deleted segments", "dir", l.dir, "count", k, "logStartOffset", l.LogStartOffset())
	if moved {
		if err := l.writeOffsetsCheckpoint(); err != nil {
			return k, err
		}
	}
	return k, nil
}

// advanceLogStartLocked raises the log start offset (never lowers it) and
// trims the epoch cache; reports whether it moved.
func (l *Log) advanceLogStartLocked(offset int64) bool {
	if offset <= l.logStart {
		return false
	}
	l.logStart = offset
	if l.epochs.truncateFromStart(offset) {
		if err := l.persistEpochsLocked(); err != nil {
			l.failLocked(err)
		}
	}
	l.notifyLocked()
	return true
}

// DeleteRecordsBefore moves the log start offset up to offset (the
// DeleteRecords API) and deletes the segments wholly below it. offset must
// not exceed the high watermark (ErrOffsetOutOfRange). The new start offset
// is durable before it returns. Offsets at or below the current start are a
// no-op that returns the current start.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	if offset < 0 || offset > l.hw {
		hw := l.hw
		l.mu.Unlock()
		return 0, fmt.Errorf("%w: cannot delete records before %d, high watermark is %d", ErrOffsetOutOfRange, offset, hw)
	}
	if !l.advanceLogStartLocked(offset) {
		start := l.logStart
		l.mu.Unlock()
		return start, nil
	}
	start := l.logStart
	k := l.deletableLocked(l.now().UnixMilli())
	l.mu.Unlock()
	if err := l.writeOffsetsCheckpoint(); err != nil {
		return start, fmt.Errorf("log: persist log start offset: %w", err)
	}
	if k > 0 {
		if _, err := l.deleteOldSegments(l.now().UnixMilli()); err != nil {
			return start, err
		}
	}
	return start, nil
}

// TruncateTo removes everything at and after offset: later segments, the
// tail of the segment holding offset (from the batch containing it), their
// index and transaction-index entries, leader epochs starting at or after
// offset; producer state is rebuilt and the high watermark lowered to at
// most offset (UnifiedLog.truncateTo, used by followers and mirrors on
// divergence). The log end offset becomes offset, or the base offset of
// the batch containing offset when offset falls inside one (the whole batch
// is removed; see truncateToLocked). Truncating at or beyond
// the end is a no-op; below the log start offset it is
// TruncateFullyAndStartAt(offset).
func (l *Log) TruncateTo(offset int64) error {
	return l.truncate(func() error {
		switch {
		case offset >= l.leo:
			return errNothingToDo
		case offset < l.logStart:
			return l.truncateFullyLocked(offset)
		default:
			return l.truncateToLocked(offset)
		}
	})
}

var errNothingToDo = errors.New("log: nothing to do")

// truncate runs fn with truncMu and mu held exclusively, then persists the
// offsets checkpoint.
func (l *Log) truncate(fn func() error) error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	l.mu.Lock()
	err := l.writableLocked()
	if err == nil {
		err = fn()
	}
	l.mu.Unlock()
	switch {
	case err == errNothingToDo:
		return nil
	case err != nil:
		return err
	}
	if err := l.writeOffsetsCheckpoint(); err != nil {
		return err
	}
	return l.writeCleanerCheckpoint()
}

func (l *Log) truncateToLocked(offset int64) error {
	l.truncGen++
	cfg := l.config()
	i := l.segmentIndexLocked(offset)
	// Segments whose base is above offset go; one starting exactly at
	// offset is kept and emptied (it becomes the active segment).
	gone := append([]*segment(nil), l.segments[i+1:]...)
	l.segments = l.segments[:i+1]
	l.scheduleDeleteLocked(gone, cfg.FileDeleteDelayMs)
	a := l.active()
	v := segView{s: a, end: a.size, indexEntries: a.indexEntries, lastIndexOffset: a.lastIndexOffset, lastIndexPos: a.lastIndexPos}
	pos, _, found, err := v.locate(offset)
	if err != nil {
		l.failLocked(err)
		return err
	}
	newEnd := offset
	if !found {
		pos = a.size
	} else if base, err := batchBaseAt(a, pos); err != nil {
		l.failLocked(err)
		return err
	} else if base < offset {
		// offset falls inside a batch: the whole batch goes, and the end
		// offset becomes its base so that re-fetching it from the source
		// can fill the hole (Kafka would leave the end at offset, which a
		// verbatim append of the same batch could never satisfy).
		newEnd = base
	}
	if err := truncateFile(a.log, pos); err != nil {
		l.failLocked(err)
		return fmt.Errorf("log: truncate segment %d: %w", a.base, err)
	}
	a.size = pos
	if err := a.rebuildIndexes(int64(cfg.IndexIntervalBytes)); err != nil {
		l.failLocked(err)
		return err
	}
	// Transaction-index entries are in marker order: drop the suffix whose
	// marker is at or after offset (TransactionIndex.truncateTo).
	entries, err := a.readAborted(a.txnEntries)
	if err != nil {
		l.failLocked(err)
		return err
	}
	keep := int64(0)
	for _, e := range entries {
		if e.LastOffset >= newEnd {
			break
		}
		keep++
	}
	if keep != a.txnEntries {
		if err := truncateFile(a.txnIndex, keep*txnEntrySize); err != nil {
			l.failLocked(err)
			return err
		}
		a.txnEntries = keep
	}
	l.leo = newEnd
	offset = newEnd
	// The clean section cannot extend past the new end: data appended
	// there later is dirty (LogCleanerManager.maybeTruncateCheckpoint).
	l.cleanOffset = min(l.cleanOffset, newEnd)
	if l.epochs.truncateFromEnd(offset) {
		if err := l.persistEpochsLocked(); err != nil {
			l.failLocked(err)
			return err
		}
	}
	if l.hw > offset {
		l.hw = offset
	}
	if l.hwSegBase >= a.base {
		l.hwSegBase, l.hwPos = a.base, min(l.hwPos, a.size)
		if l.hw == l.leo {
			l.hwPos = a.size
		}
	}
	l.recoveryPoint = min(l.recoveryPoint, a.base)
	if err := l.rebuildProducerStateLocked(); err != nil {
		l.failLocked(err)
		return err
	}
	// The truncation itself must be durable, or a crash could resurrect the
	// removed batches.
	l.markDirtyLocked(a.log)
	l.markDirtyLocked(a.txnIndex)
	l.markSegmentDirtyLocked(a)
	l.dirSync = true
	l.notifyLocked()
	l.checkInvariants()
	return nil
}

// rebuildProducerStateLocked reloads producer state from the newest
// snapshot at or below the log end offset and replays the rest.
func (l *Log) rebuildProducerStateLocked() error {
	snaps := append([]int64(nil), l.snapshots...)
	if err := l.loadProducerState(snaps, nil); err != nil {
		return err
	}
	l.producers.onHighWatermarkUpdated(l.hw)
	return nil
}

// TruncateFullyAndStartAt empties the log and restarts it at offset: all
// segments, epochs, producer state and snapshots go; log start, end and
// high watermark become offset (UnifiedLog.truncateFullyAndStartAt, for a
// follower or mirror that fell out of the source's range).
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: negative offset %d", ErrOffsetOutOfRange, offset)
	}
	return l.truncate(func() error { return l.truncateFullyLocked(offset) })
}

func (l *Log) truncateFullyLocked(offset int64) error {
	l.truncGen++
	gone := l.segments
	l.segments = nil
	l.scheduleDeleteLocked(gone, l.config().FileDeleteDelayMs)
	s, err := createSegment(l.files, l.dir, offset)
	if err != nil {
		// Keep an (unusable) placeholder so the failed log stays consistent.
		l.segments = []*segment{newSegment(l.files, l.dir, offset)}
		l.failLocked(err)
		return err
	}
	l.segments = []*segment{s}
	l.leo, l.logStart, l.hw, l.hwSegBase, l.hwPos, l.recoveryPoint = offset, offset, offset, offset, 0, offset
	l.epochs.entries = nil
	if err := l.persistEpochsLocked(); err != nil {
		l.failLocked(err)
		return err
	}
	l.producers.reset()
	l.cleanOffset = -1
	for _, off := range l.snapshots {
		_ = l.fs.Remove(filepath.Join(l.dir, fileName(off, snapshotExt)))
	}
	l.snapshots = nil
	l.dirSync = true
	l.scheduleSyncLocked()
	l.notifyLocked()
	l.checkInvariants()
	return nil
}

// batchBaseAt reads the base offset of the batch at pos.
func batchBaseAt(s *segment, pos int64) (int64, error) {
	var h [8]byte
	if err := readAt(s.log, h[:], pos); err != nil {
		return 0, err
	}
	return int64(be64(h[:])), nil
}
