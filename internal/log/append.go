package log

import (
	"errors"
	"fmt"
	"math"

	"github.com/tandem-streaming/tandem/internal/record"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// AppendAsLeader validates records (one or more v2 batches from a produce
// request) and appends them at the log end offset as leader in leaderEpoch.
// It rewrites, in place in records, each batch's baseOffset and
// partitionLeaderEpoch (outside the CRC) and, on LogAppendTime topics, the
// timestamp type and MaxTimestamp (recomputing the CRC); nothing else is
// touched (LogValidator in-place assignment).
//
// The whole input is rejected, with nothing appended, when any batch fails
// validation (see validateLeaderInput) or the idempotence checks. An
// idempotent retry of one of the producer's last five batches is not an
// error: nothing is appended and AppendResult.Duplicate carries the
// original offsets.
func (l *Log) AppendAsLeader(records []byte, leaderEpoch int32) (AppendResult, error) {
	return l.appendLeader(records, leaderEpoch, originClient)
}

// AppendControl writes a COMMIT or ABORT transaction marker for producerID
// as leader in leaderEpoch (what WriteTxnMarkers does for the transaction
// coordinator). The marker is checked against the producer's epoch and the
// coordinator epoch (ErrInvalidProducerEpoch, ErrTransactionCoordinatorFenced).
func (l *Log) AppendControl(producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, leaderEpoch int32) (AppendResult, error) {
	b := record.NewControlBatch(producerID, producerEpoch, commit, coordinatorEpoch, l.now().UnixMilli())
	return l.appendLeader(b, leaderEpoch, originCoordinator)
}

// saturating a+b for timestamp windows configured as MaxInt64.
func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// validateLeaderInput checks a produce request's records without touching
// log state (so it runs before taking the log lock), following Kafka's
// LogValidator/UnifiedLog.analyzeAndValidateRecords:
//
//   - framing, magic 2 and header consistency (record.Batch.ValidateHeader,
//     including the CRC); no trailing partial batch or garbage;
//   - no control batches from clients;
//   - recordsCount == lastOffsetDelta+1 and > 0;
//   - size <= max.message.bytes;
//   - CreateTime timestamps within message.timestamp.{before,after}.max.ms;
//   - uncompressed batches: records decode, offset deltas run 0..n-1 and
//     every record timestamp is in range;
//   - on compacted topics (Config.Compact), every record of every batch,
//     compressed or not, has a non-null key (ErrMissingKey) and offset
//     deltas run 0..n-1.
//
// Compressed batches get header-level checks only. Decompressing every
// produce on the hot path would cost far more CPU than the rest of the
// append (Kafka pays it because it re-assigns inner offsets for magic < 2;
// v2 needs no inner rewrite), and the CRC already guarantees the bytes are
// what the producer sent. The timestamp check then uses BaseTimestamp and
// MaxTimestamp.
// TODO(storage): validate inner records of compressed batches (bounded
// decompression) behind a topic or broker option, for parity with Kafka's
// offset-delta and per-record timestamp checks.
func validateLeaderInput(buf []byte, origin appendOrigin, cfg *Config, nowMs int64) ([]record.Batch, int, error) {
	var batches []record.Batch
	records := 0
	it := record.NewIter(buf)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		i := len(batches)
		if err := b.ValidateHeader(); err != nil {
			return nil, 0, fmt.Errorf("batch %d: %w", i, err)
		}
		if b.IsControl() && origin == originClient {
			return nil, 0, fmt.Errorf("%w: batch %d: clients may not write control batches", ErrInvalidRecord, i)
		}
		n := b.NumRecords()
		if n == 0 || int64(n) != int64(b.LastOffsetDelta())+1 {
			return nil, 0, fmt.Errorf("%w: batch %d: record count %d does not match lastOffsetDelta %d",
				ErrInvalidRecord, i, n, b.LastOffsetDelta())
		}
		if len(b) > int(cfg.MaxMessageBytes) {
			return nil, 0, fmt.Errorf("%w: batch %d is %d bytes, max.message.bytes is %d",
				ErrRecordTooLarge, i, len(b), cfg.MaxMessageBytes)
		}
		checkTS := origin == originClient && !cfg.LogAppendTime
		lo, hi := addSat(nowMs, -cfg.TimestampBeforeMaxMs), addSat(nowMs, cfg.TimestampAfterMaxMs)
		if cfg.TimestampBeforeMaxMs == math.MaxInt64 {
			lo = math.MinInt64
		}
		tsErr := func(ts int64) error {
			return fmt.Errorf("%w: batch %d: timestamp %d outside [%d, %d] (now %d)", ErrInvalidTimestamp, i, ts, lo, hi, nowMs)
		}
		if checkTS {
			if ts := b.MaxTimestamp(); ts < lo || ts > hi {
				return nil, 0, tsErr(ts)
			}
			if ts := b.BaseTimestamp(); !b.HasDeleteHorizon() && (ts < lo || ts > hi) {
				return nil, 0, tsErr(ts)
			}
		}
		// A compacted topic needs every record's key (LogValidator
		// validateKey), so its compressed batches are decoded too; their
		// offset deltas are checked as well, since compaction relies on
		// them.
		needKeys := cfg.Compact && !b.IsControl()
		if b.Compression() == record.None || needKeys {
			next := int32(0)
			limit := len(b)
			if b.Compression() != record.None {
				limit = record.DefaultMaxDecompressedBytes
			}
			err := b.RecordsLimit(limit, func(r record.Record) error {
				if r.OffsetDelta != next {
					return fmt.Errorf("%w: batch %d: record %d has offset delta %d", ErrInvalidRecord, i, next, r.OffsetDelta)
				}
				if needKeys && r.Key == nil {
					return fmt.Errorf("%w (batch %d, record %d)", ErrMissingKey, i, next)
				}
				next++
				if checkTS && b.Compression() == record.None {
					if ts := r.Timestamp(b); ts < lo || ts > hi {
						return tsErr(ts)
					}
				}
				return nil
			})
			if err != nil {
				return nil, 0, fmt.Errorf("batch %d: %w", i, err)
			}
		}
		batches = append(batches, b)
		records += int(n)
	}
	if err := it.Err(); err != nil {
		return nil, 0, fmt.Errorf("batch %d: %w", len(batches), err)
	}
	if rest := it.Rest(); len(rest) > 0 {
		return nil, 0, record.CorruptErrorf("%d bytes of partial batch or garbage after batch %d", len(rest), len(batches))
	}
	return batches, records, nil
}

