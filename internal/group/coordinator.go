package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Log is a shard's __consumer_offsets partition as the coordinator sees it.
// The broker implements it over its partition log.
//
// Contract for implementations:
//   - Append is called only from the shard's goroutine, in the order the
//     records must appear in the log; the records of one call form one
//     batch, appended as the partition leader (Kafka's coordinator writes
//     each operation's records atomically). Records are written as given:
//     Key and Value are Kafka's serialized OffsetCommit/GroupMetadata
//     keys and values, and a nil Value is a tombstone (a null value, not
//     an empty one), which compaction relies on.
//   - done is called exactly once per Append. Success means the batch is
//     covered by the HighWatermark; a failure should carry the Kafka error
//     in its chain (wrap a *kerr.Error, as broker.AsKafkaError does) so
//     the coordinator can answer what Kafka answers; see appendErrorCode.
//     Completions may arrive in any order and on any goroutine (the shard
//     applies them in Append order).
//   - Append must not block on durability: the shard goroutine is also the
//     one that processes heartbeats.
//   - Replay is called once, before any Append, and must deliver every
//     record (tombstones included, as nil Values) from the log start to the
//     HighWatermark in offset order, decompressed, skipping control
//     batches. An error fails the shard's load.
type Log interface {
	// Append writes records as one batch and calls done once they are
	// durable (covered by the partition's HighWatermark) or failed. It must
	// not block on durability; done may run on any goroutine.
	Append(records []Record, done func(err error))
	// Replay calls fn for every record from the log start up to the
	// high watermark, in offset order (used once, to load the shard).
	Replay(fn func(offset int64, r Record) error) error
}

// Topics is what the coordinator asks of the broker. It is called from
// the request's goroutine, concurrently.
type Topics interface {
	// PartitionExists reports whether topic/partition exists.
	PartitionExists(topic string, partition int32) bool
}

// Config holds the coordinator's settings, under Kafka's names.
type Config struct {
	NumPartitions                        int32         // offsets.topic.num.partitions (50)
	InitialRebalanceDelay                time.Duration // group.initial.rebalance.delay.ms (3000)
	MinSessionTimeout, MaxSessionTimeout time.Duration // group.min/max.session.timeout.ms (6000 / 1800000)
	MaxSize                              int           // group.max.size (MaxInt32)
	OffsetsRetention                     time.Duration // offsets.retention.minutes (7 days)
	OffsetsRetentionCheckInterval        time.Duration // offsets.retention.check.interval.ms (600000)
	OffsetMetadataMaxBytes               int           // offset.metadata.max.bytes (4096)
}

// DefaultConfig is Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		NumPartitions:                 50,
		InitialRebalanceDelay:         3 * time.Second,
		MinSessionTimeout:             6 * time.Second,
		MaxSessionTimeout:             30 * time.Minute,
		MaxSize:                       math.MaxInt32,
		OffsetsRetention:              7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval: 10 * time.Minute,
		OffsetMetadataMaxBytes:        4096,
	}
}

// withDefaults fills the settings whose zero value means nothing sensible
// (a zero InitialRebalanceDelay, MinSessionTimeout or
// OffsetMetadataMaxBytes is a legitimate choice and is kept).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.NumPartitions <= 0 {
		c.NumPartitions = d.NumPartitions
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = d.MaxSessionTimeout
	}
	if c.MaxSize <= 0 {
		c.MaxSize = d.MaxSize
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = d.OffsetsRetention
	}
	if c.OffsetsRetentionCheckInterval <= 0 {
		c.OffsetsRetentionCheckInterval = d.OffsetsRetentionCheckInterval
	}
	return c
}

// ClientInfo is what the coordinator records about the client that sent a
// JoinGroup, for member ids and DescribeGroups.
type ClientInfo struct {
	// ID is the request header's client id.
	ID string
	// Host is the client's address as Kafka shows it: "/" followed by
	// the IP (Java's InetAddress.toString).
	Host string
}

type clientInfoKey struct{}

// WithClientInfo returns ctx carrying the client's identity; the broker
// passes it to JoinGroup.
func WithClientInfo(ctx context.Context, ci ClientInfo) context.Context {
	return context.WithValue(ctx, clientInfoKey{}, ci)
}

func clientInfoFrom(ctx context.Context) ClientInfo {
	ci, _ := ctx.Value(clientInfoKey{}).(ClientInfo)
	return ci
}

