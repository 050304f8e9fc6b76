package fetcher

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/invariants"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/record"
)

// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
const (
	undefinedEpoch  int32 = -1
	undefinedOffset int64 = -1
)

// phase is where a partition is in Kafka's fetch state machine
// (PartitionFetchState.state), plus Resolving for the ListOffsets look-ups
// that Kafka's fetcher makes inline (fetchOffsetAndTruncate), Failed for
// Kafka's failedPartitions, and Gone for a target closed under the
// fetcher.
type phase uint8

const (
	phaseResolving phase = iota
	phaseTruncating
	phaseFetching
	phaseFailed
	phaseGone
)

func (p phase) String() string {
	switch p {
	case phaseResolving:
		return "resolving"
	case phaseTruncating:
		return "truncating"
	case phaseFetching:
		return "fetching"
	case phaseGone:
		return "target-gone"
	}
	return "failed"
}

// fetchState is one partition's fetch state: Kafka's PartitionFetchState
// together with the per-partition logic of AbstractFetcherThread that
// consumes responses. It is deterministic and does no network I/O: the
// engine (and the transcript tests) feed it responses; it reads and
// changes only its Target, and consults the engine's Policy for where to
// start, what to do with fetched data and OFFSET_OUT_OF_RANGE. What it
// needs from above (a raised leader epoch) it returns as an Effect and
// waits for the acknowledgement. One goroutine owns it at a time (see
// docs/mirroring.md, "Ownership").
type fetchState struct {
	tp      TopicPartition
	target  Target
	topicID [16]byte // source topic id; zero until known

	phase phase
	pos   Position // in phaseResolving: the look-up asked for
	// resetting: the Resolving look-ups recover from OFFSET_OUT_OF_RANGE
	// (their answers are the leader's watermarks; a restart of the log is
	// a truncation) rather than position a new partition.
	resetting bool

	fetchOffset        int64
	lastFetchedEpoch   int32
	leader             int32 // source broker, -1 unknown
	currentLeaderEpoch int32 // the leader's epoch from source metadata

	paused     bool
	delayUntil time.Time // Kafka's DelayedItem: no requests before it
	failure    error     // phaseFailed's cause

	// raiseEpoch: batches above ackedEpoch need an
	// EffectRaiseLeaderEpoch acknowledged first (PartitionConfig.
	// RaiseLeaderEpoch). ackedEpoch is the highest epoch acknowledged (or
	// just passed, without raiseEpoch); requestedEpoch the highest one
	// asked for and not answered yet (-1 none); held the fetched data
	// waiting for it. maxSourceEpoch is the highest source epoch passed.
	raiseEpoch     bool
	ackedEpoch     int32
	requestedEpoch int32
	held           *heldFetch
	maxSourceEpoch int32

	// Observations for Status.
	sourceHW, sourceLSO, sourceLogStart int64
	lastFetch                           time.Time
	bytes, records                      int64
	truncations                         int64
	lastTruncation                      Truncation
	lastErr                             error
	errorSince                          time.Time
}

// heldFetch is a fetch answer held back until the leader epoch it needs
// is acknowledged; it is replayed through onFetch, which drops it if the
// partition moved on meanwhile.
type heldFetch struct {
	req   FetchPartition
	data  FetchData
	epoch int32
}

// stepEnv is what a transition consults besides the partition itself.
type stepEnv struct {
	now     time.Time
	caps    Capabilities
	backoff time.Duration // replica.fetch.backoff.ms
	policy  Policy
	logger  *slog.Logger
}

// outcome tells the driver what a transition needs from it.
type outcome struct {
	needMetadata bool // leadership may have moved: refresh source metadata
	progressed   bool // data was appended: move to the end of the fetch order
	appended     log.AppendResult
	effects      []Effect // for the owner; acknowledged later
	corrupt      bool     // the answer's records failed validation
}

