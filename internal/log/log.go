// Package log is Tandem's per-partition segmented log: Kafka's UnifiedLog,
// LogSegment, OffsetIndex/TimeIndex/TransactionIndex, ProducerStateManager
// and LeaderEpochFileCache, in Go.
//
// Batches are stored exactly as received (RecordBatch v2); a leader append
// sets only baseOffset and partitionLeaderEpoch, which lie outside the CRC,
// except on LogAppendTime topics. The on-disk layout uses Kafka's file
// names; docs/storage.md describes formats, durability and recovery, and
// docs/lock-order.md the locks.
//
// Durability is group commit: an append returns once its bytes are in the
// page cache; a Syncer worker fdatasyncs the log shortly after and only then
// advances the HighWatermark. On this single-replica broker the high
// watermark therefore means "durable": consumers never see, and acks=all
// producers are never acknowledged for, data that a crash could lose.
package log

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-streaming/tandem/internal/invariants"
	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// Sync round states.
const (
	syncIdle    = iota // nothing queued or running
	syncQueued         // in the Syncer's queue
	syncRunning        // a worker is fsyncing
)

// Log is one partition's log. All methods are safe for concurrent use.
//
// Locks (see docs/lock-order.md): truncMu → ckptMu → mu → FileCache.mu /
// Syncer.mu. Readers hold truncMu shared while they do file I/O, which is
// what keeps segments from being truncated or removed under them; mu is
// never held across an fsync.
type Log struct {
	dir       string
	topic     string
	partition int32
	fs        vfs.FS
	files     *FileCache
	syncer    *Syncer
	ownSyncer bool
	now       func() time.Time
	logger    *slog.Logger
	cfg       atomic.Pointer[Config]

	// syncFile is fdatasync; tests replace it to inject failures.
	syncFile func(vfs.File) error

	// truncMu is held shared by readers during file I/O and exclusively
	// while segment files are truncated or removed.
	truncMu sync.RWMutex
	// ckptMu serializes rewrites of the offsets checkpoint; the values
	// written are read under mu at write time, so the newest always wins.
	ckptMu      sync.Mutex
	ckptWritten *offsetsCheckpointData // last values written, guarded by ckptMu
	// deleted: Delete has removed (or is removing) the directory; no
	// checkpoint may be written any more. Guarded by ckptMu.
	deleted bool

	mu sync.RWMutex
	// Guarded by mu:
	segments      []*segment // sorted by base offset; the last is active
	leo           int64      // log end offset
	logStart      int64
	hw            int64 // high watermark = durable end offset
	hwSegBase     int64 // segment holding the HW position
	hwPos         int64 // byte position of hw within that segment
	recoveryPoint int64 // segments below this base offset are fully synced
	epochs        epochCache
	producers     *producerState
	changed       chan struct{}
	closed        bool
	failed        error
	snapshots     []int64 // producer snapshot offsets on disk, sorted

	// Group-commit state, guarded by mu.
	syncState  int
	syncCond   *sync.Cond // signalled when a round finishes (Close waits)
	truncGen   uint64     // bumped by truncations; a round spanning one is discarded
	dirty      []*fileHandle
	dirtySet   map[*fileHandle]struct{}
	dirtyPaths []string // files written outside handles (snapshots)
	dirSync    bool     // files were created or renamed since the last round
	parentSync bool     // the partition directory itself was created
	sealed     int      // segments rolled since the last round

	pendingDeletes []pendingDelete
	// failedErr mirrors failed for lock-free readers (Failed).
	failedErr atomic.Pointer[error]
	// epochCkptStale: leader-epoch-checkpoint could not be rewritten and
	// was removed; persistEpochsLocked retries. Guarded by mu.
	epochCkptStale bool
	// syncRetry: a sync round could not open a file (no descriptors,
	// transient); the files stay dirty and the round is retried after
	// syncRetryDelay. Guarded by mu.
	syncRetry *time.Timer

	// Compaction (cleaner.go). cleanMu serializes cleaning passes and is
	// taken before truncMu. cleanOffset (the cleaner checkpoint: end of the
	// clean section, -1 unknown) and cleanHorizon (earliest future delete
	// horizon of a kept tombstone or marker, NoTimestamp none) are guarded
	// by mu; cleanCkptWritten by ckptMu.
	cleanMu          sync.Mutex
	cleanOffset      int64
	cleanHorizon     int64
	cleanCkptWritten int64
	// testCleanHook, when set, is called at each stage of a swap; an error
	// stops the swap there, as a crash would.
	testCleanHook func(stage string) error
}