// Coordinator is the group coordinator: one shard per __consumer_offsets
// partition, each owned by its own goroutine and loaded from its
// partition at Start. The API methods block until their response is
// ready; they are meant to be called from a broker handler's Reply.Wait.
type Coordinator struct {
	cfg     Config
	topics  Topics
	clock   Clock
	logger  *slog.Logger
	shards  []*shard
	closing chan struct{}

	mu      sync.Mutex // serializes Start and Close
	started atomic.Bool
	closed  bool

	// Start-up summary: one line once every shard has loaded, instead of
	// one per shard (50 with Kafka's default offsets.topic.num.partitions).
	startedAt    time.Time
	shardsLoaded atomic.Int32
	groupsLoaded atomic.Int64
}

// NewCoordinator returns a coordinator over the logs of cfg.NumPartitions
// shards; nothing runs until Start.
func NewCoordinator(cfg Config, logs func(shard int32) Log, topics Topics, clock Clock, logger *slog.Logger) *Coordinator {
	cfg = cfg.withDefaults()
	if clock == nil {
		clock = SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Coordinator{cfg: cfg, topics: topics, clock: clock, logger: logger, closing: make(chan struct{})}
	for i := int32(0); i < cfg.NumPartitions; i++ {
		sh := &shard{
			id:      i,
			c:       c,
			log:     logs(i),
			state:   newShardState(cfg, i, logger.With("shard", i), randomUUID),
			q:       queue{signal: make(chan struct{}, 1)},
			done:    make(chan struct{}),
			waiters: map[uint64]chan any{},
		}
		c.shards = append(c.shards, sh)
	}
	return c
}

// randomUUID is a version-4 UUID, as Java's UUID.randomUUID gives Kafka's
// member ids.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// shardLoaded records one shard's load; the last one logs the summary.
func (c *Coordinator) shardLoaded(groups int) {
	total := c.groupsLoaded.Add(int64(groups))
	if int(c.shardsLoaded.Add(1)) == len(c.shards) {
		c.logger.Info("group coordinator loaded", "shards", len(c.shards), "groups", total,
			"took", c.clock.Now().Sub(c.startedAt))
	}
}

// Loaded reports whether every shard has loaded (a shard whose load
// failed never has): until then requests of a loading shard get
// COORDINATOR_LOAD_IN_PROGRESS, which clients retry.
func (c *Coordinator) Loaded() bool { return int(c.shardsLoaded.Load()) == len(c.shards) }

// ErrStarted is returned by a second Start.
var ErrStarted = errors.New("group: coordinator already started or closed")

// Start launches every shard, each of which loads its partition before it
// serves; until then requests for its groups get
// COORDINATOR_LOAD_IN_PROGRESS. It returns once the loads are launched.
func (c *Coordinator) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started.Load() || c.closed {
		return ErrStarted
	}
	c.started.Store(true)
	c.startedAt = c.clock.Now()
	for _, sh := range c.shards {
		go sh.run()
	}
	return nil
}

// Close stops the shards. Requests waiting for a response are answered
// with COORDINATOR_NOT_AVAILABLE, and so is every later request; writes in
// flight are left to the log.
func (c *Coordinator) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	started := c.started.Load()
	close(c.closing)
	c.mu.Unlock()
	if started {
		for _, sh := range c.shards {
			<-sh.done
		}
	}
}

// Partition returns the __consumer_offsets partition of groupID.
func (c *Coordinator) Partition(groupID string) int32 {
	if c == nil {
		return 0
	}
	return Partition(groupID, c.cfg.NumPartitions)
}