func (l *Log) appendLeader(buf []byte, leaderEpoch int32, origin appendOrigin) (AppendResult, error) {
	cfg := l.config()
	nowMs := l.now().UnixMilli()
	batches, nrec, err := validateLeaderInput(buf, origin, cfg, nowMs)
	if err != nil {
		return AppendResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return AppendResult{}, err
	}
	if len(batches) == 0 {
		return AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTime: -1, LogStartOffset: l.logStart}, nil
	}
	if latest, ok := l.epochs.latest(); ok && leaderEpoch < latest.Epoch {
		return AppendResult{}, fmt.Errorf("%w: append in epoch %d, latest epoch is %d", ErrFencedLeaderEpoch, leaderEpoch, latest.Epoch)
	}

	// Producer state first: duplicates and sequence errors reject the
	// request before anything is modified.
	pa := l.producers.prepare(origin)
	off := l.leo
	for _, b := range batches {
		first, last := off, off+int64(b.LastOffsetDelta())
		if b.HasProducerID() {
			if b.IsControl() {
				m, err := b.ControlMarker()
				if err != nil {
					return AppendResult{}, fmt.Errorf("log: %w", err)
				}
				if m.Type.IsTxnMarker() {
					if err := pa.appendMarker(b.ProducerID(), b.ProducerEpoch(), m, first, b.MaxTimestamp()); err != nil {
						return AppendResult{}, err
					}
				}
			} else {
				if dup, ok := pa.duplicateOf(b); ok && origin == originClient {
					ts := int64(-1)
					if cfg.LogAppendTime {
						ts = dup.Timestamp
					}
					return AppendResult{BaseOffset: dup.FirstOffset, LastOffset: dup.LastOffset, LogAppendTime: ts,
						LogStartOffset: l.logStart, Duplicate: true}, nil
				}
				if err := pa.appendData(b, first, last); err != nil {
					return AppendResult{}, err
				}
			}
		}
		off = last + 1
	}

	// Assign offsets and the leader epoch in place.
	appendTime := int64(-1)
	off = l.leo
	for _, b := range batches {
		b.SetBaseOffset(off)
		b.SetPartitionLeaderEpoch(leaderEpoch)
		if cfg.LogAppendTime {
			b.SetLogAppendTime(nowMs)
			appendTime = nowMs
		}
		off = b.NextOffset()
	}
	// Batches from a LogAppendTime topic carry the broker time, which the
	// producer-state timestamps must reflect too.
	if cfg.LogAppendTime {
		for _, e := range pa.updated {
			for i := range e.Batches {
				if e.Batches[i].FirstOffset >= l.leo {
					e.Batches[i].Timestamp = nowMs
				}
			}
			e.LastTimestamp = nowMs
		}
	}
	first := l.leo
	if err := l.writeBatchesLocked(buf, batches); err != nil {
		return AppendResult{}, err
	}
	if err := l.finishAppendLocked(pa, batches); err != nil {
		return AppendResult{}, err
	}
	return AppendResult{
		BaseOffset: first, LastOffset: off - 1, LogAppendTime: appendTime, LogStartOffset: l.logStart,
		Batches: len(batches), Records: nrec, Bytes: len(buf),
	}, nil
}

