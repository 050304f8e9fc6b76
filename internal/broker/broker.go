// Package broker implements the Kafka API: one file per API key, named by
// key number (00_produce.go, 01_fetch.go, …), each starting with a header
// that names the versions it serves and the behaviour it follows. Handlers
// translate between kmsg requests and the domain packages (partition, log,
// metadata, config); Kafka error codes are chosen here and nowhere below.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/group"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/metrics"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/ratelog"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// Options configures a Broker.
type Options struct {
	NodeID int32
	// Advertised is the address each Kafka listener advertises, in the
	// order of listeners (endpoints.go): Metadata, FindCoordinator and
	// DescribeCluster answer a connection with its own listener's.
	Advertised []Endpoint
	// Static holds the broker's static configuration (file and flags),
	// already validated; StaticProps is the same as given, for
	// DescribeConfigs sources and synonyms.
	Static      config.BrokerConfig
	StaticProps map[string]string
	Store       metadata.Store
	Partitions  *partition.Manager
	Metrics     *metrics.Metrics
	// Logger is the node's logger; the broker adds component attributes.
	Logger *slog.Logger
	Now    func() time.Time
	// Groups configures the group coordinator, whose state lives in the
	// internal topic __consumer_offsets (created on first start).
	Groups group.Config
	// GroupClock drives group timers; nil means the system clock.
	GroupClock group.Clock
	// Authorizer checks every request (authz.go); nil means
	// authorization is off, as in Kafka without authorizer.class.name.
	Authorizer acl.Authorizer
}

// Broker answers Kafka requests for one node.
type Broker struct {
	authorizer acl.Authorizer
	nodeID     int32
	endpoints  []Endpoint
	static     config.BrokerConfig
	props      map[string]string
	store      metadata.Store
	parts      *partition.Manager
	metrics    *metrics.Metrics
	logger     *slog.Logger
	// rlog is for lines a client causes per request (issue #9): a
	// flood of such requests must not flood the log.
	rlog      *ratelog.Logger
	now       func() time.Time
	producers *producerIDs
	groups    *group.Coordinator
	// rec hosts partitions from metadata (reconcile.go); the only caller
	// of the partition manager's Host, Unhost and SetConfig.
	rec *reconciler
	// baseLogger is the node's logger, for components under the broker.
	baseLogger *slog.Logger
	// groupCtx ends the durability waits of __consumer_offsets writes at
	// shutdown.
	groupCtx    context.Context
	groupCancel context.CancelFunc

	// adminMu serialises the checks and metadata writes of admin
	// operations that validate against more than the record they write
	// (topic-name collisions, broker configs against every topic). It is
	// never held while hosting (the reconciler does that) and the
	// reconciler never takes it. Lock order: adminMu → metadata store.
	adminMu sync.Mutex

	// decode bounds the memory of decoded requests (decode_budget.go).
	decode *decodeBudget

	// sasl caches each SASL listener's mechanisms (sasl.go).
	sasl saslConfigs

	// linkAPI answers the private link requests (SetLinkAPI,
	// linkapi_dispatch.go); nil when cluster linking is disabled.
	linkAPI linkAPIPointer

	// linkFetches are the LinkFetch sessions (linkfetch_sessions.go).
	linkFetches linkFetchSessions
}

// New returns a Broker serving the topics in o.Store; it opens their logs.
func New(o Options) (*Broker, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Broker{
		authorizer: o.Authorizer,
		nodeID:     o.NodeID, endpoints: o.Advertised,
		static: o.Static, props: o.StaticProps, store: o.Store, parts: o.Partitions,
		metrics: o.Metrics, logger: o.Logger.With("component", "broker"), now: o.Now,
		decode: newDecodeBudget(o.Static.RequestDecodedMaxBytes, o.Static.RequestDecodedTotalMaxBytes),
	}
	b.baseLogger = o.Logger
	b.rlog = ratelog.New(b.logger, ratelog.Options{})
	b.producers = newProducerIDs(o.Store)
	b.rec = newReconciler(b)
	if err := b.rec.first(); err != nil {
		// A topic the first pass could not host in full (a partition
		// whose log failed to open is offline) does not stop the broker:
		// every other partition serves and the reconciler retries the
		// failures. The group coordinator needs all of
		// __consumer_offsets, which startGroups checks.
		b.baseLogger.Error("broker: some topics are not fully hosted; serving the rest, retrying them", "err", err)
	}
	// Before any InitProducerId is served: the producer ids mirrored
	// data carries (22_init_producer_id.go).
	b.observeHostedProducerIDs()
	if err := b.startGroups(o.Groups, o.GroupClock); err != nil {
		b.rec.close()
		return nil, err
	}
	b.rec.run()
	return b, nil
}

