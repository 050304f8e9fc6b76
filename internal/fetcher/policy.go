package fetcher

import (
	"fmt"
	"log/slog"

	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"
)

// Policy is what the fetch engine leaves to the kind of fetcher it runs
// for. The engine fetches, tracks leader epochs, detects divergence and
// truncates (Kafka's AbstractFetcherThread); a Policy says where a
// partition starts, what happens to fetched data and how to recover from
// OFFSET_OUT_OF_RANGE (the parts Kafka's ReplicaFetcherThread and the
// follower's Partition supply). MirrorPolicy is a cluster link's mirror;
// a replica follower will be another Policy (see docs/mirroring.md,
// "Policies").
//
// A Policy is consulted on the goroutine that owns the partition (a
// worker, or the holder of Fetcher.opMu while it has no leader), one
// partition at a time, and must not call into the Fetcher. Its methods
// are deterministic and do no network I/O: a look-up at the leader is
// asked for with an ActionLookup Position, whose answer comes back
// through Resolved.
type Policy interface {
	// Start is consulted once, when a partition is added: ActionResume
	// (fetch from the target's log end offset after validating it against
	// the leader's epochs) or ActionLookup.
	Start(t Target, pc PartitionConfig) Position
	// OutOfRange is consulted when the leader answers OFFSET_OUT_OF_RANGE
	// to a fetch at the target's log end offset (Kafka's
	// handleOutOfRangeError / fetchOffsetAndTruncate).
	OutOfRange(t Target) Position
	// Resolved is consulted with the leader's answer to a Lookup the
	// policy asked for: asked is that Position (its Step tells the policy
	// where it was), offset the ListOffsets answer (-1: no record at or
	// after a timestamp).
	Resolved(t Target, asked Position, offset int64) Position
	// ProcessPartitionData stores one fetch response's data for the
	// partition (Kafka's processPartitionData). d.Records holds whole
	// batches only, none wholly below d.FetchOffset, already checked by
	// the engine (magic, epochs, framing); it may be empty, and the
	// watermarks are still news then. The engine continues from the
	// returned LastOffset+1 (when Batches > 0) and maps errors: log.ErrClosed
	// or ErrTargetGone → StateTargetGone; ErrUnexpectedAppend,
	// log.ErrUnexpectedAppendOffset and storage errors → Failed; corrupt
	// or invalid records → back off and retry.
	ProcessPartitionData(t Target, d PartitionData) (log.AppendResult, error)
}

// Action is what a Position asks the engine to do.
type Action uint8

// Actions.
const (
	// ActionResume: fetch from the target's log end offset.
	ActionResume Action = iota
	// ActionLookup: ask the leader ListOffsets(Timestamp) and hand the
	// answer to Policy.Resolved (the partition is Resolving meanwhile).
	ActionLookup
	// ActionTruncateTo: truncate the target to Offset (Log.TruncateTo
	// removes a batch the offset falls inside), then fetch from its end.
	ActionTruncateTo
	// ActionStartAt: TruncateFullyAndStartAt(Offset) unless the target is
	// already an empty log at Offset, then fetch from there.
	ActionStartAt
)

func (a Action) String() string {
	return [...]string{"resume", "lookup", "truncate-to", "start-at"}[a]
}

// Position is a policy's decision about where a partition fetches from.
type Position struct {
	Action Action
	// Timestamp is ActionLookup's ListOffsets timestamp:
	// ListOffsetsEarliest, ListOffsetsLatest or milliseconds.
	Timestamp int64
	// Offset is ActionTruncateTo's and ActionStartAt's offset.
	Offset int64
	// Step is the policy's own marker, handed back to Resolved with the
	// look-up's answer (for resolutions that take several look-ups).
	Step uint8
	// Reason explains a truncation or a start, for logs and
	// Status.LastTruncation.
	Reason string
}

// PartitionData is what the engine hands Policy.ProcessPartitionData.
type PartitionData struct {
	TopicPartition
	// FetchOffset is the offset the data was fetched at, the target's log
	// end offset.
	FetchOffset int64
	// Records are whole batches, the first ending at or after FetchOffset
	// (it may begin below it: see MirrorPolicy).
	Records []byte
	// The leader's watermarks from the response (a follower follows its
	// high watermark and log start offset; a mirror keeps its own).
	HighWatermark, LastStableOffset, LogStartOffset int64
}

// MirrorPolicy is the policy of a cluster link's mirror partitions
// (docs/mirroring.md): a new mirror starts where
// PartitionConfig.Start says (mirror.start.offset.spec), fetched batches
// are appended verbatim at their source offsets, and OFFSET_OUT_OF_RANGE
// is recovered with the source's high watermark and log start offset.
// The zero value is ready to use; Logger may be nil.
type MirrorPolicy struct {
	Logger *slog.Logger
}

// mirrorStep is MirrorPolicy's Position.Step: which look-up a Resolving
// mirror partition waits for.
type mirrorStep uint8

const (
	stepNone mirrorStep = iota
	// A new mirror's start (mirror.start.offset.spec).
	stepStartEarliest
	stepStartLatest
	stepStartTimestamp
	// OFFSET_OUT_OF_RANGE recovery (fetchOffsetAndTruncate): the source's
	// end offset first, then, if needed, its log start offset.
	stepResetLatest
	stepResetEarliest
)