type pendingDelete struct {
	paths []string
	at    time.Time
}

// Open opens or creates the log in o.Dir, recovering it as described in
// docs/storage.md.
func Open(o Options) (*Log, error) {
	if o.Dir == "" {
		return nil, errors.New("log: Options.Dir is empty")
	}
	cfg := o.Config.normalize()
	l := &Log{
		dir: o.Dir, topic: o.Topic, partition: o.Partition,
		files: o.Files, syncer: o.Syncer, now: o.Now, logger: o.Logger,
		syncFile:  vfs.File.Datasync,
		producers: newProducerState(),
		changed:   make(chan struct{}),
	}
	l.syncCond = sync.NewCond(&l.mu)
	l.cfg.Store(&cfg)
	l.fs = o.FS
	switch {
	case l.fs == nil && l.files != nil:
		l.fs = l.files.fs
	case l.fs == nil:
		l.fs = vfs.Default
	}
	if l.files == nil {
		l.files = NewFileCacheFS(64, l.fs)
	}
	if l.syncer == nil {
		l.syncer, l.ownSyncer = NewSyncer(1, nil), true
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if _, err := l.fs.Stat(o.Dir); errors.Is(err, os.ErrNotExist) {
		l.parentSync = true // the new directory entry must become durable too
	}
	if err := l.fs.MkdirAll(o.Dir, 0o755); err != nil {
		l.abandon()
		return nil, fmt.Errorf("log: %w", err)
	}
	if o.TopicID != ([16]byte{}) {
		id, ok, err := readPartitionMetadata(l.fs, o.Dir)
		switch {
		case err != nil:
			l.abandon()
			return nil, err
		case ok && id != o.TopicID:
			l.abandon()
			return nil, fmt.Errorf("%w: %s holds topic id %x, expected %x", ErrInconsistentTopicID, o.Dir, id, o.TopicID)
		case !ok:
			// Written with rename but fsynced by the first append's sync round, with
			// the directory, so creating thousands of partitions does not
			// cost two synchronous fsyncs each.
			path := filepath.Join(o.Dir, partitionMetadata)
			if err := writeFileRename(l.fs, path, encodePartitionMetadata(o.TopicID)); err != nil {
				l.abandon()
				return nil, fmt.Errorf("log: %w", err)
			}
			l.dirtyPaths = append(l.dirtyPaths, path)
			l.dirSync = true
		}
	}
	if err := l.load(o.CleanShutdown); err != nil {
		l.abandon()
		return nil, err
	}
	l.cleanOffset = readCleanerCheckpoint(l.fs, o.Dir)
	l.cleanCkptWritten = l.cleanOffset
	l.cleanHorizon = record.NoTimestamp
	l.mu.Lock()
	l.checkInvariants()
	// A log whose directory Open just created holds nothing yet: its
	// files and directory entries need to be durable only once it holds
	// data, so they stay dirty and ride with its first append's sync round
	// (or Close). Scheduling a round per new log made creating a topic
	// with thousands of partitions queue thousands of fsyncs ahead of
	// every acks=all produce to other topics (issue #9). A crash before
	// that loses at most an empty directory, which the broker recreates
	// from cluster metadata. A reopened log syncs what recovery changed
	// at once.
	if !l.parentSync && (len(l.dirty) > 0 || len(l.dirtyPaths) > 0 || l.dirSync) {
		l.scheduleSyncLocked()
	}
	l.mu.Unlock()
	return l, nil
}

// abandon releases descriptors without any clean-shutdown work.
func (l *Log) abandon() {
	for _, s := range l.segments {
		s.closeFiles()
	}
	if l.ownSyncer {
		l.syncer.Close()
	}
}

func (l *Log) config() *Config { return l.cfg.Load() }

// SetConfig applies a new topic configuration; it takes effect for the
// next append, roll and retention pass.
func (l *Log) SetConfig(c Config) {
	c = c.normalize()
	l.cfg.Store(&c)
}

// Config returns the effective configuration.
func (l *Log) Config() Config { return *l.config() }

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

func (l *Log) active() *segment { return l.segments[len(l.segments)-1] }

// LogStartOffset is the first offset a consumer may fetch.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logStart
}

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.leo
}