// newFetchState builds a partition's state; the policy says where it
// starts (Start may only resume or look up).
func newFetchState(tp TopicPartition, pc PartitionConfig, policy Policy) (*fetchState, error) {
	t := pc.Target
	s := &fetchState{
		tp: tp, target: t, topicID: pc.SourceTopicID,
		phase:            phaseTruncating, // provisional: reinit decides once a leader's capabilities are known
		fetchOffset:      t.LogEndOffset(),
		lastFetchedEpoch: undefinedEpoch, leader: -1, currentLeaderEpoch: undefinedEpoch,
		raiseEpoch: pc.RaiseLeaderEpoch, ackedEpoch: undefinedEpoch, requestedEpoch: undefinedEpoch,
		maxSourceEpoch: undefinedEpoch,
		sourceHW:       -1, sourceLSO: -1, sourceLogStart: -1,
	}
	if e, ok := t.LatestEpoch(); ok {
		s.maxSourceEpoch = e
	}
	switch p := policy.Start(t, pc); p.Action {
	case ActionResume:
	case ActionLookup:
		s.phase, s.pos = phaseResolving, p
	default:
		return nil, fmt.Errorf("%w: %s: policy start action %s (want resume or lookup)", ErrInvalidConfig, tp, p.Action)
	}
	return s, nil
}

// reinit is AbstractFetcherThread.partitionFetchState for a partition
// (re)assigned to a leader or whose leader epoch changed: with truncation
// on fetch it fetches from the log end offset with LastFetchedEpoch set
// (the leader reports any divergence); otherwise it first validates the
// log with OffsetForLeaderEpoch (Truncating). A follower starts at its
// high watermark in the latter case because data above it may not be
// committed; a mirror's data was all below the source's high watermark
// when fetched, so it starts at its log end offset and lets
// OffsetForLeaderEpoch find any divergence. Without local epochs there is
// nothing to validate (Kafka truncates to the initial offset, here the log
// end offset). A pending back-off is cleared: the new leader is tried at
// once.
func (s *fetchState) reinit(caps Capabilities) {
	s.held = nil // fetched from the previous leader or epoch
	if s.phase == phaseFailed || s.phase == phaseGone || s.phase == phaseResolving {
		s.delayUntil = time.Time{}
		return
	}
	s.fetchOffset = s.target.LogEndOffset()
	s.delayUntil = time.Time{}
	latest, ok := s.target.LatestEpoch()
	switch {
	case !ok:
		s.phase, s.lastFetchedEpoch = phaseFetching, undefinedEpoch
	case caps.TruncationOnFetch:
		s.phase, s.lastFetchedEpoch = phaseFetching, latest
	case caps.OffsetForLeaderEpoch:
		s.phase, s.lastFetchedEpoch = phaseTruncating, undefinedEpoch
	default:
		// Neither KIP-595 nor OffsetForLeaderEpoch v3+: divergence cannot
		// be detected (Kafka's pre-KIP-101 behaviour); fetch from the end.
		s.phase, s.lastFetchedEpoch = phaseFetching, undefinedEpoch
	}
}

// setLeader applies the source's metadata for the partition. A stale
// epoch (below the one known) is ignored, as Kafka ignores a
// LeaderAndIsr with an older epoch. It reports whether the leader or the
// epoch changed; the caller then reinits the state (Kafka re-adds the
// partition with a new InitialFetchState).
func (s *fetchState) setLeader(leader, epoch int32) bool {
	if epoch >= 0 && epoch < s.currentLeaderEpoch {
		return false
	}
	changed := leader != s.leader || epoch != s.currentLeaderEpoch
	s.leader, s.currentLeaderEpoch = leader, epoch
	if epoch > s.maxSourceEpoch {
		s.maxSourceEpoch = epoch
	}
	return changed
}

func (s *fetchState) ready(now time.Time) bool {
	return !s.paused && s.active() && s.held == nil && s.leader >= 0 && !now.Before(s.delayUntil)
}

// active: neither failed nor gone.
func (s *fetchState) active() bool { return s.phase != phaseFailed && s.phase != phaseGone }

// setPaused pauses or resumes. Held data is dropped on pause (nothing may
// be appended until Resume; the fetch is repeated then).
func (s *fetchState) setPaused(paused bool) {
	s.paused = paused
	if paused {
		s.held = nil
	}
}

// state is the State reported by Status.
func (s *fetchState) state(now time.Time) State {
	switch {
	case s.phase == phaseFailed:
		return StateFailed
	case s.phase == phaseGone:
		return StateTargetGone
	case s.paused:
		return StatePaused
	case s.leader < 0 || now.Before(s.delayUntil):
		return StateDelayed
	case s.phase == phaseResolving:
		return StateResolving
	case s.phase == phaseTruncating:
		return StateTruncating
	}
	return StateFetching
}

