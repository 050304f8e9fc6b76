package group

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// snapshot renders what a shard persists: per group, the generation and
// members of its last completed rebalance and its committed offsets.
func snapshot(s *shardState) string {
	var b strings.Builder
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		proto := "<nil>"
		if g.protocolName != nil {
			proto = *g.protocolName
		}
		fmt.Fprintf(&b, "group %q %v gen=%d type=%q protocol=%s leader=%q", id, g.state, g.generation, g.protocolType, proto, g.leader)
		if g.is(stateEmpty) && g.protocolType != "" {
			// The Empty timestamp drives KIP-211 expiration.
			fmt.Fprintf(&b, " empty-since=%d", g.stateTimestamp)
		}
		b.WriteString("\n")
		ids := slices.Clone(g.order)
		slices.Sort(ids)
		for _, mid := range ids {
			m := g.members[mid]
			inst := "-"
			if m.instanceID != nil {
				inst = *m.instanceID
			}
			var sub []byte
			if g.protocolName != nil {
				sub = m.metadataFor(*g.protocolName)
			}
			fmt.Fprintf(&b, "  member %s instance=%s client=%s host=%s session=%d rebalance=%d sub=%x assignment=%q\n",
				mid, inst, m.clientID, m.clientHost, m.sessionTimeout, m.rebalanceTimeout, sub, m.assignment)
		}
		for _, t := range sortedKeys(g.offsets) {
			for _, p := range sortedKeys(g.offsets[t]) {
				fmt.Fprintf(&b, "  offset %s/%d %+v\n", t, p, g.offsets[t][p])
			}
		}
	}
	return b.String()
}

func replayInto(t *testing.T, log []Record, now time.Time) *shardState {
	t.Helper()
	s := newShardState(testConfig(), 0, testLogger(t), func() string { return "replayed" })
	s.now = now
	for i, r := range log {
		if err := s.replay(r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	s.onLoaded(now)
	return s
}

func TestReplayRebuildsState(t *testing.T) {
	h := newHarness(t, testConfig())
	h.session = 5 * time.Minute
	// A Stable consumer group with offsets.
	ids := h.stableGroup("stable", 3, "a", "b")
	h.commit(commitSpec{group: "stable", member: ids[0], generation: 1, epoch: 4,
		offsets: map[string]map[int32]int64{"a": {0: 10, 1: 11}, "b": {0: 5}}})
	// A static group whose member restarted (replacement record).
	ia, ib := "ia", "ib"
	wa := h.join(joinSpec{group: "static", instance: &ia})
	wb := h.join(joinSpec{group: "static", instance: &ib})
	h.advance(6 * time.Second)
	ma, mb := h.joinResp(wa).MemberID, h.joinResp(wb).MemberID
	h.staticSync("static", mb, ib, 1)
	syncReq := kmsg.NewPtrSyncGroupRequest()
	syncReq.Version, syncReq.Group, syncReq.MemberID, syncReq.Generation, syncReq.InstanceID = 3, "static", ma, 1, &ia
	syncReq.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: ma, MemberAssignment: []byte("A")}, {MemberID: mb, MemberAssignment: []byte("B")}}
	h.do(syncReq)
	h.join(joinSpec{group: "static", instance: &ib})
	// A group whose members left: Empty, offsets kept.
	left := h.stableGroup("left", 1)
	h.commit(commitSpec{group: "left", member: left[0], generation: 1, offsets: map[string]map[int32]int64{"x": {0: 1}}})
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group, leave.MemberID = 1, "left", left[0]
	h.do(leave)
	// Simple groups: one with old-style retention, one partly deleted,
	// one deleted outright.
	h.commit(commitSpec{group: "simple", generation: -1, version: 2, retention: int64(48 * time.Hour / time.Millisecond),
		offsets: map[string]map[int32]int64{"s": {0: 1, 1: 2, 2: 3}}})
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "simple"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "s", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}}}
	h.do(offsetDeleteOp{req: od})
	h.commit(commitSpec{group: "doomed", generation: -1, offsets: map[string]map[int32]int64{"s": {0: 1}}})
	h.do(deleteGroupsOp{groups: []string{"doomed"}})
	h.advance(time.Minute)

	replayed := replayInto(t, h.log, h.now)
	want, got := snapshot(h.s), snapshot(replayed)
	if want != got {
		t.Fatalf("replayed state differs\n--- live\n%s--- replayed\n%s", want, got)
	}
	if !strings.Contains(got, `group "static" Stable gen=1`) || strings.Contains(got, "doomed") {
		t.Fatalf("unexpected state:\n%s", got)
	}
	// Loaded members have sessions again: silent ones expire.
	replayed.tick(h.now.Add(5 * time.Minute))
	if g := replayed.groups["stable"]; !g.is(statePreparingRebalance) && !g.is(stateEmpty) {
		t.Fatalf("loaded members never expired: %v", g.state)
	}
}

func TestReplayRecordHandling(t *testing.T) {
	s := newShardState(testConfig(), 0, testLogger(t), func() string { return "x" })
	s.now = epoch
	// A legacy (type 0) offset key and a v0 value load too.
	k := kmsg.OffsetCommitKey{Version: 0, Group: "g", Topic: "t", Partition: 3}
	v := kmsg.OffsetCommitValue{Version: 0, Offset: 42, Metadata: "m", CommitTimestamp: 7}
	if err := s.replay(Record{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}); err != nil {
		t.Fatal(err)
	}
	if o := s.groups["g"].offsets["t"][3]; o.offset != 42 || o.leaderEpoch != -1 || o.metadata != "m" || o.expireTimestamp != -1 {
		t.Fatalf("%+v", o)
	}
	// Record types this coordinator does not serve are skipped.
	if err := s.replay(Record{Key: []byte{0, 3, 0, 1, 'g'}, Value: []byte{0, 0}}); err != nil {
		t.Fatal(err)
	}
	// Corrupt records of known types fail the load.
	for _, r := range []Record{
		{Key: []byte{0}},
		{Key: k.AppendTo(nil), Value: []byte{0, 3, 1}},
		{Key: groupKey("g"), Value: []byte{0, 3}},
	} {
		if err := s.replay(r); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("%x: %v", r.Key, err)
		}
	}
	// A group tombstone with offsets left over keeps them in a simple
	// group.
	if err := s.replay(groupTombstone("g")); err != nil {
		t.Fatal(err)
	}
	if g := s.groups["g"]; g == nil || len(g.offsets) != 1 {
		t.Fatal("offsets lost")
	}
	// An old GroupMetadataValue (v0, no rebalance timeout) loads with
	// the session timeout as rebalance timeout.
	gv := kmsg.NewGroupMetadataValue()
	gv.Version, gv.ProtocolType, gv.Generation, gv.Protocol, gv.Leader = 0, "consumer", 4, kmsg.StringPtr("range"), kmsg.StringPtr("m1")
	gm := kmsg.NewGroupMetadataValueMember()
	gm.MemberID, gm.SessionTimeoutMillis, gm.Subscription, gm.Assignment = "m1", 9000, consumerMeta("t"), []byte("a")
	gv.Members = append(gv.Members, gm)
	if err := s.replay(Record{Key: groupKey("old"), Value: gv.AppendTo(nil)}); err != nil {
		t.Fatal(err)
	}
	g := s.groups["old"]
	if !g.is(stateStable) || g.members["m1"].rebalanceTimeout != 9000 || g.leader != "m1" || !g.isSubscribedToTopic("t") || g.isSubscribedToTopic("u") {
		t.Fatalf("%+v", g)
	}
}
