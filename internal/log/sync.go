package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// markDirtyLocked records that h has unsynced writes and makes sure a sync
// round is scheduled. Caller holds mu.
func (l *Log) markDirtyLocked(h *fileHandle) {
	if _, ok := l.dirtySet[h]; !ok {
		if l.dirtySet == nil {
			l.dirtySet = make(map[*fileHandle]struct{}, 2)
		}
		l.dirtySet[h] = struct{}{}
		l.dirty = append(l.dirty, h)
	}
	l.scheduleSyncLocked()
}

// markSegmentDirtyLocked schedules the fsync of s's index files written
// since their last sync (roll, close, truncation); the .log file is marked
// by every write already, the transaction index by every abort.
func (l *Log) markSegmentDirtyLocked(s *segment) {
	if s.indexUnsynced {
		l.markDirtyLocked(s.index)
		s.indexUnsynced = false
	}
	if s.timeUnsynced {
		l.markDirtyLocked(s.timeIndex)
		s.timeUnsynced = false
	}
}

func (l *Log) scheduleSyncLocked() {
	if l.syncState == syncIdle && !l.closed {
		l.syncState = syncQueued
		l.syncer.enqueue(l)
	}
}

// takeDirtyLocked hands the dirty set to a sync round.
func (l *Log) takeDirtyLocked() (files []*fileHandle, paths []string, dir bool) {
	files, paths, dir = l.dirty, l.dirtyPaths, l.dirSync
	if l.parentSync {
		paths = append(paths, filepath.Dir(l.dir))
		l.parentSync = false
	}
	l.dirty, l.dirtySet, l.dirtyPaths, l.dirSync = nil, nil, nil, false
	return files, paths, dir
}

// errSyncDeferred marks a sync round that could not open a file it had
// to sync for a transient reason (no descriptors): nothing was fsynced
// that failed, so the files stay dirty and the round is retried later.
var errSyncDeferred = errors.New("log: sync deferred")

// syncRetryDelay is how long a deferred sync round waits before retrying.
const syncRetryDelay = 50 * time.Millisecond

// syncOpenErr classifies a failure to open a file for fsync: transient
// (the round is retried; pages stay dirty in the page cache, so a later
// fsync is as good as one now) or not (the log fails).
func syncOpenErr(path string, err error) error {
	if isTransient(err) {
		return fmt.Errorf("%w: open %s: %w", errSyncDeferred, path, err)
	}
	return fmt.Errorf("log: open %s for fsync: %w", path, err)
}

// syncFiles fsyncs files, extra paths and (if dir) the partition directory.
// A handle closed meanwhile (its segment was deleted) is skipped.
func (l *Log) syncFiles(files []*fileHandle, paths []string, dir bool) error {
	for _, h := range files {
		f, err := h.acquire()
		if err == errHandleClosed || os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return syncOpenErr(h.currentPath(), err)
		}
		err = l.syncFile(f)
		h.release()
		if err != nil {
			return fmt.Errorf("log: fsync %s: %w", h.currentPath(), err)
		}
	}
	for _, p := range paths {
		f, err := vfs.Open(l.fs, p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return syncOpenErr(p, err)
		}
		if fi, serr := f.Stat(); serr == nil && fi.IsDir() {
			err = f.Sync() // a directory: fsync, not fdatasync
		} else {
			err = l.syncFile(f)
		}
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("log: fsync %s: %w", p, err)
		}
	}
	if dir {
		d, err := vfs.Open(l.fs, l.dir)
		if err != nil {
			return syncOpenErr(l.dir, err)
		}
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return fmt.Errorf("log: fsync dir %s: %w", l.dir, err)
		}
	}
	return nil
}

// syncToken is one log's share of a sync round: what beginSync
// snapshotted under mu, for endSync to publish once the files are synced.
type syncToken struct {
	l                     *Log
	target                int64
	gen                   uint64
	targetBase, targetPos int64
	sealed                int
	files                 []*fileHandle
	paths                 []string
	dir                   bool
}

// beginSync starts l's part of a sync round: snapshot the end offset and
// take the dirty files under mu. It reports false when there is nothing to
// do (closed or failed log).
func (l *Log) beginSync() (syncToken, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.failed != nil {
		l.syncState = syncIdle
		l.syncCond.Broadcast()
		return syncToken{}, false
	}
	l.syncState = syncRunning
	a := l.active()
	t := syncToken{l: l, target: l.leo, gen: l.truncGen, targetBase: a.base, targetPos: a.size, sealed: l.sealed}
	l.sealed = 0
	t.files, t.paths, t.dir = l.takeDirtyLocked()
	return t, true
}

