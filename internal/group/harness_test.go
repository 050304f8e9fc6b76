package group

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// harness drives one shardState deterministically: a manual clock, a
// fake log whose writes complete only when the test says so, and member
// ids from a counter.
type harness struct {
	t      *testing.T
	s      *shardState
	now    time.Time
	nextTo uint64
	// replies received, by waiter.
	replies map[uint64]any
	// pending writes, in issue order, and the durable log.
	pending []appendReq
	log     []Record
	// autoAck makes every write durable as soon as it is issued.
	autoAck bool
	uuids   int
	// session is the session timeout joins use unless they say.
	session time.Duration
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func testConfig() Config {
	c := DefaultConfig()
	c.NumPartitions = 1
	return c
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, now: epoch, replies: map[uint64]any{}, autoAck: true}
	h.s = newShardState(cfg, 0, testLogger(t), func() string { h.uuids++; return fmt.Sprintf("uuid%d", h.uuids) })
	h.s.onLoaded(h.now)
	h.collect()
	return h
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// collect takes the state's outputs; with autoAck, writes complete at once
// (which may produce more outputs).
func (h *harness) collect() {
	for {
		out := h.s.ready()
		for _, r := range out.replies {
			if _, dup := h.replies[r.to]; dup {
				h.t.Fatalf("second reply to waiter %d: %#v", r.to, r.resp)
			}
			h.replies[r.to] = r.resp
		}
		h.pending = append(h.pending, out.appends...)
		if !h.autoAck || len(h.pending) == 0 {
			return
		}
		h.ack(nil)
	}
}

// ack completes the oldest pending write with err.
func (h *harness) ack(err error) {
	h.t.Helper()
	if len(h.pending) == 0 {
		h.t.Fatal("no pending write")
	}
	a := h.pending[0]
	h.pending = h.pending[1:]
	if err == nil {
		h.log = append(h.log, a.records...)
	}
	h.s.writeDone(h.now, a.id, err)
	h.collect()
}

// ackAll completes every pending write with err.
func (h *harness) ackAll(err error) {
	for len(h.pending) > 0 {
		h.ack(err)
	}
}

func (h *harness) do(op any) uint64 {
	h.nextTo++
	h.s.handle(h.now, h.nextTo, op)
	h.collect()
	return h.nextTo
}

// advance moves the clock forward, firing the timers that come due.
func (h *harness) advance(d time.Duration) {
	end := h.now.Add(d)
	for {
		at, ok := h.s.nextDeadline()
		if !ok || at.After(end) {
			break
		}
		h.now = at
		h.s.tick(h.now)
		h.collect()
	}
	h.now = end
	h.s.tick(h.now)
	h.collect()
}

func (h *harness) reply(to uint64) (any, bool) {
	r, ok := h.replies[to]
	return r, ok
}

func (h *harness) mustReply(to uint64) any {
	h.t.Helper()
	r, ok := h.replies[to]
	if !ok {
		h.t.Fatalf("no reply to waiter %d", to)
	}
	return r
}

func (h *harness) noReply(to uint64) {
	h.t.Helper()
	if r, ok := h.replies[to]; ok {
		h.t.Fatalf("unexpected reply to waiter %d: %#v", to, r)
	}
}

func (h *harness) joinResp(to uint64) *kmsg.JoinGroupResponse {
	h.t.Helper()
	return h.mustReply(to).(*kmsg.JoinGroupResponse)
}

func (h *harness) syncResp(to uint64) *kmsg.SyncGroupResponse {
	h.t.Helper()
	return h.mustReply(to).(*kmsg.SyncGroupResponse)
}

func (h *harness) group(id string) *group {
	h.t.Helper()
	g := h.s.groups[id]
	if g == nil {
		h.t.Fatalf("group %q does not exist", id)
	}
	return g
}

func (h *harness) wantState(id string, st groupState) {
	h.t.Helper()
	if g := h.group(id); g.state != st {
		h.t.Fatalf("group %q is %v, want %v", id, g.state, st)
	}
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var wantCode int16
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// Request builders.

// version0 in joinSpec.version asks for JoinGroup v0.
const version0 = -1

type joinSpec struct {
	group, member, client string
	instance              *string
	version               int16
	session, rebalance    time.Duration
	protocolType          string
	protocols             []kmsg.JoinGroupRequestProtocol
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.ConsumerMemberMetadata{Version: 0, Topics: topics}
	return m.AppendTo(nil)
}

func protocols(pairs ...string) []kmsg.JoinGroupRequestProtocol {
	var out []kmsg.JoinGroupRequestProtocol
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, kmsg.JoinGroupRequestProtocol{Name: pairs[i], Metadata: consumerMeta(pairs[i+1])})
	}
	return out
}

func (h *harness) join(j joinSpec) uint64 {
	req := kmsg.NewPtrJoinGroupRequest()
	switch {
	case j.version > 0:
		req.Version = j.version
	case j.version < 0: // version0
		req.Version = 0
	default:
		req.Version = 9
	}
	req.Group, req.MemberID, req.InstanceID = j.group, j.member, j.instance
	req.SessionTimeoutMillis = 10000
	if h.session > 0 {
		req.SessionTimeoutMillis = int32(h.session.Milliseconds())
	}
	if j.session > 0 {
		req.SessionTimeoutMillis = int32(j.session.Milliseconds())
	}
	req.RebalanceTimeoutMillis = 60000
	if j.rebalance > 0 {
		req.RebalanceTimeoutMillis = int32(j.rebalance.Milliseconds())
	}
	req.ProtocolType = "consumer"
	if j.protocolType != "" {
		req.ProtocolType = j.protocolType
	}
	req.Protocols = j.protocols
	if req.Protocols == nil {
		req.Protocols = protocols("range", "t")
	}
	client := j.client
	if client == "" {
		client = "client"
	}
	return h.do(joinOp{req: req, clientID: client, clientHost: "/127.0.0.1"})
}