func (r mirrorStep) String() string {
	return [...]string{"none", "start-earliest", "start-latest", "start-timestamp", "reset-latest", "reset-earliest"}[r]
}

func lookup(ts int64, step mirrorStep) Position {
	return Position{Action: ActionLookup, Timestamp: ts, Step: uint8(step)}
}

// Start implements Policy: a target that never held data (log start and
// end offsets both 0) takes the configured start spec; anything else
// resumes at its end (Kafka's InitialFetchState.initOffset < 0 versus a
// known offset).
func (MirrorPolicy) Start(t Target, pc PartitionConfig) Position {
	if t.LogEndOffset() != 0 || t.LogStartOffset() != 0 {
		return Position{Action: ActionResume}
	}
	switch pc.Start.kind {
	case startEarliest:
		return lookup(ListOffsetsEarliest, stepStartEarliest)
	case startLatest:
		return lookup(ListOffsetsLatest, stepStartLatest)
	case startTimestamp:
		return lookup(pc.Start.ts.UnixMilli(), stepStartTimestamp)
	}
	return Position{Action: ActionResume}
}

// OutOfRange implements Policy: Kafka's fetchOffsetAndTruncate with
// "latest" meaning the source's high watermark (a consumer-style fetcher
// cannot see the leader's log end offset), done as two look-ups.
func (MirrorPolicy) OutOfRange(Target) Position {
	return lookup(ListOffsetsLatest, stepResetLatest)
}

// Resolved implements Policy.
func (MirrorPolicy) Resolved(t Target, asked Position, offset int64) Position {
	step := mirrorStep(asked.Step)
	switch step {
	case stepStartEarliest, stepStartLatest:
		return startAt(offset, step)
	case stepStartTimestamp:
		if offset < 0 {
			// No record at or after the timestamp: start at the end.
			return lookup(ListOffsetsLatest, stepStartLatest)
		}
		return startAt(offset, step)
	case stepResetLatest:
		// fetchOffsetAndTruncate, first half: a source high watermark
		// below the local end offset means the source lost data the
		// mirror has (unclean election, or a truncated source): truncate
		// to it.
		if leo := t.LogEndOffset(); offset < leo {
			return Position{Action: ActionTruncateTo, Offset: offset,
				Reason: fmt.Sprintf("OFFSET_OUT_OF_RANGE: source high watermark %d below local log end offset %d", offset, leo)}
		}
		return lookup(ListOffsetsEarliest, stepResetEarliest)
	case stepResetEarliest:
		// Second half: the source's log start passed the local end
		// (retention, DeleteRecords): start over there (KIP-1279's rule).
		// Otherwise resume at the local end (a transient range error
		// after a leader change; Kafka's second case).
		if leo := t.LogEndOffset(); offset > leo {
			return Position{Action: ActionStartAt, Offset: offset,
				Reason: fmt.Sprintf("OFFSET_OUT_OF_RANGE: source log start offset %d above local log end offset %d", offset, leo)}
		}
	}
	return Position{Action: ActionResume}
}

// startAt positions a new mirror: the empty log restarted at offset, so
// its log start offset is the source offset the mirror begins at.
func startAt(offset int64, step mirrorStep) Position {
	return Position{Action: ActionStartAt, Offset: max(offset, 0), Reason: "mirror.start.offset.spec " + step.String()}
}

// ProcessPartitionData implements Policy: ReplicaFetcherThread's
// processPartitionData for a mirror — the batches are appended verbatim,
// at their source offsets (Log.AppendVerbatim changes nothing). If the
// first batch begins below the fetch offset of an empty log (the source's
// log start, or a timestamp start, inside a batch), the log is restarted
// at the batch's base offset and keeps the batch whole, as Kafka's
// Partition.appendRecordsToFollowerOrFutureReplica does; on a non-empty
// log that is ErrUnexpectedAppend.
func (p MirrorPolicy) ProcessPartitionData(t Target, d PartitionData) (log.AppendResult, error) {
	if len(d.Records) == 0 {
		return log.AppendResult{BaseOffset: -1, LastOffset: -1}, nil
	}
	if base := record.Batch(d.Records).BaseOffset(); base < d.FetchOffset {
		first := record.Batch(d.Records)
		if d.FetchOffset != t.LogStartOffset() {
			return log.AppendResult{}, fmt.Errorf("%w: batch %d-%d straddles the local log end offset %d",
				ErrUnexpectedAppend, base, first.LastOffset(), d.FetchOffset)
		}
		if p.Logger != nil {
			p.Logger.Info("fetcher: first batch starts below the empty log's start; restarting the log at its base",
				"partition", d.TopicPartition.String(), "logStart", d.FetchOffset, "batchBase", base)
		}
		if err := t.TruncateFullyAndStartAt(base); err != nil {
			return log.AppendResult{}, fmt.Errorf("restart log of %s at %d: %w", d.TopicPartition, base, err)
		}
	}
	res, err := t.AppendVerbatim(d.Records)
	if err != nil {
		return res, fmt.Errorf("append %s at %d: %w", d.TopicPartition, t.LogEndOffset(), err)
	}
	return res, nil
}