// AppendVerbatim appends batches that already carry their offsets and leader
// epochs (a follower or a mirror copying a source partition byte for byte,
// UnifiedLog.appendAsFollower). Batches are never modified. It requires:
//   - every batch passes record.Batch.ValidateHeader (including the CRC);
//   - the first batch's base offset >= LogEndOffset
//     (ErrUnexpectedAppendOffset), and each batch starts after the previous
//     one's last offset; gaps are legal (compaction, aborted data) and the
//     next LogEndOffset is the last batch's LastOffset+1.
//
// A trailing partial batch (legal at the end of a fetch response) is
// dropped, as Kafka's trimInvalidBytes does; AppendResult.Bytes says how
// much was appended. Producer state (including transactions and the
// transaction index) and the leader-epoch cache are rebuilt from the
// batches exactly as a Kafka follower does, without sequence checks.
// max.message.bytes is not enforced: the source already did, and a mirror
// must not stall on a config difference.
//
// If the log is empty (no batch ever appended since creation or the last
// TruncateFullyAndStartAt) and the first offset is above the log end
// offset, the log start offset moves up to it: a mirror starting mid-way
// through its source begins where the source's data begins.
func (l *Log) AppendVerbatim(records []byte) (AppendResult, error) {
	var batches []record.Batch
	nrec := 0
	it := record.NewIter(records)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if err := b.ValidateHeader(); err != nil {
			return AppendResult{}, fmt.Errorf("batch %d: %w", len(batches), err)
		}
		if n := len(batches); n > 0 && b.BaseOffset() <= batches[n-1].LastOffset() {
			return AppendResult{}, fmt.Errorf("%w: batch %d base offset %d is not above the previous last offset %d",
				ErrUnexpectedAppendOffset, n, b.BaseOffset(), batches[n-1].LastOffset())
		}
		if b.BaseOffset() < 0 || b.LastOffset() < b.BaseOffset() {
			return AppendResult{}, fmt.Errorf("%w: batch %d has offsets %d..%d", ErrUnexpectedAppendOffset, len(batches), b.BaseOffset(), b.LastOffset())
		}
		batches = append(batches, b)
		nrec += int(b.NumRecords())
	}
	if err := it.Err(); err != nil {
		return AppendResult{}, fmt.Errorf("batch %d: %w", len(batches), err)
	}
	valid := it.Pos()

	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if len(batches) == 0 {
		defer l.mu.Unlock()
		return AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTime: -1, LogStartOffset: l.logStart}, nil
	}
	first := batches[0].BaseOffset()
	if first < l.leo {
		defer l.mu.Unlock()
		return AppendResult{}, fmt.Errorf("%w: first offset %d is below the log end offset %d", ErrUnexpectedAppendOffset, first, l.leo)
	}
	movedStart := false
	if first > l.leo && l.isEmptyLocked() {
		if err := l.resetEmptyLocked(first); err != nil {
			l.mu.Unlock()
			return AppendResult{}, err
		}
		movedStart = true
	}
	pa := l.producers.prepare(originReplication)
	for _, b := range batches {
		if !b.HasProducerID() {
			continue
		}
		if b.IsControl() {
			m, err := b.ControlMarker()
			if err != nil {
				l.mu.Unlock()
				return AppendResult{}, fmt.Errorf("log: control batch at offset %d: %w", b.BaseOffset(), err)
			}
			if m.Type.IsTxnMarker() {
				_ = pa.appendMarker(b.ProducerID(), b.ProducerEpoch(), m, b.BaseOffset(), b.MaxTimestamp())
			}
			continue
		}
		_ = pa.appendData(b, b.BaseOffset(), b.LastOffset())
	}
	err := l.writeBatchesLocked(records[:valid], batches)
	if err == nil {
		err = l.finishAppendLocked(pa, batches)
	}
	res := AppendResult{
		BaseOffset: first, LastOffset: batches[len(batches)-1].LastOffset(), LogAppendTime: -1,
		LogStartOffset: l.logStart, Batches: len(batches), Records: nrec, Bytes: valid,
	}
	l.mu.Unlock()
	if err != nil {
		return AppendResult{}, err
	}
	if movedStart {
		if err := l.writeOffsetsCheckpoint(); err != nil {
			return res, fmt.Errorf("log: persist log start offset: %w", err)
		}
	}
	return res, nil
}

