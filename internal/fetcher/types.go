package fetcher

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/log"
)

// TopicPartition names a partition of the source cluster.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

func (tp TopicPartition) topicPartition() TopicPartition { return tp }

// Target is the local log a partition is mirrored (or replicated) into:
// Kafka's follower-side hooks of AbstractFetcherThread (logEndOffset,
// latestEpoch, endOffsetForEpoch, truncate, truncateFullyAndStartAt; its
// processPartitionData is the Policy's). *log.Log implements it.
//
// The fetcher is the only writer of a Target while the partition is added:
// the engine truncates it only as described in docs/mirroring.md, and the
// Policy stores fetched data in it (MirrorPolicy: AppendVerbatim only —
// source offsets, source partition leader epochs, source bytes). A Target
// closed under the fetcher (log.ErrClosed) is "gone": StateTargetGone.
type Target interface {
	LogStartOffset() int64
	LogEndOffset() int64
	HighWatermark() int64
	// LatestEpoch is the latest leader epoch in the leader-epoch cache,
	// which a verbatim append fills from the batches' partition leader
	// epochs (so these are source epochs).
	LatestEpoch() (int32, bool)
	// EndOffsetForEpoch is LeaderEpochFileCache.endOffsetFor: the end
	// offset of epoch and the largest epoch <= it; (-1, -1) when unknown.
	EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64)
	AppendVerbatim(records []byte) (log.AppendResult, error)
	TruncateTo(offset int64) error
	TruncateFullyAndStartAt(offset int64) error
}

// StartSpec is mirror.start.offset.spec: where a new mirror begins.
type StartSpec struct {
	kind startKind
	ts   time.Time
}

type startKind uint8

const (
	startAtLogEnd startKind = iota
	startEarliest
	startLatest
	startTimestamp
)

// Start specs. StartAtLogEnd (the zero value) resumes at the target's log
// end offset; it is what an existing mirror uses.
var (
	StartAtLogEnd = StartSpec{}
	StartEarliest = StartSpec{kind: startEarliest}
	StartLatest   = StartSpec{kind: startLatest}
)

// StartAtTimestamp starts a new mirror at the first source record whose
// timestamp is at or after t (ListOffsets by timestamp); when there is
// none, at the source's latest offset.
func StartAtTimestamp(t time.Time) StartSpec { return StartSpec{kind: startTimestamp, ts: t} }

// ParseStartSpec parses mirror.start.offset.spec: "earliest" (Confluent's
// default), "latest", or an ISO-8601 timestamp — RFC 3339 with an optional
// fraction of a second ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.5+02:00");
// a timestamp without a zone ("2024-05-01T12:00:00") is taken as UTC.
func ParseStartSpec(s string) (StartSpec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "earliest":
		return StartEarliest, nil
	case "latest":
		return StartLatest, nil
	}
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return StartAtTimestamp(t), nil
		}
	}
	return StartSpec{}, fmt.Errorf("%w: mirror.start.offset.spec %q is not earliest, latest or an ISO-8601 timestamp", ErrInvalidConfig, s)
}

func (s StartSpec) String() string {
	switch s.kind {
	case startEarliest:
		return "earliest"
	case startLatest:
		return "latest"
	case startTimestamp:
		return s.ts.UTC().Format(time.RFC3339Nano)
	}
	return "log-end"
}