// HighWatermark is the end of the durable (fsynced) prefix of the log.
func (l *Log) HighWatermark() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.hw
}

// LastStableOffset is min(HighWatermark, first offset of the earliest open
// or not-yet-durable transaction): the read_committed bound.
func (l *Log) LastStableOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lsoLocked()
}

func (l *Log) lsoLocked() int64 {
	if off, ok := l.producers.firstUnstableOffset(); ok && off < l.hw {
		return off
	}
	return l.hw
}

// Changed returns a channel closed the next time HighWatermark,
// LastStableOffset or LogStartOffset moves (and when the log closes).
// Call it again after it fires for the next change.
func (l *Log) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.changed
}

// notifyLocked wakes Changed waiters. Caller holds mu exclusively.
func (l *Log) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// WaitHighWatermark returns once HighWatermark >= offset, or with the
// context's error, or ErrClosed / the storage failure if the log stops.
func (l *Log) WaitHighWatermark(ctx context.Context, offset int64) error {
	for {
		l.mu.RLock()
		hw, ch, closed, failed := l.hw, l.changed, l.closed, l.failed
		l.mu.RUnlock()
		if hw >= offset {
			return nil
		}
		if failed != nil {
			return failed
		}
		if closed {
			return l.errClosed()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Failed returns the storage failure that took the log offline (an I/O
// error, a failed fsync), or nil. An offline log refuses appends with it
// (ErrLogFailed) until the broker restarts and recovery reopens it.
// It takes no lock (metadata requests ask it of every partition).
func (l *Log) Failed() error {
	if p := l.failedErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns sizes and offsets.
func (l *Log) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	st := Stats{
		Segments: len(l.segments), LogStartOffset: l.logStart, LogEndOffset: l.leo,
		HighWatermark: l.hw, LastStableOffset: l.lsoLocked(),
		Producers: len(l.producers.producers), OngoingTxns: len(l.producers.ongoing),
	}
	for _, s := range l.segments {
		st.Size += s.size
	}
	return st
}

// LatestEpoch returns the latest leader epoch in the epoch cache.
func (l *Log) LatestEpoch() (int32, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e, ok := l.epochs.latest()
	return e.Epoch, ok
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the end offset of the
// requested epoch (the start of the next higher epoch, or the log end
// offset for the latest) and the largest epoch <= the requested one; both
// -1 (UNDEFINED) when the epoch is unknown and higher than any known.
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.leo)
}

// EpochForOffset returns the leader epoch of offset per the epoch cache, or
// -1 when unknown.
func (l *Log) EpochForOffset(offset int64) int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.epochForOffset(offset)
}

// EpochEntries returns a copy of the leader-epoch cache as (epoch, start
// offset) pairs, oldest first.
func (l *Log) EpochEntries() [][2]int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([][2]int64, len(l.epochs.entries))
	for i, e := range l.epochs.entries {
		out[i] = [2]int64{int64(e.Epoch), e.StartOffset}
	}
	return out
}

// ProducerInfo describes one producer's state (DescribeProducers).
type ProducerInfo struct {
	ProducerID       int64
	ProducerEpoch    int16
	LastSequence     int32
	LastTimestamp    int64
	CoordinatorEpoch int32
	TxnStartOffset   int64 // -1 without an open transaction
}

// Producers lists the producers with state, sorted by id.
func (l *Log) Producers() []ProducerInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]ProducerInfo, 0, len(l.producers.producers))
	for pid, e := range l.producers.producers {
		out = append(out, ProducerInfo{pid, e.Epoch, e.lastSeq(), e.LastTimestamp, e.CoordinatorEpoch, e.TxnFirstOffset})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// checkInvariants asserts LSO <= HW <= LEO, LogStartOffset <= HW, strictly
// increasing segment base offsets and a monotonic epoch cache. It runs only
// in invariants/race builds. Caller holds mu or owns l exclusively.
func (l *Log) checkInvariants() {
	if !invariants.Enabled {
		return
	}
	lso := l.lsoLocked()
	invariants.Check(lso <= l.hw && l.hw <= l.leo, "log %s: LSO %d <= HW %d <= LEO %d", l.dir, lso, l.hw, l.leo)
	invariants.Check(l.logStart <= l.hw, "log %s: LogStartOffset %d > HW %d", l.dir, l.logStart, l.hw)
	invariants.Check(len(l.segments) > 0, "log %s: no segments", l.dir)
	for i := 1; i < len(l.segments); i++ {
		invariants.Check(l.segments[i-1].base < l.segments[i].base, "log %s: segment bases %d, %d not increasing", l.dir, l.segments[i-1].base, l.segments[i].base)
	}
	invariants.Check(l.active().base <= l.leo, "log %s: active base %d > LEO %d", l.dir, l.active().base, l.leo)
	for i, e := range l.epochs.entries {
		invariants.Check(e.StartOffset <= l.leo, "log %s: epoch entry %v beyond LEO %d", l.dir, e, l.leo)
		if i > 0 {
			p := l.epochs.entries[i-1]
			invariants.Check(p.Epoch < e.Epoch && p.StartOffset < e.StartOffset, "log %s: epoch cache not monotonic: %v then %v", l.dir, p, e)
		}
	}
}

// Close flushes and closes the log: pending writes are fsynced, the active
// segment's final time-index entry and a producer-state snapshot are
// written, and the offsets checkpoint records the recovery point, so the
// next Open with CleanShutdown=true needs no recovery.
func (l *Log) Close() error {
	return l.close(false)
}

func (l *Log) close(deleting bool) error {
	l.truncMu.Lock()
	defer l.truncMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for l.syncState == syncRunning {
		l.syncCond.Wait()
	}
	var errs []error
	if !deleting && l.failed == nil {
		a := l.active()
		if err := a.seal(); err != nil {
			errs = append(errs, err)
		}
		l.markSegmentDirtyLocked(a)
		// A snapshot at the end offset spares the next open a replay; an
		// empty log has nothing to replay.
		if l.leo > l.segments[0].base && !slices.Contains(l.snapshots, l.leo) {
			if err := l.takeSnapshotLocked(l.leo); err != nil {
				errs = append(errs, err)
			}
		}
		if l.epochCkptStale {
			if err := l.persistEpochsLocked(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := l.syncDirtyLocked(); err != nil {
			errs = append(errs, err)
		} else {
			l.recoveryPoint = a.base
			if l.hw < l.leo {
				l.hw = l.leo
			}
		}
	}
	l.notifyLocked()
	segs := l.segments
	pending := l.pendingDeletes
	l.pendingDeletes = nil
	l.mu.Unlock()

	if !deleting && l.failed == nil {
		if err := l.writeOffsetsCheckpoint(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range segs {
		s.closeFiles()
	}
	for _, p := range pending {
		removeFiles(l.fs, p.paths)
	}
	if l.ownSyncer {
		l.syncer.Close()
	}
	return errors.Join(errs...)
}

// Delete closes the log and removes its directory. Calls racing with it
// (an append or truncation of a mirror partition whose topic is being
// deleted) fail with ErrClosed; none writes into the directory once it is
// being removed, so it cannot come back: appends and truncations check
// closed under mu, and the checkpoint writers that run after releasing mu
// check deleted under ckptMu, which Delete holds across the removal.
func (l *Log) Delete() error {
	if err := l.close(true); err != nil {
		return err
	}
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	l.deleted = true
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("log: delete %s: %w", l.dir, err)
	}
	return nil
}

// errClosed is ErrClosed naming the log.
func (l *Log) errClosed() error { return fmt.Errorf("%w: %s", ErrClosed, l.dir) }

func removeFiles(fs vfs.FS, paths []string) {
	for _, p := range paths {
		_ = fs.Remove(p)
	}
}