// flush fsyncs the token's files (the per-file strategy).
func (t *syncToken) flush() error { return t.l.syncFiles(t.files, t.paths, t.dir) }

// endSync finishes l's part of a round: on success publish the snapshotted
// end offset as the high watermark; re-queue l if appends arrived meanwhile.
func (l *Log) endSync(t syncToken, err error) {
	l.mu.Lock()
	writeCkpt := false
	deferred := errors.Is(err, errSyncDeferred)
	switch {
	case deferred:
		// Could not open a file: nothing failed to sync. Keep the files
		// dirty and retry after a pause (below); acks=all producers keep
		// waiting and are acknowledged once the retry succeeds.
		if l.syncRetry == nil {
			l.logger.Warn("log: sync round deferred; retrying", "dir", l.dir, "err", err)
		}
		l.requeueTokenLocked(t)
	case err != nil:
		l.failLocked(err)
	case t.gen != l.truncGen:
		// A truncation ran during the fsync: what we synced may not be
		// what the log now holds at those offsets. Sync again.
		l.requeueTokenLocked(t)
	default:
		if l.syncRetry != nil {
			l.syncRetry = nil
			l.logger.Info("log: deferred sync completed", "dir", l.dir)
		}
		if l.epochCkptStale {
			if err := l.persistEpochsLocked(); err != nil {
				l.failLocked(err)
			}
		}
		if t.target > l.hw {
			l.hw, l.hwSegBase, l.hwPos = t.target, t.targetBase, t.targetPos
			l.producers.onHighWatermarkUpdated(l.hw)
			l.notifyLocked()
		}
		if t.sealed > 0 && t.targetBase > l.recoveryPoint {
			l.recoveryPoint = t.targetBase
			writeCkpt = true
		}
		l.checkInvariants()
	}
	if len(l.dirty) > 0 || len(l.dirtyPaths) > 0 || l.dirSync {
		l.syncState = syncQueued
		switch {
		case l.closed || l.failed != nil:
			l.syncState = syncIdle
		case deferred:
			// Queued, but handed to the Syncer only after the delay, so a
			// descriptor shortage does not spin the coordinator.
			l.syncRetry = time.AfterFunc(syncRetryDelay, func() { l.syncer.enqueue(l) })
		default:
			l.syncer.enqueue(l)
		}
	} else {
		l.syncState = syncIdle
	}
	l.syncCond.Broadcast()
	l.mu.Unlock()

	if writeCkpt {
		if err := l.writeOffsetsCheckpoint(); err != nil {
			l.logger.Warn("log: writing offsets checkpoint failed", "dir", l.dir, "err", err)
		}
	}
}

// requeueTokenLocked puts a round's files back into the dirty set.
func (l *Log) requeueTokenLocked(t syncToken) {
	for _, h := range t.files {
		if _, ok := l.dirtySet[h]; !ok {
			if l.dirtySet == nil {
				l.dirtySet = make(map[*fileHandle]struct{}, 2)
			}
			l.dirtySet[h] = struct{}{}
			l.dirty = append(l.dirty, h)
		}
	}
	l.dirtyPaths = append(l.dirtyPaths, t.paths...)
	l.dirSync = l.dirSync || t.dir
	l.sealed += t.sealed
}

// failLocked records a storage failure: appends fail from now on and the
// high watermark stops moving (no acknowledgement for unsynced data).
func (l *Log) failLocked(err error) {
	if l.failed == nil {
		l.failed = fmt.Errorf("%w: %w", ErrLogFailed, err)
		failed := l.failed
		l.failedErr.Store(&failed)
		l.logger.Error("log: storage failure: partition offline, refusing appends and fetches of unsynced data; "+
			"check the device (dmesg, SMART), then restart the broker, which recovers the log from its last durable point "+
			"(docs/operations.md, Storage faults)", "dir", l.dir, "err", err)
		l.notifyLocked()
	}
}

