package wire

// Tandem-private link requests (docs/design/links-bidirectional.md §2.4).
//
// Two halves of one cluster link (a source-initiated pair, or two
// bidirectional halves) need questions Kafka has no API for: "do you have a
// link named L, with which id, in which state, and which of your topics are
// its mirrors?" (LinkPeer), "reverse this connection: I dialed you, you
// drive it" (LinkReverse), and "stop/fence/restore these topics of yours for
// a failback" (LinkMirrorOp). They are framed exactly like Kafka requests
// (request header v2, flexible bodies with tagged fields, versioned from
// v0), so the broker's connection reader, SASL state, request limits and
// the decode pre-scan handle them as any request.
//
// API keys are far above Kafka's (< 100). They are listed in ApiVersions
// only to a client whose ApiVersions v3+ ClientSoftwareName is
// LinkClientSoftwareName (a Tandem link), so an ordinary client is never
// offered them, and they are refused before authentication like every
// request but ApiVersions/SaslHandshake/SaslAuthenticate.
//
// The codecs are the one exception to "codecs come from kmsg": kmsg cannot
// be taught new keys. They are written with kbin (the reader/writer kmsg is
// built on) and implement kmsg.Request/kmsg.Response, so franz-go's client
// can send them (kmsg documents custom Request implementations).

const (
	// LinkPeerKey asks the peer half about its link (pairing, remote
	// link state, the peer's mirrors).
	LinkPeerKey int16 = 32001
	// LinkReverseKey sets up a reversed connection of a source-initiated
	// link (roles below).
	LinkReverseKey int16 = 32002
	// LinkMirrorOpKey drives the peer's topics in a failback.
	LinkMirrorOpKey int16 = 32003

	// LinkClientSoftwareName is the ClientSoftwareName (KIP-511) a Tandem
	// link's client sends in ApiVersions; only such a client is offered
	// the private keys.
	LinkClientSoftwareName = "tandem-link"
)

// LinkReverse roles.
const (
	// LinkReverseControl: S (the SOURCE half, which dialed) asks D (the
	// INBOUND half's broker) to take this connection as a control
	// session. After the response the connection is reversed: D sends
	// requests (DIAL, PING, LinkPeer, LinkMirrorOp), S answers.
	LinkReverseControl int8 = 0
	// LinkReverseData: S offers this new connection for the pending dial
	// DialID of session SessionID. After the response it is a byte relay
	// from D's link client to a broker of S's cluster.
	LinkReverseData int8 = 1
	// LinkReverseDial (D→S on a control session): open a data connection
	// to Host:Port of S's cluster and offer it as DialID.
	LinkReverseDial int8 = 2
	// LinkReversePing (D→S on a control session): heartbeat.
	LinkReversePing int8 = 3
)

// LinkMirrorOp operations (§5.2, §5.3 of the design).
const (
	// MirrorOpDescribeStop: report each topic's state and, for a STOPPED
	// mirror of this link, the log end offsets at which it stopped.
	MirrorOpDescribeStop int8 = 0
	// MirrorOpFence: make each topic read-only (PENDING_SETUP_FOR_RESTORE)
	// and report its log end offsets; first phase of a reverse.
	MirrorOpFence int8 = 1
	// MirrorOpUnfence: undo a fence (back to STOPPED, writable).
	MirrorOpUnfence int8 = 2
	// MirrorOpRestore: turn each topic into a mirror of the asker over
	// this link, truncated to Partitions' offsets (must truncate nothing
	// after a fence); Paused leaves the new mirror PAUSED.
	MirrorOpRestore int8 = 3
)

// LinkPeerMirror is one mirror topic of a link half.
type LinkPeerMirror struct {
	Topic       string
	SourceTopic string
	State       string
	TopicID     [16]byte
}