func (s *fetchState) status(now time.Time) Status {
	st := Status{
		TopicPartition: s.tp, State: s.state(now), Paused: s.paused,
		Leader: s.leader, CurrentLeaderEpoch: s.currentLeaderEpoch,
		FetchOffset: s.fetchOffset, LastFetchedEpoch: s.lastFetchedEpoch,
		MaxSourceLeaderEpoch: s.maxSourceEpoch, AwaitingLeaderEpoch: undefinedEpoch, SourceTopicID: s.topicID,
		SourceHighWatermark: s.sourceHW, SourceLastStableOffset: s.sourceLSO, SourceLogStartOffset: s.sourceLogStart,
		LocalLogEndOffset: s.target.LogEndOffset(), LocalHighWatermark: s.target.HighWatermark(),
		Lag: -1, LastFetchTime: s.lastFetch, BytesFetched: s.bytes, RecordsFetched: s.records,
		Truncations: s.truncations, LastTruncation: s.lastTruncation,
		LastError: s.lastErr, ErrorSince: s.errorSince,
	}
	if s.phase == phaseFailed {
		st.LastError = s.failure
	}
	if s.held != nil {
		st.AwaitingLeaderEpoch = s.held.epoch
	}
	if now.Before(s.delayUntil) {
		st.RetryAt = s.delayUntil
	}
	if s.sourceHW >= 0 {
		st.Lag = s.sourceHW - st.LocalLogEndOffset
	}
	return st
}

// --- Errors, back-off, failure ----------------------------------------

func (s *fetchState) noteError(env stepEnv, err error) {
	if s.lastErr == nil {
		s.errorSince = env.now
	}
	s.lastErr = err
}

func (s *fetchState) clearError() { s.lastErr, s.errorSince = nil, time.Time{} }

// delay is Kafka's delayPartitions(fetchBackOffMs): the partition keeps its
// phase and is retried after the back-off.
func (s *fetchState) delay(env stepEnv, err error) {
	s.noteError(env, err)
	s.delayUntil = env.now.Add(env.backoff)
}

// corrupt drops an answer whose records failed validation and retries
// after the back-off, as Kafka's fetcher does for a
// CorruptRecordException; it is logged and counted (Stats), since a
// source or path that keeps corrupting data is an operator's problem.
func (s *fetchState) corrupt(env stepEnv, err error) outcome {
	s.delay(env, err)
	env.logger.Warn("fetcher: corrupt records from the source; dropped, fetching again",
		"partition", s.tp.String(), "fetchOffset", s.fetchOffset, "err", err)
	return outcome{corrupt: true}
}

// fail is markPartitionFailed: the partition stops until it is removed and
// added again.
func (s *fetchState) fail(env stepEnv, err error) {
	s.noteError(env, err)
	s.phase, s.failure, s.held = phaseFailed, err, nil
	env.logger.Error("fetcher: partition failed", "partition", s.tp.String(), "fetchOffset", s.fetchOffset, "err", err)
}

// targetGone leaves a partition whose target was closed or deleted under
// the fetcher (a local topic deletion unhosting its partitions): nothing
// more is requested or written for it, and it reports no error (its owner
// is removing it; retrying or failing would only make noise).
func (s *fetchState) targetGone(env stepEnv, err error) {
	if s.phase == phaseGone {
		return
	}
	s.phase, s.held, s.delayUntil = phaseGone, nil, time.Time{}
	s.clearError()
	env.logger.Info("fetcher: target log closed; partition left alone until removed", "partition", s.tp.String(), "err", err)
}

// storageError handles a failed write to the target: a closed target is
// gone, anything else fails the partition (markPartitionFailed).
func (s *fetchState) storageError(env stepEnv, err error) {
	if isTargetGone(err) {
		s.targetGone(env, err)
		return
	}
	s.fail(env, err)
}

func isTargetGone(err error) bool {
	return errors.Is(err, log.ErrClosed) || errors.Is(err, ErrTargetGone)
}