func (l *Log) writableLocked() error {
	if l.closed {
		return l.errClosed()
	}
	return l.failed
}

// isEmptyLocked: nothing was ever appended since creation or the last full
// truncation.
func (l *Log) isEmptyLocked() bool {
	return len(l.segments) == 1 && l.active().size == 0 && l.leo == l.logStart && l.leo == l.active().base
}

// resetEmptyLocked moves an empty log to start at offset.
func (l *Log) resetEmptyLocked(offset int64) error {
	old := l.active()
	s, err := createSegment(l.files, l.dir, offset)
	if err != nil {
		return err
	}
	l.segments = []*segment{s}
	l.scheduleDeleteLocked([]*segment{old}, 0)
	l.leo, l.logStart, l.hw, l.hwSegBase, l.hwPos, l.recoveryPoint = offset, offset, offset, offset, 0, offset
	l.epochs.entries = nil
	l.producers.reset()
	l.cleanOffset = -1
	l.dirSync = true
	l.notifyLocked()
	return nil
}

// writeBatchesLocked writes batches (contiguous in buf) to the active
// segment, rolling before a batch when needed, and updates the indexes.
//
// It is all or nothing. When a write, an index write or a roll fails, the
// log is put back as it was before the call (appendUndo) and the error is
// returned: nothing of the request is acknowledged or visible. What
// happens next depends on the error (docs/operations.md, Storage faults):
// a transient condition (no space, no descriptors; isTransient) leaves the
// log writable, so the producer's retry succeeds once the condition has
// cleared; anything else (EIO, EROFS, ...) takes the log offline
// (failLocked), as Kafka takes the log directory offline.
func (l *Log) writeBatchesLocked(buf []byte, batches []record.Batch) error {
	u := l.beginAppendLocked()
	err := l.writeBatchesStepLocked(buf, batches, u)
	if err != nil {
		l.undoAppendLocked(u, err)
		return err
	}
	l.commitAppendLocked(u)
	return nil
}

// appendUndo is what an append must restore when it fails part-way.
type appendUndo struct {
	nseg     int      // len(l.segments) before the append
	active   *segment // the active segment before the append ...
	saved    segment  // ... and a copy of its state
	sealed   int
	replaced []*segment // empty active segments a roll replaced; deleted at commit
	touched  bool       // a write to the active segment's files was attempted
}

func (l *Log) beginAppendLocked() *appendUndo {
	a := l.active()
	return &appendUndo{nseg: len(l.segments), active: a, saved: *a, sealed: l.sealed}
}

func (l *Log) commitAppendLocked(u *appendUndo) {
	if len(u.replaced) > 0 {
		l.scheduleDeleteLocked(u.replaced, 0)
	}
}

