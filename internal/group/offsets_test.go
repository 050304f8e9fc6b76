package group

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestSimpleConsumerCommitAndFetch(t *testing.T) {
	h := newHarness(t, testConfig())
	h.autoAck = false
	md := "from-host-1"
	w := h.commit(commitSpec{group: "s", generation: -1, epoch: 7, metadata: &md,
		offsets: map[string]map[int32]int64{"t": {0: 10, 1: 20}, "gone": {0: 5}}, unknown: map[string]bool{"gone": true}})
	h.noReply(w) // not durable yet
	// Not visible before it is durable; require_stable says it is coming.
	if got := fetched(h.fetch("s", false, map[string][]int32{"t": {0}})); got["t/0"] != "-1@-1" {
		t.Fatalf("pending commit visible: %v", got)
	}
	if got := fetched(h.fetch("s", true, map[string][]int32{"t": {0}})); !strings.Contains(got["t/0"], "UNSTABLE_OFFSET_COMMIT") {
		t.Fatalf("require_stable: %v", got)
	}
	h.ack(nil)
	codes := commitCodes(h.mustReply(w).(*kmsg.OffsetCommitResponse))
	if codes["t/0"] != 0 || codes["t/1"] != 0 || codes["gone/0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("%v", codes)
	}
	got := fetched(h.fetch("s", true, map[string][]int32{"t": {0, 1, 2}}))
	want := map[string]string{"t/0": "10@7 from-host-1", "t/1": "20@7 from-host-1", "t/2": "-1@-1"}
	if !maps.Equal(got, want) {
		t.Fatalf("fetch %v, want %v", got, want)
	}
	// All topics (null list).
	if all := fetched(h.fetch("s", false, nil)); len(all) != 2 || all["t/1"] != "20@7 from-host-1" {
		t.Fatalf("all: %v", all)
	}
	// The simple group exists, Empty, without a protocol type.
	g := h.group("s")
	if !g.is(stateEmpty) || g.protocolType != "" {
		t.Fatalf("%v %q", g.state, g.protocolType)
	}
	// The record is OffsetCommitValue v3 under key version 1.
	var k kmsg.OffsetCommitKey
	var v kmsg.OffsetCommitValue
	if err := k.ReadFrom(h.log[0].Key); err != nil || k.Version != 1 || k.Group != "s" || k.Topic != "t" {
		t.Fatalf("key %+v %v", k, err)
	}
	if err := v.ReadFrom(h.log[0].Value); err != nil || v.Version != 3 || v.Offset != 10 || v.LeaderEpoch != 7 ||
		v.Metadata != md || v.CommitTimestamp != epoch.UnixMilli() {
		t.Fatalf("value %+v %v", v, err)
	}
	// Unknown groups have no offsets, and that is no error.
	if got := fetched(h.fetch("nope", false, map[string][]int32{"t": {0}})); got["t/0"] != "-1@-1" {
		t.Fatalf("%v", got)
	}
}