// onPartitionError handles a partition-level error from any request
// (AbstractFetcherThread.processFetchRequest's error cases,
// handleOutOfRangeError's and maybeTruncateToEpochEndOffsets's).
// Leadership errors back off and ask for new metadata — for a mirror the
// source's metadata plays the part of LeaderAndIsr: FENCED_LEADER_EPOCH
// (our epoch is old), NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
// UNKNOWN_TOPIC_ID and their kin (the set Kafka's consumer refreshes
// metadata for). UNKNOWN_LEADER_EPOCH (the leader has not caught up with
// our newer epoch, so our metadata is already ahead) just backs off, as in
// Kafka's consumer. Kafka's follower retries
// every other error too; we fail the partition on errors that retrying
// cannot heal (non-retriable codes other than authorization and
// UNKNOWN_SERVER_ERROR, which heal when an operator or the source
// recovers).
func (s *fetchState) onPartitionError(env stepEnv, op string, err error) outcome {
	werr := fmt.Errorf("%s %s: %w", op, s.tp, err)
	switch {
	case errors.Is(err, kerr.FencedLeaderEpoch), errors.Is(err, kerr.NotLeaderForPartition),
		errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID),
		errors.Is(err, kerr.InconsistentTopicID), errors.Is(err, kerr.LeaderNotAvailable),
		errors.Is(err, kerr.ReplicaNotAvailable), errors.Is(err, kerr.KafkaStorageError),
		errors.Is(err, kerr.OffsetNotAvailable):
		s.delay(env, werr)
		return outcome{needMetadata: true}
	case errors.Is(err, kerr.UnknownLeaderEpoch):
		s.delay(env, werr)
	case kerr.IsRetriable(err), errors.Is(err, kerr.UnknownServerError),
		errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.SaslAuthenticationFailed):
		s.delay(env, werr)
	default:
		if ke := (*kerr.Error)(nil); errors.As(err, &ke) {
			s.fail(env, werr)
		} else {
			s.delay(env, werr) // a local or transport problem: retry
		}
	}
	return outcome{}
}

// checkSourceEpoch fails the partition when the leader, by answering a
// request made with CurrentLeaderEpoch E without fencing it, confirmed
// that its current epoch is E while the local log already holds batches
// of a higher source epoch. Leader epochs only grow within one topic
// incarnation, so the source is not the history the mirror copied (a
// topic re-created under the same id or a different cluster). Without
// this check a mirror would loop: Kafka answers OFFSET_OUT_OF_RANGE for a
// LastFetchedEpoch it does not know, and the reset would find nothing to
// truncate.
func (s *fetchState) checkSourceEpoch(env stepEnv, confirmed int32) bool {
	if confirmed < 0 || !env.caps.EpochFencing {
		return true
	}
	if latest, ok := s.target.LatestEpoch(); ok && latest > confirmed {
		s.fail(env, fmt.Errorf("%w: leader confirmed epoch %d, local log holds epoch %d", ErrNonMonotonicSourceEpoch, confirmed, latest))
		return false
	}
	return true
}

// --- Fetching -----------------------------------------------------------

func (s *fetchState) fetchPartition(caps Capabilities, maxBytes int32) FetchPartition {
	lfe := undefinedEpoch
	if caps.TruncationOnFetch {
		lfe = s.lastFetchedEpoch
	}
	return FetchPartition{
		TopicPartition: s.tp, TopicID: s.topicID, FetchOffset: s.fetchOffset,
		CurrentLeaderEpoch: s.currentLeaderEpoch, LastFetchedEpoch: lfe, PartitionMaxBytes: maxBytes,
	}
}