// undoAppendLocked puts the segment list and the previously active
// segment back as they were, cutting off whatever the append wrote, and
// takes the log offline if err is not transient or the files cannot be
// cut back (their content beyond the tracked size would be unknown).
func (l *Log) undoAppendLocked(u *appendUndo, err error) {
	var errs []error
	// Segments the append created: never visible, never acknowledged.
	created := l.segments[u.nseg-1:]
	if created[0] == u.active {
		created = created[1:]
	}
	for _, s := range created {
		errs = append(errs, discardNewSegment(s))
	}
	l.segments = append(l.segments[:u.nseg-1], u.active)
	a := u.active
	*a = u.saved
	l.sealed = u.sealed
	if u.touched {
		// Bytes written past the old size (a partial or whole batch) and
		// index entries past the old counts go.
		errs = append(errs, truncateFile(a.log, a.size),
			l.truncateIfExists(a.index, a.indexEntries*offsetEntrySize),
			l.truncateIfExists(a.timeIndex, a.timeEntries*timeEntrySize))
	}
	l.dirSync = true
	if cerr := errors.Join(errs...); cerr != nil {
		l.failLocked(fmt.Errorf("%w (cutting back the failed append: %w)", err, cerr))
		return
	}
	if !isTransient(err) {
		l.failLocked(err)
		return
	}
	l.logger.Warn("log: append failed, nothing was written; retry once the condition clears",
		"dir", l.dir, "err", err)
}

// truncateIfExists truncates h's file to size unless the file was never
// created (index files are created lazily).
func (l *Log) truncateIfExists(h *fileHandle, size int64) error {
	if _, err := l.fs.Stat(h.currentPath()); vfs.IsNotExist(err) {
		return nil
	}
	return truncateFile(h, size)
}

// discardNewSegment empties and removes the files of a segment an append
// created and then gave up. Only the truncation counts: an empty .log left
// behind by a failed removal is the file the next roll at that offset
// creates again (O_TRUNC), and recovery opens it as an empty segment.
func discardNewSegment(s *segment) error {
	err := truncateFile(s.log, 0)
	if errors.Is(err, errHandleClosed) {
		err = nil
	}
	discardSegment(s)
	return err
}

func (l *Log) writeBatchesStepLocked(buf []byte, batches []record.Batch, u *appendUndo) error {
	cfg := l.config()
	a := l.active()
	pending := 0 // bytes of buf not yet written, starting at buf[start:]
	start := 0
	ix := &indexer{s: a, interval: int64(cfg.IndexIntervalBytes)}
	pos := a.size
	flush := func() error {
		if pending == 0 {
			return nil
		}
		if a == u.active {
			u.touched = true
		}
		if err := writeAt(a.log, buf[start:start+pending], a.size); err != nil {
			return fmt.Errorf("log: write segment %d: %w", a.base, err)
		}
		if err := ix.flush(); err != nil {
			return err
		}
		a.size += int64(pending)
		l.markDirtyLocked(a.log)
		start += pending
		pending = 0
		return nil
	}
	for i, b := range batches {
		if l.shouldRollLocked(a, int64(pending)+int64(len(b)), b) {
			if err := flush(); err != nil {
				return err
			}
			// A producer snapshot is exact only before the first batch of
			// the request: later ones are not yet in the committed state.
			if err := l.rollLocked(b.BaseOffset(), i == 0, u); err != nil {
				return err
			}
			a = l.active()
			ix = &indexer{s: a, interval: int64(cfg.IndexIntervalBytes)}
			pos = a.size
		}
		ix.add(b, pos, int64(len(b)))
		pos += int64(len(b))
		pending += len(b)
	}
	return flush()
}