// PartitionConfig describes one partition added to a Fetcher.
type PartitionConfig struct {
	// Target is the local log; required.
	Target Target
	// SourceTopicID is the source topic id the mirror was created from.
	// When set, a source topic with another id (deleted and re-created)
	// fails the partition with ErrSourceTopicIDChanged instead of
	// appending another topic's data. When zero, the id is learned from
	// the first metadata answer (Status.SourceTopicID), and the caller
	// should persist it.
	SourceTopicID [16]byte
	// Start is the mirror policy's input (MirrorPolicy.Start): it is
	// consulted only when the target has never held data (log start and
	// end offsets both 0); any other target resumes at its log end
	// offset. Pass the mirror's configured spec while the mirror is being
	// set up and StartAtLogEnd once it is running (see docs/mirroring.md,
	// "Initial position"). Other policies may ignore it.
	Start StartSpec
	// RaiseLeaderEpoch marks a partition that advertises a leader epoch of
	// its own to clients (a mirror partition on this broker). Before
	// batches whose partition leader epoch, or whose leader's current
	// epoch, is above every epoch acknowledged so far are appended, the
	// Fetcher delivers an EffectRaiseLeaderEpoch to Config.OnEffect and
	// holds the batches back until the owner has acknowledged it. This
	// keeps KIP-1279's invariant "destination leader epoch >= source
	// leader epoch" (DLE >= SLE): a consumer whose committed offset
	// carries a source epoch never finds the mirror's epoch below it
	// (which would send it into a metadata-refresh loop). Requires
	// Config.OnEffect.
	RaiseLeaderEpoch bool
	// Leader, when set, places the partition on this leader instead of
	// discovering it from the source's metadata (a replica follower is
	// told its leaders); SetLeaders changes it later. Such a partition is
	// never moved by metadata answers and its topic id is not checked
	// against them (SourceTopicID should be given when the leader speaks
	// Fetch v13+).
	Leader *Leader
}

// Leader is a partition leader the Fetcher's owner knows (Kafka's
// InitialFetchState.leader and currentLeaderEpoch): the broker id, its
// address (given to a Source that implements AddressedSource; others
// resolve the id themselves) and the leader epoch. ID -1 means no leader:
// the partition waits.
type Leader struct {
	ID    int32
	Addr  string
	Epoch int32
}

// EffectKind names a side effect the Fetcher needs from its owner.
type EffectKind uint8

// Effect kinds.
const (
	// EffectRaiseLeaderEpoch: raise the partition's own leader epoch to at
	// least Effect.LeaderEpoch (KIP-1279 DLE >= SLE; see
	// PartitionConfig.RaiseLeaderEpoch).
	EffectRaiseLeaderEpoch EffectKind = iota + 1
)

func (k EffectKind) String() string {
	if k == EffectRaiseLeaderEpoch {
		return "raise-leader-epoch"
	}
	return "EffectKind(" + strconv.Itoa(int(k)) + ")"
}

// Effect is a side effect the fetch engine needs from above before it may
// go on with a partition. The engine does not take it (a fetcher worker
// never calls into its owner); it returns it, the Fetcher delivers it to
// Config.OnEffect on a goroutine of its own, and OnEffect's return value
// comes back to the partition's worker as its acknowledgement.
type Effect struct {
	TopicPartition
	Kind EffectKind
	// LeaderEpoch is EffectRaiseLeaderEpoch's epoch.
	LeaderEpoch int32
}

func (e Effect) String() string {
	return fmt.Sprintf("%s %s %d", e.Kind, e.TopicPartition, e.LeaderEpoch)
}

// State is a partition's fetch state, as reported by Status.
type State uint8

// States. Resolving, Truncating and Fetching are the phases of Kafka's
// PartitionFetchState (Resolving covers the ListOffsets look-ups of a new
// mirror's start and of OFFSET_OUT_OF_RANGE recovery); Delayed is a phase
// with a back-off pending (Kafka's DelayedItem) or no known leader; Paused
// and Failed are this package's.
const (
	StateResolving State = iota
	StateTruncating
	StateFetching
	StateDelayed
	StatePaused
	StateFailed
	// StateTargetGone: the target log was closed or deleted under the
	// fetcher (the topic was deleted locally): the partition is left
	// alone, without error, until its owner removes it.
	StateTargetGone
)