// onFetch consumes one partition of a fetch response
// (AbstractFetcherThread.processFetchRequest). A response for a request
// that no longer matches the state (the partition was truncated, reset or
// got a new epoch meanwhile) is ignored, as Kafka ignores it.
func (s *fetchState) onFetch(env stepEnv, req FetchPartition, d FetchData) outcome {
	if s.phase != phaseFetching || req.FetchOffset != s.fetchOffset || req.CurrentLeaderEpoch != s.currentLeaderEpoch {
		return outcome{}
	}
	switch {
	case d.Err == nil:
		s.observe(env, d)
		if !s.checkSourceEpoch(env, req.CurrentLeaderEpoch) {
			return outcome{}
		}
		if d.DivergingEpoch != nil && env.caps.TruncationOnFetch {
			// KIP-595 truncateOnFetchResponse: truncate, append nothing
			// (the next fetch brings the data and the watermarks).
			s.clearError()
			s.truncateToEpochEndOffset(env, *d.DivergingEpoch, "diverging epoch in fetch response")
			return outcome{}
		}
		return s.processPartitionData(env, req, d)
	case errors.Is(d.Err, kerr.OffsetOutOfRange):
		if !s.checkSourceEpoch(env, req.CurrentLeaderEpoch) {
			return outcome{}
		}
		// handleOutOfRangeError → fetchOffsetAndTruncate, done with
		// ListOffsets round trips instead of inline.
		// The metadata refresh it asks for re-checks the topic id: before
		// Fetch v13 topics are fetched by name, and a topic re-created
		// under the same name also answers OFFSET_OUT_OF_RANGE.
		env.logger.Info("fetcher: fetch offset out of range, resetting", "partition", s.tp.String(), "fetchOffset", s.fetchOffset)
		s.resetting = true
		s.reposition(env, env.policy.OutOfRange(s.target))
		return outcome{needMetadata: true}
	default:
		return s.onPartitionError(env, "fetch", d.Err)
	}
}

func (s *fetchState) observe(env stepEnv, d FetchData) {
	s.sourceHW, s.sourceLSO, s.sourceLogStart = d.HighWatermark, d.LastStableOffset, d.LogStartOffset
	s.lastFetch = env.now
}

// processPartitionData is the engine's half of processFetchRequest for a
// partition answered without error: it checks the fetched bytes (whole v2
// batches; those wholly below the fetch offset are skipped, a partial
// trailing batch dropped — trimInvalidBytes; epochs monotonic), holds them
// back while the leader epoch they need is not acknowledged, hands them
// to the policy (ProcessPartitionData), and moves the fetch offset to the
// last stored batch's LastOffset+1 (never assuming contiguity: compaction
// and aborted data leave gaps).
func (s *fetchState) processPartitionData(env stepEnv, req FetchPartition, d FetchData) outcome {
	t := s.target
	if leo := t.LogEndOffset(); leo != s.fetchOffset {
		// Kafka: IllegalStateException("Offset mismatch").
		s.fail(env, fmt.Errorf("%w: fetch offset %d, local log end offset %d", ErrUnexpectedAppend, s.fetchOffset, leo))
		return outcome{}
	}
	var (
		it         = record.NewIter(d.Records)
		start, end int
		last       record.Batch
		n          int
		maxEpoch   = s.currentLeaderEpoch
	)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if b.LastOffset() < s.fetchOffset {
			start = it.Pos() // before the fetch offset (only possible at the front)
			continue
		}
		last, end, n = b, it.Pos(), n+1
		maxEpoch = max(maxEpoch, b.PartitionLeaderEpoch())
	}
	if env.caps.EpochFencing && req.CurrentLeaderEpoch >= 0 && maxEpoch > req.CurrentLeaderEpoch {
		// A leader never holds batches of an epoch above its own.
		s.fail(env, fmt.Errorf("%w: leader confirmed epoch %d, sent a batch of epoch %d", ErrNonMonotonicSourceEpoch, req.CurrentLeaderEpoch, maxEpoch))
		return outcome{}
	}
	if err := it.Err(); err != nil {
		if errors.Is(err, record.ErrUnsupportedMagic) {
			s.fail(env, fmt.Errorf("%w: at or after offset %d: %w", ErrUnsupportedMessageFormat, s.fetchOffset, err))
			return outcome{}
		}
		// Kafka's CorruptRecordException: log and retry; a transient
		// state of the source's log (a partial write) heals.
		return s.corrupt(env, fmt.Errorf("fetch %s at %d: %w", s.tp, s.fetchOffset, err))
	}
	if ok, effects := s.gateEpoch(maxEpoch, req, d); !ok {
		return outcome{effects: effects}
	}
	if n == 0 {
		// Nothing whole (no new data, or a first batch larger than the
		// partition's share of the response: KIP-74 returns it whole once
		// the partition is first in a request, which the fetch order
		// rotation guarantees). The policy still sees the watermarks.
		start, end = 0, 0
	}
	res, err := env.policy.ProcessPartitionData(t, PartitionData{
		TopicPartition: s.tp, FetchOffset: s.fetchOffset, Records: d.Records[start:end],
		HighWatermark: d.HighWatermark, LastStableOffset: d.LastStableOffset, LogStartOffset: d.LogStartOffset,
	})
	if err != nil {
		switch {
		case isTargetGone(err):
			s.targetGone(env, err)
		case errors.Is(err, ErrUnexpectedAppend):
			s.fail(env, err)
		case errors.Is(err, record.ErrUnsupportedMagic):
			s.fail(env, fmt.Errorf("%w: %w", ErrUnsupportedMessageFormat, err))
		case record.IsCorrupt(err), errors.Is(err, record.ErrInvalidRecord):
			// CorruptRecordException / InvalidRecordException: retried.
			return s.corrupt(env, err)
		case errors.Is(err, log.ErrUnexpectedAppendOffset):
			s.fail(env, fmt.Errorf("%w: %w", ErrUnexpectedAppend, err))
		default:
			// KafkaStorageException and anything unexpected.
			s.fail(env, err)
		}
		return outcome{}
	}
	if n == 0 || res.Batches == 0 {
		s.afterFetch(d, s.fetchOffset)
		return outcome{}
	}
	next := res.LastOffset + 1
	invariants.Check(next == last.NextOffset() && t.LogEndOffset() == next,
		"fetcher %s: appended through %d, last batch ends %d, log end %d", s.tp, res.LastOffset, last.NextOffset(), t.LogEndOffset())
	s.fetchOffset = next
	if e := last.PartitionLeaderEpoch(); e >= 0 {
		s.lastFetchedEpoch = e
	}
	s.bytes += int64(res.Bytes)
	s.records += int64(res.Records)
	s.afterFetch(d, next)
	return outcome{progressed: true, appended: res}
}