// submit queues op on shard i, or returns the error its state calls for.
// A nil Coordinator (a broker built without one) is never available.
func (c *Coordinator) submit(i int32, op any) (chan any, int16) {
	if c == nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	select {
	case <-c.closing:
		return nil, kerr.CoordinatorNotAvailable.Code
	default:
	}
	if !c.started.Load() {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	sh := c.shards[i]
	switch sh.status.Load() {
	case shardLoading:
		return nil, kerr.CoordinatorLoadInProgress.Code
	case shardFailed:
		return nil, kerr.NotCoordinator.Code
	}
	ch := make(chan any, 1)
	sh.q.push(reqEvent{op: op, ch: ch})
	return ch, 0
}

// await waits for a submitted op's reply. A closed connection or
// coordinator gives COORDINATOR_NOT_AVAILABLE: the state machine may still
// answer later, into the buffered channel nobody reads.
func (c *Coordinator) await(ctx context.Context, ch chan any) (any, int16) {
	select {
	case r := <-ch:
		return r, 0
	case <-ctx.Done():
		return nil, kerr.CoordinatorNotAvailable.Code
	case <-c.closing:
		return nil, kerr.CoordinatorNotAvailable.Code
	}
}

// call runs a single-group op on its shard.
func (c *Coordinator) call(ctx context.Context, groupID string, op any) any {
	ch, code := c.submit(c.Partition(groupID), op)
	if code != 0 {
		return errorReply(op, code)
	}
	r, code := c.await(ctx, ch)
	if code != 0 {
		return errorReply(op, code)
	}
	return r
}

// fanOut runs one op per shard concurrently and returns the replies by
// shard, with errorReply standing in for a shard that cannot answer.
func (c *Coordinator) fanOut(ctx context.Context, ops map[int32]any) map[int32]any {
	chans := make(map[int32]chan any, len(ops))
	out := make(map[int32]any, len(ops))
	for i, op := range ops {
		ch, code := c.submit(i, op)
		if code != 0 {
			out[i] = errorReply(op, code)
			continue
		}
		chans[i] = ch
	}
	for i, ch := range chans {
		r, code := c.await(ctx, ch)
		if code != 0 {
			r = errorReply(ops[i], code)
		}
		out[i] = r
	}
	return out
}

// JoinGroup serves JoinGroup v0-9. The client's id and address come from
// ctx (WithClientInfo).
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	ci := clientInfoFrom(ctx)
	return c.call(ctx, req.Group, joinOp{req: req, clientID: ci.ID, clientHost: ci.Host}).(*kmsg.JoinGroupResponse)
}

// SyncGroup serves SyncGroup v0-5.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	return c.call(ctx, req.Group, req).(*kmsg.SyncGroupResponse)
}

// Heartbeat serves Heartbeat v0-4.
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	return c.call(ctx, req.Group, req).(*kmsg.HeartbeatResponse)
}

// LeaveGroup serves LeaveGroup v0-5.
func (c *Coordinator) LeaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	return c.call(ctx, req.Group, req).(*kmsg.LeaveGroupResponse)
}

// OffsetCommit serves OffsetCommit v1-9. Partitions the broker does not
// have get UNKNOWN_TOPIC_OR_PARTITION, as Kafka's KafkaApis answers them
// before the coordinator sees the request.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	op := commitOp{req: req, unknown: c.unknownPartitions(len(req.Topics), func(i int) (string, []int32) {
		t := req.Topics[i]
		ps := make([]int32, len(t.Partitions))
		for j, p := range t.Partitions {
			ps[j] = p.Partition
		}
		return t.Topic, ps
	})}
	return c.call(ctx, req.Group, op).(*kmsg.OffsetCommitResponse)
}

// OffsetDelete serves OffsetDelete v0.
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	op := offsetDeleteOp{req: req, unknown: c.unknownPartitions(len(req.Topics), func(i int) (string, []int32) {
		t := req.Topics[i]
		ps := make([]int32, len(t.Partitions))
		for j, p := range t.Partitions {
			ps[j] = p.Partition
		}
		return t.Topic, ps
	})}
	return c.call(ctx, req.Group, op).(*kmsg.OffsetDeleteResponse)
}

func (c *Coordinator) unknownPartitions(n int, topic func(i int) (string, []int32)) [][]bool {
	if c == nil || c.topics == nil {
		return nil
	}
	out := make([][]bool, n)
	for i := range n {
		t, ps := topic(i)
		out[i] = make([]bool, len(ps))
		for j, p := range ps {
			out[i][j] = !c.topics.PartitionExists(t, p)
		}
	}
	return out
}

