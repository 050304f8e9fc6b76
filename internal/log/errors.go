package log

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/tandem-streaming/tandem/internal/record"
)

// Errors returned by the log. Handlers map them to Kafka codes with
// errors.Is; corruption of stored or received bytes matches
// record.ErrCorrupt.
var (
	// ErrOffsetOutOfRange: a fetch or DeleteRecords offset outside
	// [LogStartOffset, LogEndOffset] (resp. above HighWatermark).
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrInvalidRecord: a batch that is intact but violates what a client
	// may send (control batch, count/offset-delta mismatch, bad sequence).
	// Errors from package record are wrapped so record.ErrInvalidRecord
	// also matches when the cause is header-level.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrMissingKey: a record without a key produced to a compacted topic
	// (LogValidator: "Compacted topic cannot accept message without key",
	// INVALID_RECORD). It also matches ErrInvalidRecord.
	ErrMissingKey = fmt.Errorf("%w: compacted topic cannot accept a record without a key", ErrInvalidRecord)
	// ErrNotCompacted: Clean on a log whose cleanup.policy lacks compact.
	ErrNotCompacted = errors.New("log: cleanup.policy does not include compact")
	// ErrCleaningAborted: a cleaning pass gave up because the log changed
	// under it (truncation, retention of the segments being cleaned,
	// close) or its context was cancelled. Nothing is lost: segments
	// already swapped are valid, the rest is cleaned by a later pass
	// (Kafka LogCleaningAbortedException).
	ErrCleaningAborted = errors.New("log: cleaning aborted")
	// ErrRecordTooLarge: a batch larger than Config.MaxMessageBytes.
	ErrRecordTooLarge = errors.New("record batch too large")
	// ErrInvalidTimestamp: a CreateTime timestamp outside
	// [now-TimestampBeforeMaxMs, now+TimestampAfterMaxMs] (KIP-937).
	ErrInvalidTimestamp = errors.New("invalid timestamp")
	// ErrOutOfOrderSequence: an idempotent batch whose sequence does not
	// follow the producer's last one (ProducerAppendInfo.checkSequence).
	ErrOutOfOrderSequence = errors.New("out of order sequence number")
	// ErrInvalidProducerEpoch: a batch or marker from an older producer epoch.
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch")
	// ErrInvalidTxnState: a non-transactional batch from a producer with an
	// open transaction (ProducerAppendInfo.appendDataBatch).
	ErrInvalidTxnState = errors.New("invalid transaction state")
	// ErrTransactionCoordinatorFenced: a marker from an older coordinator
	// epoch (ProducerAppendInfo.checkCoordinatorEpoch).
	ErrTransactionCoordinatorFenced = errors.New("transaction coordinator fenced")
	// ErrFencedLeaderEpoch: AppendAsLeader/AppendControl called with a leader
	// epoch older than the latest one in the leader-epoch cache.
	ErrFencedLeaderEpoch = errors.New("fenced leader epoch")
	// ErrUnexpectedAppendOffset: a verbatim append whose offsets are below
	// the log end offset or not increasing (UnexpectedAppendOffsetException).
	ErrUnexpectedAppendOffset = errors.New("log: unexpected append offset")
	// ErrClosed: the log was closed or deleted.
	ErrClosed = errors.New("log: closed")
	// ErrInconsistentTopicID: partition.metadata names another topic id.
	ErrInconsistentTopicID = errors.New("inconsistent topic id")
	// ErrLogFailed: an earlier fsync failed, or a write failed with an
	// error that is not transient (EIO, EROFS; see isTransient); the log
	// is offline (Log.Failed) and refuses further appends until reopened
	// (Kafka takes the log dir offline; an fsync error cannot be retried
	// safely because the kernel may have dropped the dirty pages). A
	// transient error (ENOSPC, EMFILE) fails only the operation.
	ErrLogFailed = errors.New("storage failure")
)

// isTransient reports whether err is a storage condition that clears by
// itself and leaves nothing in doubt: the file system is full (ENOSPC, or
// the user's quota, EDQUOT), or the process or system ran out of file
// descriptors (EMFILE, ENFILE) or kernel memory (ENOMEM). An operation
// failing with one of these changed nothing that the caller cannot cut
// back, so the log stays writable and a retry succeeds once the condition
// has cleared. Anything else (EIO, EROFS, ...) is a fault of the device or
// the file system: the log goes offline (failLocked).
//
// An fsync failure is never transient, whatever its errno: the kernel
// may have dropped the dirty pages it could not write and marked them
// clean, so a later fsync that succeeds proves nothing (PostgreSQL's
// "fsyncgate", 2018).
func isTransient(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOMEM)
}

// ErrCorrupt is record.ErrCorrupt, re-exported for convenience.
var ErrCorrupt = record.ErrCorrupt