// LinkPeerRequest v0: the asker's view of the link.
type LinkPeerRequest struct {
	Version        int16
	LinkName       string
	LinkID         [16]byte // the asker's cluster_link_id
	ClusterID      string   // the asker's cluster id
	LinkMode       string   // DESTINATION | SOURCE | BIDIRECTIONAL
	ConnectionMode string   // OUTBOUND | INBOUND
	LinkState      string   // the asker's own link state
	Mirrors        []LinkPeerMirror
}

// LinkPeerResponse v0: the answering half, if any.
type LinkPeerResponse struct {
	Version        int16
	ErrorCode      int16
	ErrorMessage   *string
	Found          bool
	LinkID         [16]byte
	ClusterID      string
	LinkMode       string
	ConnectionMode string
	LinkState      string
	Mirrors        []LinkPeerMirror
}

// LinkReverseBroker is one broker of the answering cluster that runs work
// of the link (several destination brokers, design §3.3).
type LinkReverseBroker struct {
	NodeID int32
	Host   string
	Port   int32
}

// LinkReverseRequest v0.
type LinkReverseRequest struct {
	Version   int16
	LinkName  string
	LinkID    [16]byte
	ClusterID string // the sender's cluster id
	Role      int8
	SessionID [16]byte
	DialID    int64
	Host      string // DIAL only
	Port      int32  // DIAL only
	// Brokers (PING only): the destination brokers that run work of
	// the link, as the sender knows them now; the SOURCE half keeps one
	// control session per listed broker (design §3.3). Empty: unchanged.
	Brokers []LinkReverseBroker
}

// LinkReverseResponse v0.
type LinkReverseResponse struct {
	Version         int16
	ErrorCode       int16
	ErrorMessage    *string
	LinkID          [16]byte
	ClusterID       string // the answering cluster's id
	HeartbeatMillis int32
	Brokers         []LinkReverseBroker
}

// LinkMirrorOpPartition is a partition and an offset: a target to truncate
// to in a request, a log end offset in a response.
type LinkMirrorOpPartition struct {
	Partition int32
	Offset    int64
}

// LinkMirrorOpTopic is one topic of a LinkMirrorOp request.
type LinkMirrorOpTopic struct {
	Topic  string
	Paused bool
	// TopicID is the asker's id of its topic (RESTORE: the new mirror's
	// source topic id, which the answering side records as
	// SourceTopicID; design §5.3 "Topic ids swap roles"). Zero when the
	// op needs none.
	TopicID    [16]byte
	Partitions []LinkMirrorOpPartition
}

// LinkMirrorOpRequest v0.
type LinkMirrorOpRequest struct {
	Version   int16
	LinkName  string
	LinkID    [16]byte
	ClusterID string // the asker's cluster id
	Op        int8
	Topics    []LinkMirrorOpTopic
}

// LinkMirrorOpTopicResult is one topic of a LinkMirrorOp response.
type LinkMirrorOpTopicResult struct {
	Topic        string
	ErrorCode    int16
	ErrorMessage *string
	State        string
	TopicID      [16]byte
	Partitions   []LinkMirrorOpPartition
}

// LinkMirrorOpResponse v0.
type LinkMirrorOpResponse struct {
	Version      int16
	ErrorCode    int16
	ErrorMessage *string
	Topics       []LinkMirrorOpTopicResult
}

// LinkFetchKey is a pipelined, read-only fetch of a Tandem link's
// fetcher (docs/mirroring.md "Pipelined fetch from a Tandem source").
//
// Kafka's Fetch names each partition's fetch offset, so a fetcher can
// have only one fetch in flight per partition: it learns the next offset
// from the answer. Across a WAN a record produced just after a fetch was
// answered then waits a whole round trip for the next fetch to arrive, and
// half a round trip more to come back: replication latency p99 ≈ 1.5 ×
// RTT. LinkFetch lets the fetcher keep several requests in flight: the
// source keeps each partition's next offset (a cursor) in a session, and a
// partition sent with FetchOffset -1 continues from its cursor, and each
// answer carries its place in the session's order (Sequence), so that the
// fetcher applies the answers in the order the cursors moved.
const LinkFetchKey int16 = 32004