func (s *fetchState) afterFetch(d FetchData, next int64) {
	s.clearError()
	s.delayUntil = time.Time{}
	invariants.Check(s.fetchOffset == next, "fetcher %s: fetch offset %d != %d", s.tp, s.fetchOffset, next)
}

// gateEpoch keeps KIP-1279's DLE >= SLE for a partition that advertises
// its own leader epoch: data needing an epoch above the acknowledged one
// is held back, and the epoch is asked for (once) as an effect. It
// reports whether the data may be processed now.
func (s *fetchState) gateEpoch(epoch int32, req FetchPartition, d FetchData) (bool, []Effect) {
	if epoch <= s.ackedEpoch {
		return true, nil
	}
	if !s.raiseEpoch {
		s.ackedEpoch = epoch
		s.maxSourceEpoch = max(s.maxSourceEpoch, epoch)
		return true, nil
	}
	s.held = &heldFetch{req: req, data: d, epoch: epoch}
	if epoch <= s.requestedEpoch {
		return false, nil // asked already; the acknowledgement replays it
	}
	s.requestedEpoch = epoch
	return false, []Effect{{TopicPartition: s.tp, Kind: EffectRaiseLeaderEpoch, LeaderEpoch: epoch}}
}

// onLeaderEpochAck consumes the owner's acknowledgement of an
// EffectRaiseLeaderEpoch: with the epoch in place, held data is replayed
// (onFetch drops it if the partition moved on meanwhile). A failed
// acknowledgement drops the data and backs off (the next fetch asks
// again); ErrTargetGone means the local partition was deleted.
func (s *fetchState) onLeaderEpochAck(env stepEnv, epoch int32, err error) outcome {
	if epoch >= s.requestedEpoch {
		s.requestedEpoch = undefinedEpoch
	}
	if err != nil {
		s.held = nil
		switch {
		case !s.active():
		case isTargetGone(err):
			s.targetGone(env, err)
		default:
			s.delay(env, fmt.Errorf("raise leader epoch of %s to %d: %w", s.tp, epoch, err))
		}
		return outcome{}
	}
	if epoch > s.ackedEpoch {
		s.ackedEpoch = epoch
		s.maxSourceEpoch = max(s.maxSourceEpoch, epoch)
	}
	h := s.held
	if h == nil || h.epoch > s.ackedEpoch {
		return outcome{}
	}
	s.held = nil
	if s.paused {
		return outcome{}
	}
	return s.onFetch(env, h.req, h.data)
}

