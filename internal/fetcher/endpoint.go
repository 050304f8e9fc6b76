package fetcher

import (
	"context"
	"time"
)

// Source is the remote cluster: Kafka's LeaderEndPoint factory plus the
// metadata the fetcher manager needs to place partitions on their
// leaders. NewKafkaSource builds one on franz-go clients for a cluster
// link (consumer-style fetches); a replica follower will plug in its own
// (ReplicaID = broker id, fetching to the log end offset) without touching
// the engine.
type Source interface {
	// Metadata returns leaders, leader epochs and topic ids for topics.
	Metadata(ctx context.Context, topics []string) (*ClusterMetadata, error)
	// Leader returns the endpoint of broker for fetcher fetcherID. Each
	// fetcher id may use its own connection (Kafka brokers serve one
	// request per connection at a time, so fetchers sharing a connection
	// would not run in parallel).
	Leader(broker int32, fetcherID int) LeaderEndpoint
	Close()
}

// LeaderEndpoint is Kafka's LeaderEndPoint: one source broker, seen from
// one fetcher. Calls are made by one goroutine at a time; a cancelled ctx
// abandons the call (fetches are reads, nothing needs undoing).
type LeaderEndpoint interface {
	// Capabilities negotiates what the fetcher may use with this broker
	// (ApiVersions).
	Capabilities(ctx context.Context) (Capabilities, error)
	// Fetch is one sessionless Fetch. A returned error fails the whole
	// request; per-partition errors are in FetchData.Err.
	Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error)
	// ListOffsets answers one OffsetQuery per partition (earliest, latest
	// or by timestamp).
	ListOffsets(ctx context.Context, qs []OffsetQuery) (map[TopicPartition]OffsetResult, error)
	// EpochEndOffsets is OffsetForLeaderEpoch.
	EpochEndOffsets(ctx context.Context, qs []EpochQuery) (map[TopicPartition]EpochEndOffset, error)
}

// Capabilities is what a source broker supports, negotiated from
// ApiVersions against what the client may send.
type Capabilities struct {
	// FetchVersion is the Fetch version requests will use.
	FetchVersion int16
	// TruncationOnFetch: Fetch v12+ (KIP-595) — LastFetchedEpoch is sent
	// and the leader answers DivergingEpoch; Kafka's
	// LeaderEndPoint.isTruncationOnFetchSupported.
	TruncationOnFetch bool
	// OffsetForLeaderEpoch: v3+ (ReplicaID -1) is available, for sources
	// without truncation on fetch (KIP-101/279/320).
	OffsetForLeaderEpoch bool
	// EpochFencing: Fetch v9+ (KIP-320) — the leader checks
	// CurrentLeaderEpoch and fences a stale or future one, so an answer
	// without FENCED/UNKNOWN_LEADER_EPOCH confirms the leader's epoch.
	EpochFencing bool
	// TopicIDs: Fetch v13+ names topics by id.
	TopicIDs bool
	// Pipelined: the leader is a Tandem broker that offers this client
	// LinkFetch (wire.LinkFetchKey), and the endpoint can send it
	// (PipelinedEndpoint): the worker keeps several fetches in flight
	// (pipeline.go).
	Pipelined bool
}

// warmer is implemented by a LeaderEndpoint whose fetches use their own
// connection: warm opens it (a connection costs round trips: TCP, the
// client's ApiVersions, SASL) while the worker probes and resolves on
// another, so that the first fetch does not pay for it. Errors are
// ignored: the first fetch reports them.
type warmer interface {
	warm(ctx context.Context)
}

// PipelinedEndpoint is implemented by a LeaderEndpoint that can send
// Tandem's LinkFetch. Unlike the other calls, LinkFetch is called by
// several goroutines at once (one per request in flight); the requests
// may reach the source in any order (the answers say in which order they
// were served).
type PipelinedEndpoint interface {
	LinkFetch(ctx context.Context, req *PipelinedFetchRequest) (*PipelinedFetchResponse, error)
}

// PipelinedFetchRequest is one LinkFetch: a FetchRequest whose partitions
// may continue from the source's cursor instead of naming an offset.
type PipelinedFetchRequest struct {
	SessionID int64
	MaxWait   time.Duration
	// Linger: once the request has waited this long at the source, any
	// data answers it (wire.LinkFetchRequest.LingerMillis).
	Linger     time.Duration
	MinBytes   int32
	MaxBytes   int32
	Partitions []PipelinedPartition
}