func TestCommitValidation(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetMetadataMaxBytes = 4
	h := newHarness(t, cfg)
	ids := h.stableGroup("g", 2)
	off := map[string]map[int32]int64{"t": {0: 1}}
	code := func(c commitSpec) int16 {
		t.Helper()
		c.offsets = off
		return commitCodes(h.mustReply(h.commit(c)).(*kmsg.OffsetCommitResponse))["t/0"]
	}
	big := "12345"
	four := "日本語𝄞" // 5 UTF-16 code units
	for _, tc := range []struct {
		name string
		c    commitSpec
		want *kerr.Error
	}{
		{"member", commitSpec{group: "g", member: ids[1], generation: 1}, nil},
		{"generation", commitSpec{group: "g", member: ids[1], generation: 0}, kerr.IllegalGeneration},
		{"unknown member", commitSpec{group: "g", member: "x", generation: 1}, kerr.UnknownMemberID},
		{"simple commit to live group", commitSpec{group: "g", generation: -1}, kerr.UnknownMemberID},
		{"metadata too large", commitSpec{group: "g", member: ids[1], generation: 1, metadata: &big}, kerr.OffsetMetadataTooLarge},
		{"metadata counted in UTF-16", commitSpec{group: "g", member: ids[1], generation: 1, metadata: &four}, kerr.OffsetMetadataTooLarge},
		{"unknown group v8", commitSpec{group: "nope", member: "m", generation: 3, version: 8}, kerr.IllegalGeneration},
		{"unknown group v9", commitSpec{group: "nope", member: "m", generation: 3}, kerr.GroupIDNotFound},
	} {
		if got := code(tc.c); (tc.want == nil && got != 0) || (tc.want != nil && got != tc.want.Code) {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(got), tc.want)
		}
	}
	if h.s.groups["nope"] != nil {
		t.Fatal("a failed commit created a group")
	}
	// Waiting for assignments: REBALANCE_IN_PROGRESS; while preparing,
	// members of the current generation may still commit.
	for _, m := range ids {
		h.join(joinSpec{group: "g", member: m})
	}
	h.wantState("g", stateCompletingRebalance)
	if got := code(commitSpec{group: "g", member: ids[1], generation: 2}); got != kerr.RebalanceInProgress.Code {
		t.Fatalf("%v", kerr.ErrorForCode(got))
	}
	h2 := newHarness(t, cfg)
	ids = h2.stableGroup("g", 2)
	h2.join(joinSpec{group: "g", member: ids[0]})
	h2.wantState("g", statePreparingRebalance)
	c := commitSpec{group: "g", member: ids[1], generation: 1, offsets: off}
	if got := commitCodes(h2.mustReply(h2.commit(c)).(*kmsg.OffsetCommitResponse))["t/0"]; got != 0 {
		t.Fatalf("commit while preparing: %v", kerr.ErrorForCode(got))
	}
}

func TestCommitKeepsSessionAlive(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	for range 5 {
		h.advance(5 * time.Second)
		h.heartbeat("g", ids[0], 1)
		h.commit(commitSpec{group: "g", member: ids[1], generation: 1, offsets: map[string]map[int32]int64{"t": {0: 1}}})
	}
	h.wantState("g", stateStable)
}

func TestCommitWriteFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want *kerr.Error
	}{
		{kerr.NotLeaderForPartition, kerr.NotCoordinator},
		{kerr.KafkaStorageError, kerr.NotCoordinator},
		{kerr.RequestTimedOut, kerr.CoordinatorNotAvailable},
		{kerr.NotEnoughReplicas, kerr.CoordinatorNotAvailable},
		{kerr.MessageTooLarge, kerr.InvalidCommitOffsetSize},
		{errors.New("disk on fire"), kerr.NotCoordinator},
		{ErrClosed, kerr.CoordinatorNotAvailable},
	} {
		h := newHarness(t, testConfig())
		h.autoAck = false
		w := h.commit(commitSpec{group: "s", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 1}, "u": {0: 1}},
			unknown: map[string]bool{"u": true}})
		h.ack(tc.err)
		codes := commitCodes(h.mustReply(w).(*kmsg.OffsetCommitResponse))
		if codes["t/0"] != tc.want.Code || codes["u/0"] != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("%v: %v, want %v", tc.err, codes, tc.want)
		}
		if h.s.groups["s"] != nil {
			t.Errorf("%v: failed commit left its simple group", tc.err)
		}
	}
}

func TestResponsesWaitForEarlierWrites(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	h.autoAck = false
	w := h.commit(commitSpec{group: "g", member: ids[0], generation: 1, offsets: map[string]map[int32]int64{"t": {0: 1}}})
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 4, "g", ids[1], 1
	hb := h.do(req)
	// The heartbeat wrote nothing, but it comes after a write that is
	// not durable yet (Kafka's CoordinatorRuntime defers it likewise).
	h.noReply(hb)
	h.noReply(w)
	h.ack(nil)
	h.mustReply(w)
	h.mustReply(hb)
	// Reads do not wait.
	h.commit(commitSpec{group: "g", member: ids[0], generation: 1, offsets: map[string]map[int32]int64{"t": {0: 2}}})
	if got := fetched(h.fetch("g", false, map[string][]int32{"t": {0}})); got["t/0"] != "1@-1" {
		t.Fatalf("%v", got)
	}
	h.ackAll(nil)
	if got := fetched(h.fetch("g", false, map[string][]int32{"t": {0}})); got["t/0"] != "2@-1" {
		t.Fatalf("%v", got)
	}
}