// startGroups makes sure __consumer_offsets exists, then starts the group
// coordinator, which loads every partition of it before serving its groups
// (requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS).
func (b *Broker) startGroups(cfg group.Config, clock group.Clock) error {
	t, ok := b.store.Topic(OffsetsTopic)
	if !ok {
		var err error
		// Kafka's offsets topic: compacted, offsets.topic.segment.bytes
		// (100 MiB) segments, created with offsets.topic.num.partitions.
		t, err = b.CreateTopic(TopicSpec{
			Name: OffsetsTopic, Partitions: cfg.NumPartitions, ReplicationFactor: 1,
			Configs: map[string]string{"cleanup.policy": "compact", "segment.bytes": strconv.Itoa(int(b.static.OffsetsTopicSegmentBytes))},
		}, false)
		if err != nil {
			return fmt.Errorf("creating the internal topic %s: %w", OffsetsTopic, err)
		}
	}
	// The partition count is fixed at creation, as in Kafka: a changed
	// offsets.topic.num.partitions does not re-shard existing groups.
	cfg.NumPartitions = t.Partitions
	for shard := range t.Partitions {
		if _, err := b.parts.Get(OffsetsTopic, shard); err != nil {
			return fmt.Errorf("broker: the group coordinator needs every partition of %s: %w", OffsetsTopic, err)
		}
	}
	if clock == nil {
		clock = group.SystemClock{}
	}
	b.groupCtx, b.groupCancel = context.WithCancel(context.Background())
	logs := func(shard int32) group.Log {
		p, err := b.parts.Get(OffsetsTopic, shard)
		if err != nil {
			panic(fmt.Sprintf("broker: %s partition %d not hosted: %v", OffsetsTopic, shard, err))
		}
		return &offsetsLog{p: p, now: func() int64 { return b.now().UnixMilli() }, ctx: b.groupCtx}
	}
	// Every group line follows from a member's request (join, sync,
	// leave, commit), so all of them are rate-limited, per message.
	groupLog := slog.New(ratelog.NewHandler(b.baseLogger.Handler(), ratelog.Options{})).With("component", "group")
	b.groups = group.NewCoordinator(cfg, logs, groupTopics{b.parts}, clock, groupLog)
	return b.groups.Start()
}

// ClusterID is the cluster's id.
func (b *Broker) ClusterID() string { return b.store.ClusterID() }

// NodeID is this node's id.
func (b *Broker) NodeID() int32 { return b.nodeID }

// Conn describes the client connection a request arrived on.
type Conn struct {
	Remote   net.Addr
	Listener string
	// SendFile says the connection's writer sends Reply.Files with
	// sendfile(2): fetch handlers then hand record bytes over as pinned
	// file ranges instead of reading them into memory (Kafka's zero-copy
	// transferTo path). TLS connections take file ranges too: their writer
	// copies them through the TLS writer. Off for connections that must
	// see the bytes (tests that inspect responses).
	SendFile bool
	// Security is the listener's configuration (security protocol and
	// its ssl.* / sasl.* settings); nil means a PLAINTEXT listener.
	Security *config.ListenerConfig
	// TLS is the handshake state on SSL and SASL_SSL listeners.
	TLS *tls.ConnectionState
	// Principal is who the connection authenticated as: set by the
	// server for PLAINTEXT (ANONYMOUS) and SSL (from the client
	// certificate) listeners, by SaslAuthenticate on SASL listeners; zero
	// until then. Read and written only on the connection's request
	// goroutine, which runs handlers one at a time.
	Principal auth.Principal

	// sasl is the SASL exchange and session state (sasl.go).
	sasl saslState
	// linkClient: the client named itself a Tandem link in ApiVersions
	// v3+ (LinkClient); request goroutine only.
	linkClient bool
	// linkFetch is the LinkFetch session the connection named last
	// (32004_link_fetch.go): written by the request goroutine, read by
	// the waits of parked LinkFetches.
	linkFetch linkFetchConn
}