// PipelinedPartition is one partition of a PipelinedFetchRequest.
// Continue sends FetchOffset and LastFetchedEpoch as "from the cursor".
type PipelinedPartition struct {
	FetchPartition
	Continue bool
}

// PipelinedFetchResponse answers a PipelinedFetchRequest. Err is the
// top-level error (a *kerr.Error: the session was not found or is out of
// sequence); Partitions are then empty.
type PipelinedFetchResponse struct {
	Err error
	// Sequence is the answer's place in the session's order at the
	// source (wire.LinkFetchResponse.Sequence): answers are applied in
	// this order, which need not be the order requests were issued in.
	Sequence   int32
	Partitions map[TopicPartition]PipelinedData
}

// PipelinedData is one partition of a PipelinedFetchResponse: FetchData
// plus where the source read from (FetchOffset, -1 when it failed before
// reading) and its cursor after the answer (NextOffset).
type PipelinedData struct {
	FetchData
	FetchOffset int64
	NextOffset  int64
}

// FetchRequest is one Fetch to a leader. The endpoint sends it with
// ReplicaID -1, read_uncommitted and no fetch session.
type FetchRequest struct {
	MaxWait    time.Duration
	MinBytes   int32
	MaxBytes   int32
	Partitions []FetchPartition
}

// FetchPartition is one partition of a FetchRequest.
type FetchPartition struct {
	TopicPartition
	TopicID            [16]byte
	FetchOffset        int64
	CurrentLeaderEpoch int32
	LastFetchedEpoch   int32 // -1: not sent
	PartitionMaxBytes  int32
}

// FetchResponse is the answer to a FetchRequest.
type FetchResponse struct {
	// Version is the Fetch version that was used.
	Version    int16
	Partitions map[TopicPartition]FetchData
}

// FetchData is one partition of a FetchResponse.
type FetchData struct {
	// Err is nil or the source's error (a *kerr.Error).
	Err              error
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// DivergingEpoch is set when the leader found that LastFetchedEpoch
	// diverges from its log (KIP-595; Kafka's isDivergingEpoch: epoch >= 0).
	DivergingEpoch *EpochEndOffset
	// Records are raw v2 batches; the last may be partial.
	Records []byte
}

// OffsetQuery asks ListOffsets for one partition.
type OffsetQuery struct {
	TopicPartition
	CurrentLeaderEpoch int32
	// Timestamp is ListOffsetsEarliest, ListOffsetsLatest or a time in
	// milliseconds.
	Timestamp int64
}

// ListOffsets special timestamps.
const (
	ListOffsetsLatest   int64 = -1
	ListOffsetsEarliest int64 = -2
)

// OffsetResult answers an OffsetQuery. Offset is -1 when a timestamp query
// found no record at or after the timestamp.
type OffsetResult struct {
	Err         error
	Offset      int64
	LeaderEpoch int32
}

// EpochQuery asks OffsetForLeaderEpoch for the end offset of LeaderEpoch.
type EpochQuery struct {
	TopicPartition
	CurrentLeaderEpoch int32
	LeaderEpoch        int32
}

// EpochEndOffset is Kafka's EpochEndOffset: the end offset of the largest
// epoch <= the requested one; (-1, -1) is UNDEFINED.
type EpochEndOffset struct {
	Err         error
	LeaderEpoch int32
	EndOffset   int64
}

// ClusterMetadata is the part of a Metadata response the fetcher uses.
type ClusterMetadata struct {
	ClusterID string
	Brokers   map[int32]bool
	Topics    map[string]TopicMetadata
}

// TopicMetadata is one topic of ClusterMetadata.
type TopicMetadata struct {
	Err        error // nil or the source's topic error
	ID         [16]byte
	Partitions map[int32]PartitionMetadata
}

// PartitionMetadata is one partition of TopicMetadata.
type PartitionMetadata struct {
	Err         error
	Leader      int32 // -1 none
	LeaderEpoch int32 // -1 unknown (Metadata < v7)
}