func TestWritesResolveInOrder(t *testing.T) {
	h := newHarness(t, testConfig())
	h.autoAck = false
	w1 := h.commit(commitSpec{group: "s", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 1}}})
	w2 := h.commit(commitSpec{group: "s", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 2}}})
	// The second write completes first: nothing happens until the first.
	second := h.pending[1]
	h.s.writeDone(h.now, second.id, nil)
	h.collect()
	h.noReply(w2)
	h.ack(nil)
	h.pending = nil
	h.mustReply(w1)
	h.mustReply(w2)
	if got := fetched(h.fetch("s", false, map[string][]int32{"t": {0}})); got["t/0"] != "2@-1" {
		t.Fatalf("%v", got)
	}
}

func TestOffsetCommitVersions(t *testing.T) {
	h := newHarness(t, testConfig())
	// v1: the client may set the commit timestamp.
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 1, "s", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.Timestamp, rp.LeaderEpoch = 0, 5, epoch.UnixMilli()-1234, 9
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	h.do(commitOp{req: req})
	if o := h.group("s").offsets["t"][0]; o.commitTimestamp != epoch.UnixMilli()-1234 || o.leaderEpoch != -1 || o.expireTimestamp != -1 {
		t.Fatalf("%+v", o)
	}
	// v2-4: a retention time gives an expire timestamp, written as v1.
	h.commit(commitSpec{group: "s", generation: -1, version: 3, retention: 60000, offsets: map[string]map[int32]int64{"t": {1: 1}}})
	o := h.group("s").offsets["t"][1]
	if o.expireTimestamp != epoch.UnixMilli()+60000 {
		t.Fatalf("%+v", o)
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(h.log[len(h.log)-1].Value); err != nil || v.Version != 1 || v.ExpireTimestamp != o.expireTimestamp {
		t.Fatalf("%+v %v", v, err)
	}
	// It expires then, not after offsets.retention.minutes.
	h.advance(10 * time.Minute)
	if _, ok := h.group("s").offsets["t"][1]; ok {
		t.Fatal("offset with a one-minute retention not expired")
	}
	if _, ok := h.group("s").offsets["t"][0]; !ok {
		t.Fatal("offset expired early")
	}
}

func TestOffsetExpiration(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	cfg.OffsetsRetentionCheckInterval = time.Minute
	h := newHarness(t, cfg)

	// A simple group's offsets age from their commit.
	h.commit(commitSpec{group: "simple", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 1}}})
	h.advance(30 * time.Minute)
	h.commit(commitSpec{group: "simple", generation: -1, offsets: map[string]map[int32]int64{"t": {1: 1}}})

	// A consumer group keeps its offsets while Stable, except for topics
	// it no longer subscribes to (KIP-496).
	ids := h.stableGroup("cg", 1, "t")
	h.commit(commitSpec{group: "cg", member: ids[0], generation: 1, offsets: map[string]map[int32]int64{"t": {0: 1}, "old": {0: 1}}})
	keepAlive := func(d time.Duration) {
		for end := h.now.Add(d); h.now.Before(end); {
			h.advance(3 * time.Second)
			h.heartbeat("cg", ids[0], 1)
		}
	}
	keepAlive(31 * time.Minute) // t=61m: simple t/0 is 61m old
	if _, ok := h.group("simple").offsets["t"][0]; ok {
		t.Fatal("simple group offset not expired")
	}
	if _, ok := h.group("simple").offsets["t"][1]; !ok {
		t.Fatal("younger simple group offset expired")
	}
	keepAlive(30 * time.Minute) // cg's commits are now ~61m old
	cg := h.group("cg")
	if _, ok := cg.offsets["old"]; ok {
		t.Fatal("offset of an unsubscribed topic not expired")
	}
	if _, ok := cg.offsets["t"][0]; !ok {
		t.Fatal("offset of a subscribed topic expired in a Stable group")
	}
	// The simple group loses its last offset and is deleted with it.
	keepAlive(5 * time.Minute)
	if h.s.groups["simple"] != nil {
		t.Fatal("simple group without offsets not deleted")
	}
	tomb := h.log[len(h.log)-1]
	if tomb.Value != nil {
		t.Fatal("expected tombstones last")
	}

	// Once the consumer group is Empty, its offsets expire an hour after
	// it became empty, however recent the commit (KIP-211).
	h.commit(commitSpec{group: "cg", member: ids[0], generation: 1, offsets: map[string]map[int32]int64{"t": {0: 2}}})
	// The member stops: its session expires, and with nobody left to
	// rejoin the group is Empty at once.
	h.advance(10*time.Second - time.Millisecond)
	h.wantState("cg", stateStable)
	h.advance(time.Millisecond)
	h.wantState("cg", stateEmpty)
	emptyAt := time.UnixMilli(h.group("cg").stateTimestamp)
	h.advance(emptyAt.Add(time.Hour - time.Minute).Sub(h.now))
	if _, ok := h.group("cg").offsets["t"][0]; !ok {
		t.Fatal("expired before an hour of being empty")
	}
	h.advance(3 * time.Minute)
	if h.s.groups["cg"] != nil {
		t.Fatalf("empty group not deleted an hour after %v", emptyAt.Sub(epoch))
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("cg", 1, "t")
	h.commit(commitSpec{group: "cg", member: ids[0], generation: 1, offsets: map[string]map[int32]int64{"t": {0: 1}, "old": {0: 1, 1: 1}}})
	del := func(group string, topics map[string][]int32, unknown map[string]bool) *kmsg.OffsetDeleteResponse {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = group
		var u [][]bool
		for _, tn := range sortedKeys(topics) {
			rt := kmsg.OffsetDeleteRequestTopic{Topic: tn}
			var ub []bool
			for _, p := range topics[tn] {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
				ub = append(ub, unknown[tn])
			}
			req.Topics = append(req.Topics, rt)
			u = append(u, ub)
		}
		return h.mustReply(h.do(offsetDeleteOp{req: req, unknown: u})).(*kmsg.OffsetDeleteResponse)
	}
	r := del("cg", map[string][]int32{"t": {0}, "old": {0, 5}, "x": {0}}, map[string]bool{"x": true})
	codes := map[string]int16{}
	for _, rt := range r.Topics {
		for _, p := range rt.Partitions {
			codes[rt.Topic+"/"+string(rune('0'+p.Partition))] = p.ErrorCode
		}
	}
	if r.ErrorCode != 0 || codes["t/0"] != kerr.GroupSubscribedToTopic.Code || codes["old/0"] != 0 || codes["old/5"] != 0 ||
		codes["x/0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("%+v", codes)
	}
	if _, ok := h.group("cg").offsets["old"][0]; ok {
		t.Fatal("old/0 not deleted")
	}
	if _, ok := h.group("cg").offsets["old"][1]; !ok {
		t.Fatal("old/1 deleted")
	}
	wantCode(t, "unknown group", del("nope", map[string][]int32{"t": {0}}, nil).ErrorCode, kerr.GroupIDNotFound)
	wantCode(t, "empty group id", del("", map[string][]int32{"t": {0}}, nil).ErrorCode, kerr.InvalidGroupID)
	// A live group of another protocol type must be empty.
	h.joinNew(joinSpec{group: "connect", protocolType: "connect"})
	wantCode(t, "non-consumer group", del("connect", map[string][]int32{"t": {0}}, nil).ErrorCode, kerr.NonEmptyGroup)
}

func TestTopicsDeleted(t *testing.T) {
	h := newHarness(t, testConfig())
	h.commit(commitSpec{group: "a", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 1, 1: 1}, "u": {0: 1}}})
	h.commit(commitSpec{group: "b", generation: -1, offsets: map[string]map[int32]int64{"t": {3: 1}}})
	if r := h.mustReply(h.do(topicsDeletedOp{topics: []string{"t"}})); r != (struct{}{}) {
		t.Fatalf("%v", r)
	}
	if len(h.group("a").offsets) != 1 || len(h.group("b").offsets) != 0 {
		t.Fatalf("%v %v", h.group("a").offsets, h.group("b").offsets)
	}
}