// Request is one decoded request with its context.
type Request struct {
	// Ctx is cancelled when the connection closes or the server stops;
	// long waits (fetch, acks=all) end with it.
	Ctx    context.Context
	Header wire.Header
	Req    kmsg.Request
	Conn   *Conn
	// Drain is closed when the server starts a graceful shutdown: long
	// polls answer at once with what they have (produce waits go on, so
	// acknowledged-durable stays true).
	Drain <-chan struct{}
}

// Reply is what a handler produces: a response now, a response later, or
// nothing (acks=0 produce). Wait, when set, is run by the connection's
// writer in request order, so responses leave in the order requests came
// while the waits of pipelined requests overlap.
type Reply struct {
	Resp kmsg.Response
	Wait func() kmsg.Response
	// NoResponse means the client expects no bytes back.
	NoResponse bool
	// Close asks the server to close the connection after this reply
	// (Kafka closes on an acks=0 produce that failed, so the client
	// notices).
	Close bool
	// Files, when non-nil, lists the file slices that stand in for
	// record bytes in the response (see Files). It is complete once Wait
	// has returned. The server releases it after writing the response,
	// or when it gives up on the connection.
	Files *Files
	// Take, when set, takes the connection over after this reply
	// (LinkReverse, 32002_link_reverse.go): the server writes and
	// flushes the response, stops reading and serving the connection
	// without closing it, clears its deadlines and calls Take with a
	// net.Conn that first yields any bytes the server had read ahead.
	// Take is not called when the connection failed or the server is
	// shutting down before the hand-off; the connection is then closed.
	Take func(net.Conn)
}

func now(r kmsg.Response) Reply { return Reply{Resp: r} }

// ErrUnsupported is returned by Handle for an API key or version this
// broker does not serve; the server closes the connection, as Kafka does
// when it cannot parse a request header's api/version.
var ErrUnsupported = errors.New("unsupported API key or version")

// Handle dispatches one request frame. A non-nil error means the request
// cannot be answered and the connection must be closed.
func (b *Broker) Handle(ctx context.Context, c *Conn, h wire.Header, body []byte) (Reply, error) {
	return b.HandleDrain(ctx, nil, c, h, body)
}

// HandleDrain is Handle with the server's drain signal (see Request.Drain).
func (b *Broker) HandleDrain(ctx context.Context, drain <-chan struct{}, c *Conn, h wire.Header, body []byte) (Reply, error) {
	if err := b.gate(c, h.Key); err != nil {
		return Reply{}, err
	}
	if h.Key == int16(kmsg.ApiVersions) && !Supported(h.Key, h.Version) {
		// KIP-511: answer an unknown ApiVersions version with v0, the
		// error, and our table, so the client can downgrade.
		return now(b.apiVersionsResponse(0, kerr.UnsupportedVersion.Code)), nil
	}
	d, ok := registry[h.Key]
	if wire.IsLinkAPIKey(h.Key) {
		d, ok = privateRegistry[h.Key] // linkapi_dispatch.go
	}
	if !ok || h.Version < d.min || h.Version > d.max {
		return Reply{}, fmt.Errorf("%w: %s (key %d) v%d", ErrUnsupported, wire.NameForKey(h.Key), h.Key, h.Version)
	}
	req, release, err := b.decode.decode(h, body)
	if err != nil {
		return Reply{}, err
	}
	r := &Request{Ctx: ctx, Header: h, Req: req, Conn: c, Drain: drain}
	return holdUntilAnswered(ctx, d.fn(b, r), release), nil
}

// Close stops the metadata reconciler and the group coordinator: parked
// group requests are answered (COORDINATOR_NOT_AVAILABLE) so connections
// can drain. The node closes the partition manager and the store after the
// last connection.
func (b *Broker) Close() {
	b.rec.close()
	if b.groups != nil {
		b.groups.Close()
	}
	if b.groupCancel != nil {
		b.groupCancel()
	}
}