func (s State) String() string {
	switch s {
	case StateResolving:
		return "Resolving"
	case StateTruncating:
		return "Truncating"
	case StateFetching:
		return "Fetching"
	case StateDelayed:
		return "Delayed"
	case StatePaused:
		return "Paused"
	case StateFailed:
		return "Failed"
	case StateTargetGone:
		return "TargetGone"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Truncation records one truncation of the local log.
type Truncation struct {
	From, To int64 // local log end offset before and after
	Reason   string
	Time     time.Time
}

// Status is a point-in-time view of one partition.
type Status struct {
	TopicPartition
	State  State
	Paused bool
	// Leader is the source broker leading the partition (-1 unknown) and
	// CurrentLeaderEpoch its leader epoch from the source's metadata.
	Leader             int32
	CurrentLeaderEpoch int32
	// FetchOffset is the next offset to fetch (the local log end offset
	// while Fetching); LastFetchedEpoch the epoch of the last appended
	// batch, sent with fetches for KIP-595 divergence detection.
	FetchOffset      int64
	LastFetchedEpoch int32
	// MaxSourceLeaderEpoch is the highest source leader epoch seen (batch
	// partition leader epochs and the leader's current epoch); the
	// mirror's own leader epoch must stay at or above it (see
	// PartitionConfig.RaiseLeaderEpoch).
	MaxSourceLeaderEpoch int32
	// AwaitingLeaderEpoch is the epoch of an EffectRaiseLeaderEpoch that
	// fetched batches are held back for (-1: none).
	AwaitingLeaderEpoch int32
	SourceTopicID       [16]byte
	// Source offsets from the last fetch response (-1 before the first).
	SourceHighWatermark    int64
	SourceLastStableOffset int64
	SourceLogStartOffset   int64
	LocalLogEndOffset      int64
	LocalHighWatermark     int64
	// Lag is SourceHighWatermark - LocalLogEndOffset, -1 until the first
	// fetch response.
	Lag           int64
	LastFetchTime time.Time
	// BytesFetched and RecordsFetched count what was appended.
	BytesFetched   int64
	RecordsFetched int64
	Truncations    int64
	LastTruncation Truncation
	// LastError is the error behind Delayed or Failed; ErrorSince is when
	// the current run of errors began (for cluster.link.retry.timeout.ms).
	// RetryAt is when a Delayed partition is retried.
	LastError  error
	ErrorSince time.Time
	RetryAt    time.Time
}

// Errors. Remote errors are the kerr values the source returned, wrapped.
// Mirror errors reach users (mirror describe, state-transition errors), so
// their texts have no package prefix (docs/HACKING.md).
var (
	ErrClosed         = errors.New("mirror fetcher closed")
	ErrInvalidConfig  = errors.New("invalid mirror fetcher configuration")
	ErrPartitionAdded = errors.New("partition already added to the mirror fetcher")
	ErrUnknownPart    = errors.New("partition not added to the mirror fetcher")
	// ErrSourceTopicIDChanged: the source topic now has another topic id
	// (deleted and re-created); the partition fails rather than mixing
	// two topics' data (Confluent SOURCE_TOPIC_ID_CHANGED).
	ErrSourceTopicIDChanged = errors.New("source topic id changed (the source topic was deleted and re-created)")
	// ErrSourceTopicNotFound: the source's metadata does not list the
	// topic; retried (Confluent SOURCE_TOPIC_MAY_BE_DELETED once the
	// link's retry timeout passes — the caller's decision, see ErrorSince).
	ErrSourceTopicNotFound = errors.New("source topic not found")
	// ErrSourcePartitionMissing: the source topic has fewer partitions
	// than this one's index (SOURCE_PARTITIONS_DECREASED); retried.
	ErrSourcePartitionMissing = errors.New("source partition missing")
	// ErrLeaderNotAvailable: the source's metadata names no live leader.
	ErrLeaderNotAvailable = errors.New("source partition has no leader")
	// ErrNonMonotonicSourceEpoch: the source leader confirmed a current
	// leader epoch below an epoch already mirrored, so the source's log is
	// not the history the mirror copied (NON_MONOTONIC_SOURCE_EPOCH).
	ErrNonMonotonicSourceEpoch = errors.New("source leader epoch went backwards")
	// ErrUnsupportedMessageFormat: a v0/v1 batch (UNSUPPORTED_MESSAGE_FORMAT).
	ErrUnsupportedMessageFormat = errors.New("unsupported message format")
	// ErrUnexpectedAppend: the source's batches do not line up with the
	// local log (a batch straddles the local end offset of a non-empty
	// log, or the log end offset moved under the fetcher).
	ErrUnexpectedAppend = errors.New("source batches do not line up with the local log")
	// ErrTargetGone: the partition's target is gone (its log was closed or
	// deleted). The fetcher treats log.ErrClosed from a Target the same
	// way; an owner whose effect finds the local partition deleted
	// acknowledges with it. The partition goes to StateTargetGone.
	ErrTargetGone = errors.New("the local mirror partition is gone")
	// ErrNoTopicID: Fetch v13+ needs the source topic id, which the
	// source's metadata did not give.
	ErrNoTopicID = errors.New("source topic id unknown")
)