// OffsetFetch serves OffsetFetch v1-9: one group before v8, several from
// v8, each answered by its shard.
func (c *Coordinator) OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	requireStable := req.Version >= 7 && req.RequireStable
	if req.Version < 8 {
		op := fetchOp{group: req.Group, requireStable: requireStable}
		if req.Topics != nil || req.Version < 2 {
			op.topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
			for _, t := range req.Topics {
				op.topics = append(op.topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		g := c.call(ctx, req.Group, op).(kmsg.OffsetFetchResponseGroup)
		if g.ErrorCode != 0 {
			if req.Version >= 2 {
				resp.ErrorCode = g.ErrorCode
				return resp
			}
			// v1 has no group-level error: every partition carries it.
			for _, t := range req.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.Metadata, rp.ErrorCode = p, -1, kmsg.StringPtr(""), g.ErrorCode
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		}
		for _, t := range g.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}

	// v8+: group the requested groups by shard, keeping request order.
	type slot struct{ shard, idx int32 }
	slots := make([]slot, len(req.Groups))
	ops := map[int32]any{}
	for i, rg := range req.Groups {
		sh := c.Partition(rg.Group)
		op, _ := ops[sh].(fetchGroupsOp)
		slots[i] = slot{sh, int32(len(op.groups))}
		op.groups = append(op.groups, fetchOp{group: rg.Group, topics: rg.Topics, requireStable: requireStable})
		ops[sh] = op
	}
	replies := c.fanOut(ctx, ops)
	for _, s := range slots {
		resp.Groups = append(resp.Groups, replies[s.shard].([]kmsg.OffsetFetchResponseGroup)[s.idx])
	}
	return resp
}

// DescribeGroups serves DescribeGroups v0-6.
func (c *Coordinator) DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	type slot struct{ shard, idx int32 }
	slots := make([]slot, len(req.Groups))
	ops := map[int32]any{}
	for i, id := range req.Groups {
		sh := c.Partition(id)
		op, _ := ops[sh].(describeOp)
		op.version, op.includeAuthorized = req.Version, req.Version >= 3 && req.IncludeAuthorizedOperations
		slots[i] = slot{sh, int32(len(op.groups))}
		op.groups = append(op.groups, id)
		ops[sh] = op
	}
	replies := c.fanOut(ctx, ops)
	for _, s := range slots {
		resp.Groups = append(resp.Groups, replies[s.shard].([]kmsg.DescribeGroupsResponseGroup)[s.idx])
	}
	return resp
}

// ListGroups serves ListGroups v0-5. A shard still loading makes the
// whole response COORDINATOR_LOAD_IN_PROGRESS; a shard that failed to load
// is skipped, as Kafka skips partitions it is not coordinator for.
func (c *Coordinator) ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if c == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	op := listOp{}
	if req.Version >= 4 {
		for _, s := range req.StatesFilter {
			op.states = append(op.states, strings.ToLower(strings.TrimSpace(s)))
		}
	}
	if req.Version >= 5 {
		for _, t := range req.TypesFilter {
			op.types = append(op.types, strings.ToLower(strings.TrimSpace(t)))
		}
	}
	ops := make(map[int32]any, len(c.shards))
	for i := range c.shards {
		ops[int32(i)] = op
	}
	replies := c.fanOut(ctx, ops)
	for i := range c.shards {
		switch r := replies[int32(i)].(type) {
		case listError:
			if int16(r) != kerr.NotCoordinator.Code {
				resp.ErrorCode, resp.Groups = int16(r), nil
				return resp
			}
		case []kmsg.ListGroupsResponseGroup:
			resp.Groups = append(resp.Groups, r...)
		}
	}
	return resp
}

// DeleteGroups serves DeleteGroups v0-2.
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	type slot struct{ shard, idx int32 }
	slots := make([]slot, len(req.Groups))
	ops := map[int32]any{}
	for i, id := range req.Groups {
		sh := c.Partition(id)
		op, _ := ops[sh].(deleteGroupsOp)
		slots[i] = slot{sh, int32(len(op.groups))}
		op.groups = append(op.groups, id)
		ops[sh] = op
	}
	replies := c.fanOut(ctx, ops)
	for _, s := range slots {
		resp.Groups = append(resp.Groups, replies[s.shard].([]kmsg.DeleteGroupsResponseGroup)[s.idx])
	}
	return resp
}

// OnTopicsDeleted deletes every group's committed offsets for the given
// topics (Kafka's GroupCoordinator.onPartitionsDeleted); the broker calls
// it after deleting topics. It returns once the tombstones are durable.
func (c *Coordinator) OnTopicsDeleted(ctx context.Context, topics []string) error {
	if c == nil {
		return nil
	}
	ops := make(map[int32]any, len(c.shards))
	for i := range c.shards {
		ops[int32(i)] = topicsDeletedOp{topics: topics}
	}
	var errs []error
	for i, r := range c.fanOut(ctx, ops) {
		switch r := r.(type) {
		case shardError:
			errs = append(errs, fmt.Errorf("group: shard %d: %w", i, kerr.ErrorForCode(int16(r))))
		case error:
			errs = append(errs, fmt.Errorf("group: shard %d: %w", i, r))
		}
	}
	return errors.Join(errs...)
}