// --- Truncation ---------------------------------------------------------

// epochQuery builds the OffsetForLeaderEpoch query of a Truncating
// partition (fetchTruncatingPartitions). A log without epochs has nothing
// to validate: like Kafka's truncateToHighWatermark for
// partitionsWithoutEpochs, truncation completes at the fetch offset.
func (s *fetchState) epochQuery() (EpochQuery, bool) {
	latest, ok := s.target.LatestEpoch()
	if !ok {
		s.phase, s.fetchOffset, s.lastFetchedEpoch = phaseFetching, s.target.LogEndOffset(), undefinedEpoch
		return EpochQuery{}, false
	}
	return EpochQuery{TopicPartition: s.tp, CurrentLeaderEpoch: s.currentLeaderEpoch, LeaderEpoch: latest}, true
}

// onEpochEndOffset consumes an OffsetForLeaderEpoch answer
// (truncateToEpochEndOffsets; answers for an epoch that changed meanwhile
// are dropped).
func (s *fetchState) onEpochEndOffset(env stepEnv, q EpochQuery, r EpochEndOffset) outcome {
	if s.phase != phaseTruncating || q.CurrentLeaderEpoch != s.currentLeaderEpoch {
		return outcome{}
	}
	if r.Err != nil {
		return s.onPartitionError(env, "OffsetForLeaderEpoch", r.Err)
	}
	if !s.checkSourceEpoch(env, q.CurrentLeaderEpoch) {
		return outcome{}
	}
	s.clearError()
	s.truncateToEpochEndOffset(env, r, "OffsetForLeaderEpoch")
	return outcome{}
}

// offsetTruncationState is AbstractFetcherThread.getOffsetTruncationState:
// where to truncate given the leader's end offset for an epoch, and
// whether truncation is then complete.
//   - UNDEFINED end offset: the leader knows no epoch <= ours. Kafka
//     truncates to the partition's initial fetch offset; a mirror's is its
//     fetch offset (the log end offset), so nothing is truncated and any
//     real mismatch surfaces as OFFSET_OUT_OF_RANGE or a non-monotonic
//     epoch.
//   - UNDEFINED epoch with an end offset (pre-KIP-279 leaders): the
//     leader's end offset.
//   - The leader's epoch known locally: min(leader end offset, local end
//     offset of that epoch, log end offset); complete.
//   - Not known locally: the end of the largest local epoch below it, then
//     ask again (incomplete).
//   - Below every local epoch: the leader's end offset.
func (s *fetchState) offsetTruncationState(r EpochEndOffset) (offset int64, complete bool) {
	leo := s.target.LogEndOffset()
	switch {
	case r.EndOffset == undefinedOffset:
		return s.fetchOffset, true
	case r.LeaderEpoch == undefinedEpoch:
		return min(r.EndOffset, leo), true
	}
	found, end := s.target.EndOffsetForEpoch(r.LeaderEpoch)
	switch {
	case end == undefinedOffset:
		return min(r.EndOffset, leo), true
	case found != r.LeaderEpoch:
		return min(end, leo), false
	}
	return min(end, r.EndOffset, leo), true
}

// truncateToEpochEndOffset truncates per offsetTruncationState and moves
// on (updateFetchOffsetAndMaybeMarkTruncationComplete): Fetching when
// truncation is complete or the leader truncates on fetch (the next fetch
// re-checks), Truncating otherwise (ask again). The fetch offset is the
// log end offset after truncation, which can be below the requested
// offset: Log.TruncateTo removes a batch that the offset falls inside.
func (s *fetchState) truncateToEpochEndOffset(env stepEnv, r EpochEndOffset, reason string) {
	off, complete := s.offsetTruncationState(r)
	if !s.truncate(env, off, fmt.Sprintf("%s (leader epoch %d ends at %d)", reason, r.LeaderEpoch, r.EndOffset)) {
		return
	}
	s.fetchOffset = s.target.LogEndOffset()
	s.lastFetchedEpoch = undefinedEpoch
	if e, ok := s.target.LatestEpoch(); ok {
		s.lastFetchedEpoch = e
	}
	if complete || env.caps.TruncationOnFetch {
		s.phase = phaseFetching
	} else {
		s.phase = phaseTruncating
	}
}