// joinNew performs the KIP-394 dance for a new dynamic member and returns
// the waiter of the join that is now parked, and the member id.
func (h *harness) joinNew(j joinSpec) (uint64, string) {
	h.t.Helper()
	r := h.joinResp(h.join(j))
	wantCode(h.t, "first join", r.ErrorCode, kerr.MemberIDRequired)
	j.member = r.MemberID
	return h.join(j), r.MemberID
}

func (h *harness) sync(group, member string, gen int32, assignments map[string][]byte) uint64 {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = group, member, gen
	for id, a := range assignments {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: a})
	}
	return h.do(req)
}

func (h *harness) staticSync(group, member, instance string, gen int32) uint64 {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation, req.InstanceID = group, member, gen, &instance
	return h.do(req)
}

func (h *harness) heartbeat(group, member string, gen int32) int16 {
	h.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, member, gen
	return h.mustReply(h.do(req)).(*kmsg.HeartbeatResponse).ErrorCode
}

func (h *harness) staticHeartbeat(group, member, instance string, gen int32) int16 {
	h.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation, req.InstanceID = group, member, gen, &instance
	return h.mustReply(h.do(req)).(*kmsg.HeartbeatResponse).ErrorCode
}

type commitSpec struct {
	group, member string
	generation    int32
	version       int16
	retention     int64
	offsets       map[string]map[int32]int64
	epoch         int32 // 0 means none (-1)
	metadata      *string
	unknown       map[string]bool
}

func (h *harness) commit(c commitSpec) uint64 {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	if c.version != 0 {
		req.Version = c.version
	}
	req.Group, req.MemberID, req.Generation = c.group, c.member, c.generation
	req.RetentionTimeMillis = -1
	if c.retention != 0 {
		req.RetentionTimeMillis = c.retention
	}
	epoch := c.epoch
	if epoch == 0 {
		epoch = -1
	}
	var unknown [][]bool
	for _, t := range sortedKeys(c.offsets) {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = t
		var u []bool
		for _, p := range sortedKeys(c.offsets[t]) {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, c.offsets[t][p], epoch, c.metadata
			rt.Partitions = append(rt.Partitions, rp)
			u = append(u, c.unknown[t])
		}
		req.Topics = append(req.Topics, rt)
		unknown = append(unknown, u)
	}
	return h.do(commitOp{req: req, unknown: unknown})
}

func commitCodes(r *kmsg.OffsetCommitResponse) map[string]int16 {
	out := map[string]int16{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s/%d", t.Topic, p.Partition)] = p.ErrorCode
		}
	}
	return out
}

func (h *harness) fetch(group string, requireStable bool, topics map[string][]int32) kmsg.OffsetFetchResponseGroup {
	h.t.Helper()
	op := fetchOp{group: group, requireStable: requireStable}
	if topics != nil {
		op.topics = []kmsg.OffsetFetchRequestGroupTopic{}
		for _, t := range sortedKeys(topics) {
			op.topics = append(op.topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t, Partitions: topics[t]})
		}
	}
	return h.mustReply(h.do(op)).(kmsg.OffsetFetchResponseGroup)
}

// fetched flattens a fetch into "topic/partition" → offset (or error).
func fetched(g kmsg.OffsetFetchResponseGroup) map[string]string {
	out := map[string]string{}
	for _, t := range g.Topics {
		for _, p := range t.Partitions {
			v := fmt.Sprintf("%d@%d", p.Offset, p.LeaderEpoch)
			if p.Metadata != nil && *p.Metadata != "" {
				v += " " + *p.Metadata
			}
			if p.ErrorCode != 0 {
				v = kerr.ErrorForCode(p.ErrorCode).Error()
			}
			out[fmt.Sprintf("%s/%d", t.Topic, p.Partition)] = v
		}
	}
	return out
}

// stableGroup builds a Stable consumer group of n dynamic members on
// protocol "range"; member i subscribes to topics[i%len(topics)]. It
// returns the member ids, leader first.
func (h *harness) stableGroup(id string, n int, topics ...string) []string {
	h.t.Helper()
	if len(topics) == 0 {
		topics = []string{"t"}
	}
	var waits []uint64
	var ids []string
	for i := range n {
		w, m := h.joinNew(joinSpec{group: id, client: fmt.Sprintf("c%d", i), protocols: protocols("range", topics[i%len(topics)])})
		waits = append(waits, w)
		ids = append(ids, m)
	}
	// Each member joining during the initial delay extends it once more.
	h.advance(2 * h.s.cfg.InitialRebalanceDelay)
	g := h.group(id)
	for i, w := range waits {
		r := h.joinResp(w)
		wantCode(h.t, "join", r.ErrorCode, nil)
		if r.Generation != g.generation {
			h.t.Fatalf("member %d joined generation %d, want %d", i, r.Generation, g.generation)
		}
	}
	leader := g.leader
	assign := map[string][]byte{}
	for _, m := range ids {
		assign[m] = []byte("assignment-" + m)
	}
	var syncs []uint64
	for _, m := range ids {
		if m == leader {
			syncs = append(syncs, h.sync(id, m, g.generation, assign))
		} else {
			syncs = append(syncs, h.sync(id, m, g.generation, nil))
		}
	}
	for _, w := range syncs {
		wantCode(h.t, "sync", h.syncResp(w).ErrorCode, nil)
	}
	h.wantState(id, stateStable)
	// leader first
	out := []string{leader}
	for _, m := range ids {
		if m != leader {
			out = append(out, m)
		}
	}
	return out
}