// syncDirtyLocked fsyncs everything dirty while holding mu (Close only).
func (l *Log) syncDirtyLocked() error {
	files, paths, dir := l.takeDirtyLocked()
	l.sealed = 0
	if err := l.syncFiles(files, paths, dir); err != nil {
		l.failLocked(err)
		return err
	}
	return nil
}

// writeOffsetsCheckpoint persists the current log start offset and
// recovery point. Must not be called with mu held.
func (l *Log) writeOffsetsCheckpoint() error {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	if l.deleted {
		return l.errClosed()
	}
	l.mu.RLock()
	c := offsetsCheckpointData{LogStartOffset: l.logStart, RecoveryPoint: l.recoveryPoint}
	l.mu.RUnlock()
	if l.ckptWritten != nil && *l.ckptWritten == c {
		return nil
	}
	if err := writeFileAtomic(l.fs, filepath.Join(l.dir, offsetsCheckpoint), encodeOffsetsCheckpoint(c)); err != nil {
		return err
	}
	l.ckptWritten = &c
	return nil
}

// writeEpochCheckpointLocked persists the leader-epoch cache. Epoch changes
// are rare (leader elections, truncation), so this runs inline.
func (l *Log) writeEpochCheckpointLocked() error {
	return writeFileAtomic(l.fs, filepath.Join(l.dir, epochCheckpointName), encodeEpochCheckpoint(l.epochs.entries))
}

// persistEpochsLocked rewrites leader-epoch-checkpoint. A failed rewrite
// (no space, an I/O error) does not fail the caller: the cache in memory
// is right, the file was replaced atomically or not at all, and the old
// file is then removed, so that a crash before the next successful
// rewrite makes recovery rebuild the cache from the batches' leader epochs
// (what it does for a missing file) instead of trusting stale entries.
// The rewrite is retried after every sync round and at close. Only a
// failure to remove the stale file is returned (the caller takes the log
// offline: a crash would then load wrong epochs).
func (l *Log) persistEpochsLocked() error {
	err := l.writeEpochCheckpointLocked()
	if err == nil {
		l.epochCkptStale = false
		return nil
	}
	path := filepath.Join(l.dir, epochCheckpointName)
	switch rerr := l.fs.Remove(path); {
	case rerr == nil:
		l.dirSync = true // the removal must be durable before anything relies on it
	case !vfs.IsNotExist(rerr):
		return fmt.Errorf("log: write %s: %w (and removing the stale file: %w)", epochCheckpointName, err, rerr)
	}
	if !l.epochCkptStale {
		l.logger.Warn("log: writing leader-epoch-checkpoint failed; removed it (recovery rebuilds it from the log), retrying after the next sync",
			"dir", l.dir, "err", err)
	}
	l.epochCkptStale = true
	return nil
}

// takeSnapshotLocked writes the producer state as of offset (exclusive) to
// %020d.snapshot. The file is written without fsync; the next sync round
// makes it durable (a lost snapshot only means a longer replay).
func (l *Log) takeSnapshotLocked(offset int64) error {
	path := filepath.Join(l.dir, fileName(offset, snapshotExt))
	tmp := path + tmpSuffix
	if err := vfs.WriteFile(l.fs, tmp, encodeSnapshot(l.producers), 0o644); err != nil {
		return fmt.Errorf("log: write producer snapshot: %w", err)
	}
	if err := l.fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("log: write producer snapshot: %w", err)
	}
	if i, found := slices.BinarySearch(l.snapshots, offset); !found {
		l.snapshots = slices.Insert(l.snapshots, i, offset)
	}
	l.dirtyPaths = append(l.dirtyPaths, path)
	l.dirSync = true
	l.scheduleSyncLocked()
	l.pruneSnapshotsLocked()
	return nil
}

// pruneSnapshotsLocked keeps the snapshots recovery may need: those at or
// above the base offset of the segment before the active one (the roll
// snapshot of the active segment lets recovery rebuild its transaction
// index; one older gives a fallback) and none above the log end offset.
func (l *Log) pruneSnapshotsLocked() {
	keepFrom := l.active().base
	if n := len(l.segments); n >= 2 {
		keepFrom = l.segments[n-2].base
	}
	kept := l.snapshots[:0]
	for _, off := range l.snapshots {
		if off < keepFrom || off > l.leo {
			_ = l.fs.Remove(filepath.Join(l.dir, fileName(off, snapshotExt)))
			continue
		}
		kept = append(kept, off)
	}
	l.snapshots = kept
}