// LinkFetchContinue in LinkFetchPartition.FetchOffset continues
// from the session's cursor.
const LinkFetchContinue int64 = -1

// LinkFetchPartition is one partition of a LinkFetch request.
type LinkFetchPartition struct {
	Partition          int32
	CurrentLeaderEpoch int32 // -1: not checked (KIP-320 fencing as Fetch v9+)
	// FetchOffset sets the cursor (>= 0) or continues from it
	// (LinkFetchContinue); LastFetchedEpoch goes with an explicit offset
	// (KIP-595 divergence check as Fetch v12+; -1: none). On a
	// continuation the source checks the cursor's own last epoch.
	FetchOffset       int64
	LastFetchedEpoch  int32
	PartitionMaxBytes int32
}

// LinkFetchTopic is one topic of a LinkFetch request, by id.
type LinkFetchTopic struct {
	TopicID    [16]byte
	Partitions []LinkFetchPartition
}

// LinkFetchRequest v0. Reads as a read_uncommitted consumer (ReplicaID
// -1): up to the HighWatermark, READ on each topic.
type LinkFetchRequest struct {
	Version int16
	// SessionID names the sender's session (random, non-zero). The
	// source creates the session when it first sees the id (for the
	// principal that named it; another principal's request for it
	// answers FETCH_SESSION_ID_NOT_FOUND) and drops it when idle or to
	// make room; a fetcher starting over picks a new id.
	SessionID int64
	// MaxWaitMillis, MinBytes, MaxBytes are Fetch's, with one
	// difference: the wait starts when the request's turn comes (after
	// the answers to the requests before it on the connection).
	MaxWaitMillis int32
	MinBytes      int32
	MaxBytes      int32
	// LingerMillis: once this long has passed since the session's
	// previous answer (for its first request: since the request's turn
	// came), any data answers the request (MinBytes no longer applies).
	// A fetcher keeping N requests in flight across a round trip RTT
	// sets about RTT/(N-2): each request then spends RTT + linger on its
	// way and answered, and one more linger queued at the source, so one
	// is always waiting there and records leave at most LingerMillis
	// after they were written.
	LingerMillis int32
	Topics       []LinkFetchTopic
}

// LinkFetchDivergingEpoch is Fetch v12's DivergingEpoch.
type LinkFetchDivergingEpoch struct {
	Epoch     int32 // -1: no divergence
	EndOffset int64
}

// LinkFetchPartitionResponse is one partition of a LinkFetch response.
type LinkFetchPartitionResponse struct {
	Partition int32
	ErrorCode int16
	// FetchOffset is the offset this answer was read from (the cursor
	// or the explicit offset; -1 with an error before reading), and
	// NextOffset the cursor after it: the offset after the last batch
	// returned (FetchOffset when none). A partition in error has no
	// cursor afterwards: a continuation answers
	// INVALID_FETCH_SESSION_EPOCH until an explicit offset is sent.
	FetchOffset      int64
	NextOffset       int64
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	DivergingEpoch   LinkFetchDivergingEpoch
	// Records are whole v2 batches (never null).
	Records []byte
}

// LinkFetchTopicResponse is one topic of a LinkFetch response.
type LinkFetchTopicResponse struct {
	TopicID    [16]byte
	Partitions []LinkFetchPartitionResponse
}

// LinkFetchResponse v0. Topics and partitions answer in request order.
type LinkFetchResponse struct {
	Version        int16
	ThrottleMillis int32
	ErrorCode      int16
	ErrorMessage   *string
	// Sequence is the answer's place in its session: 0 for the first
	// request the source served, then one more per answer. The source
	// serves a session's requests in the order they reach it, which need
	// not be the order the fetcher issued them (several goroutines, one
	// connection); the fetcher applies the answers in this order, which
	// is the order of the cursors' moves. A sequence lower than the one
	// expected means the source dropped the session and started a new
	// one under the same id.
	Sequence int32
	Topics   []LinkFetchTopicResponse
}