// finishAppendLocked commits producer state, writes transaction-index
// entries, updates the leader-epoch cache and the log end offset.
func (l *Log) finishAppendLocked(pa *producerAppend, batches []record.Batch) error {
	a := l.active()
	pa.commit()
	before := a.txnEntries
	if err := l.completeTxnsLocked(a, pa.completed, true); err != nil {
		l.failLocked(err)
		return err
	}
	if a.txnEntries != before {
		l.markDirtyLocked(a.txnIndex)
	}
	epochChanged := false
	for _, b := range batches {
		if c, removed := l.epochs.assign(b.PartitionLeaderEpoch(), b.BaseOffset()); c {
			epochChanged = true
			if len(removed) > 0 {
				l.logger.Warn("log: new epoch entry truncated conflicting entries", "dir", l.dir,
					"epoch", b.PartitionLeaderEpoch(), "startOffset", b.BaseOffset(), "removed", removed)
			}
		}
	}
	l.leo = batches[len(batches)-1].NextOffset()
	if epochChanged {
		if err := l.persistEpochsLocked(); err != nil {
			l.failLocked(err)
			return err
		}
	}
	l.checkInvariants()
	return nil
}

// shouldRollLocked follows LogSegment.shouldRoll: the active segment is
// non-empty and would exceed segment.bytes; or it is non-empty and the
// incoming batch's max timestamp is more than segment.ms past the max
// timestamp of the segment's first batch (Kafka's rollingBasedTimestamp —
// record time, so LogAppendTime topics roll on broker time); or the batch's
// last offset no longer fits the int32 relative offsets of the indexes, or
// its position the int32 positions.
func (l *Log) shouldRollLocked(a *segment, size int64, b record.Batch) bool {
	cfg := l.config()
	if d := b.LastOffset() - a.base; d > math.MaxInt32 || d < 0 {
		return true
	}
	if a.size == 0 {
		return false
	}
	if a.size+size > cfg.SegmentBytes || a.size+size > math.MaxInt32 {
		return true
	}
	if !a.firstBatchTSKnown {
		a.firstBatchTS, a.firstBatchTSKnown = l.readFirstBatchTS(a), true
	}
	rollMs := cfg.SegmentMs
	if cfg.Compact {
		// KIP-354: a compacted log rolls at max.compaction.lag.ms at the
		// latest, so the cleaner can reach the data (LogConfig.maxSegmentMs).
		rollMs = min(rollMs, cfg.MaxCompactionLagMs)
	}
	if ts := b.MaxTimestamp(); a.firstBatchTS >= 0 && ts >= 0 && ts-a.firstBatchTS > rollMs {
		return true
	}
	return false
}

func (l *Log) readFirstBatchTS(s *segment) int64 {
	var h [record.BatchHeaderSize]byte
	if s.size < record.BatchHeaderSize || readAt(s.log, h[:], 0) != nil {
		return record.NoTimestamp
	}
	return record.Batch(h[:]).MaxTimestamp()
}

// rollLocked starts a new active segment at base (LocalLog.roll). An empty
// active segment is replaced rather than kept. The old segment gets its
// final time-index entry, all its files are fsynced by the next round,
// and a producer-state snapshot is taken at the new base offset.
//
// A failure leaves the segment list as it was (the sealed segment stays
// active; its extra time-index entry holds its true maximum) and does not
// fail the log: the caller decides (see writeBatchesLocked). Within an
// append (u non-nil) a replaced empty segment is deleted only when the
// append commits, so that undoing the append can put it back.
func (l *Log) rollLocked(base int64, snapshot bool, u *appendUndo) error {
	old := l.active()
	if old.size == 0 {
		if old.base == base {
			return nil
		}
		s, err := createSegment(l.files, l.dir, base)
		if err != nil {
			return err
		}
		l.segments[len(l.segments)-1] = s
		if u != nil && old == u.active {
			u.replaced = append(u.replaced, old)
		} else {
			l.scheduleDeleteLocked([]*segment{old}, 0)
		}
		l.dirSync = true
		return nil
	}
	if u != nil && old == u.active {
		u.touched = true
	}
	if err := old.seal(); err != nil {
		return err
	}
	s, err := createSegment(l.files, l.dir, base)
	if err != nil {
		return err
	}
	l.segments = append(l.segments, s)
	l.markSegmentDirtyLocked(old)
	l.sealed++
	l.dirSync = true
	if !snapshot {
		return nil
	}
	if err := l.takeSnapshotLocked(base); err != nil {
		l.logger.Warn("log: producer snapshot at roll failed", "dir", l.dir, "offset", base, "err", err)
	}
	return nil
}