// truncate truncates the target to offset when it is below the log end
// offset; a failure fails the partition (doTruncate → markPartitionFailed).
func (s *fetchState) truncate(env stepEnv, offset int64, reason string) bool {
	before := s.target.LogEndOffset()
	if offset >= before {
		return true
	}
	if err := s.target.TruncateTo(offset); err != nil {
		s.storageError(env, fmt.Errorf("truncate %s to %d: %w", s.tp, offset, err))
		return false
	}
	after := s.target.LogEndOffset()
	s.truncations++
	s.lastTruncation = Truncation{From: before, To: after, Reason: reason, Time: env.now}
	env.logger.Warn("fetcher: truncated local log", "partition", s.tp.String(), "from", before, "to", after,
		"requested", offset, "reason", reason)
	return true
}

// --- Resolving (ListOffsets) ---------------------------------------------

func (s *fetchState) offsetQuery() OffsetQuery {
	return OffsetQuery{TopicPartition: s.tp, CurrentLeaderEpoch: s.currentLeaderEpoch, Timestamp: s.pos.Timestamp}
}

// onOffsets consumes a ListOffsets answer of a Resolving partition and
// lets the policy decide what follows.
func (s *fetchState) onOffsets(env stepEnv, q OffsetQuery, r OffsetResult) outcome {
	if s.phase != phaseResolving || q != s.offsetQuery() {
		return outcome{}
	}
	if r.Err != nil {
		return s.onPartitionError(env, "ListOffsets", r.Err)
	}
	s.clearError()
	if s.resetting {
		// The freshest watermarks we have of the leader.
		switch q.Timestamp {
		case ListOffsetsLatest:
			s.sourceHW = r.Offset
		case ListOffsetsEarliest:
			s.sourceLogStart = r.Offset
		}
	}
	s.reposition(env, env.policy.Resolved(s.target, s.pos, r.Offset))
	return outcome{}
}

// reposition carries out a policy's Position.
func (s *fetchState) reposition(env stepEnv, p Position) {
	switch p.Action {
	case ActionLookup:
		s.phase, s.pos = phaseResolving, p
		return
	case ActionTruncateTo:
		if !s.truncate(env, p.Offset, p.Reason) {
			return
		}
	case ActionStartAt:
		if !s.startAt(env, p) {
			return
		}
	}
	s.resumeFetching()
}

// startAt restarts the target as an empty log at p.Offset
// (TruncateFullyAndStartAt), so its log start offset is the leader's
// offset it begins at. During OFFSET_OUT_OF_RANGE recovery that discards
// the local log and is recorded as a truncation.
func (s *fetchState) startAt(env stepEnv, p Position) bool {
	t := s.target
	leo := t.LogEndOffset()
	if leo != p.Offset || t.LogStartOffset() != p.Offset {
		if err := t.TruncateFullyAndStartAt(p.Offset); err != nil {
			s.storageError(env, fmt.Errorf("restart log of %s at %d: %w", s.tp, p.Offset, err))
			return false
		}
	}
	if !s.resetting {
		env.logger.Info("fetcher: partition starts", "partition", s.tp.String(), "offset", p.Offset, "reason", p.Reason)
		return true
	}
	s.truncations++
	s.lastTruncation = Truncation{From: leo, To: p.Offset, Time: env.now, Reason: p.Reason}
	env.logger.Warn("fetcher: leader's log start passed the local log end; restarted the local log",
		"partition", s.tp.String(), "from", leo, "to", p.Offset, "reason", p.Reason)
	return true
}

// resumeFetching leaves Resolving: fetch from the log end offset with the
// latest local epoch as LastFetchedEpoch (Kafka's new PartitionFetchState
// after fetchOffsetAndTruncate).
func (s *fetchState) resumeFetching() {
	s.phase, s.pos, s.resetting = phaseFetching, Position{}, false
	s.fetchOffset = s.target.LogEndOffset()
	s.lastFetchedEpoch = undefinedEpoch
	if e, ok := s.target.LatestEpoch(); ok {
		s.lastFetchedEpoch = e
	}
}
