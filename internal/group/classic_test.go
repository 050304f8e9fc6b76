package group

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestMemberIDRequiredRoundTrip(t *testing.T) {
	h := newHarness(t, testConfig())
	// v4+: the first join only hands out a member id.
	r := h.joinResp(h.join(joinSpec{group: "g", client: "app"}))
	wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired)
	if r.MemberID != "app-uuid1" || r.Generation != -1 {
		t.Fatalf("member id %q generation %d", r.MemberID, r.Generation)
	}
	g := h.group("g")
	if _, ok := g.pendingJoin[r.MemberID]; !ok || len(g.members) != 0 {
		t.Fatalf("pending %v members %v", g.pendingJoin, g.members)
	}
	// Joining with it makes the member.
	w := h.join(joinSpec{group: "g", member: r.MemberID})
	h.advance(3 * time.Second) // group.initial.rebalance.delay.ms
	jr := h.joinResp(w)
	wantCode(t, "second join", jr.ErrorCode, nil)
	if jr.Generation != 1 || jr.LeaderID != r.MemberID || jr.MemberID != r.MemberID || *jr.Protocol != "range" ||
		*jr.ProtocolType != "consumer" || len(jr.Members) != 1 {
		t.Fatalf("join response %+v", jr)
	}
	h.wantState("g", stateCompletingRebalance)

	// A pending id that never comes back expires after the session.
	r2 := h.joinResp(h.join(joinSpec{group: "g", client: "late", session: 7 * time.Second}))
	wantCode(t, "join", r2.ErrorCode, kerr.MemberIDRequired)
	h.advance(7 * time.Second)
	if len(g.pendingJoin) != 0 {
		t.Fatalf("pending member not expired: %v", g.pendingJoin)
	}
	r3 := h.joinResp(h.join(joinSpec{group: "g", member: r2.MemberID}))
	wantCode(t, "join with expired id", r3.ErrorCode, kerr.UnknownMemberID)

	// Before v4 the member joins at once.
	old := h.join(joinSpec{group: "g2", version: 3})
	h.advance(6 * time.Second)
	if jr := h.joinResp(old); jr.ErrorCode != 0 || jr.MemberID == "" {
		t.Fatalf("v3 join: %+v", jr)
	}
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t, testConfig())
	for _, tc := range []struct {
		name string
		spec joinSpec
		want *kerr.Error
	}{
		{"empty group id", joinSpec{group: ""}, kerr.InvalidGroupID},
		{"session too short", joinSpec{group: "g", session: time.Second}, kerr.InvalidSessionTimeout},
		{"session too long", joinSpec{group: "g", session: time.Hour}, kerr.InvalidSessionTimeout},
		{"no protocols", joinSpec{group: "g", protocols: []kmsg.JoinGroupRequestProtocol{}}, kerr.InconsistentGroupProtocol},
		{"known member of unknown group", joinSpec{group: "nope", member: "m"}, kerr.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.name, h.joinResp(h.join(tc.spec)).ErrorCode, tc.want)
		})
	}
	if len(h.s.groups) != 0 {
		t.Fatalf("failed joins left groups behind: %v", h.s.sortedGroupIDs())
	}

	// A different protocol type, or no common protocol, is refused.
	ids := h.stableGroup("g", 1)
	wantCode(t, "protocol type", h.joinResp(h.join(joinSpec{group: "g", protocolType: "connect"})).ErrorCode, kerr.InconsistentGroupProtocol)
	wantCode(t, "protocol", h.joinResp(h.join(joinSpec{group: "g", protocols: protocols("roundrobin", "t")})).ErrorCode, kerr.InconsistentGroupProtocol)
	// An existing member of another instance id is fenced.
	inst := "i1"
	wantCode(t, "instance", h.joinResp(h.join(joinSpec{group: "g", member: ids[0], instance: &inst})).ErrorCode, kerr.UnknownMemberID)
}

func TestInitialRebalanceDelay(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 3 * time.Second
	h := newHarness(t, cfg)
	a, _ := h.joinNew(joinSpec{group: "g", client: "a"})
	h.advance(2 * time.Second)
	b, _ := h.joinNew(joinSpec{group: "g", client: "b"})
	// The first delay ends at 3s, but b joined during it: one more delay.
	h.advance(time.Second)
	h.noReply(a)
	h.advance(2*time.Second + 999*time.Millisecond)
	h.noReply(a)
	h.advance(time.Millisecond)
	ra, rb := h.joinResp(a), h.joinResp(b)
	if ra.Generation != 1 || rb.Generation != 1 || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("a %+v\nb %+v", ra, rb)
	}

	// The delay never exceeds the rebalance timeout.
	h2 := newHarness(t, cfg)
	w, _ := h2.joinNew(joinSpec{group: "g", rebalance: 4 * time.Second})
	for range 3 {
		h2.advance(time.Second)
		h2.joinNew(joinSpec{group: "g", rebalance: 4 * time.Second})
	}
	h2.advance(999 * time.Millisecond)
	h2.noReply(w)
	h2.advance(time.Millisecond)
	if r := h2.joinResp(w); r.Generation != 1 || len(r.Members) != 4 {
		t.Fatalf("%+v", r)
	}
}

func TestProtocolSelection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members [][]string
		want    string
	}{
		{"single", [][]string{{"range"}}, "range"},
		{"common only", [][]string{{"sticky", "range"}, {"range"}}, "range"},
		{"majority vote", [][]string{{"a", "b"}, {"b", "a"}, {"b", "a"}}, "b"},
		{"tie goes to leader", [][]string{{"a", "b"}, {"b", "a"}}, "a"},
		{"first preference", [][]string{{"cooperative-sticky", "range"}, {"cooperative-sticky", "range"}}, "cooperative-sticky"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			var waits []uint64
			for _, names := range tc.members {
				var ps []string
				for _, n := range names {
					ps = append(ps, n, "t")
				}
				w, _ := h.joinNew(joinSpec{group: "g", protocols: protocols(ps...)})
				waits = append(waits, w)
			}
			h.advance(6 * time.Second)
			for _, w := range waits {
				if r := h.joinResp(w); *r.Protocol != tc.want {
					t.Fatalf("selected %q, want %q", *r.Protocol, tc.want)
				}
			}
		})
	}
}

func TestSyncGroupWaitsForDurableAssignment(t *testing.T) {
	h := newHarness(t, testConfig())
	h.autoAck = false
	a, ma := h.joinNew(joinSpec{group: "g", client: "a"})
	b, mb := h.joinNew(joinSpec{group: "g", client: "b"})
	h.advance(6 * time.Second)
	if h.joinResp(a).LeaderID != ma || len(h.joinResp(a).Members) != 2 || len(h.joinResp(b).Members) != 0 {
		t.Fatal("leader should be the first member and get the members")
	}
	// The follower syncs first and waits for the leader.
	fs := h.sync("g", mb, 1, nil)
	h.noReply(fs)
	// The leader assigns only itself: b gets an empty assignment.
	ls := h.sync("g", ma, 1, map[string][]byte{ma: []byte("A"), "stranger": []byte("X")})
	h.noReply(ls)
	h.noReply(fs)
	h.wantState("g", stateCompletingRebalance)
	if len(h.pending) != 1 {
		t.Fatalf("%d writes pending, want the group metadata", len(h.pending))
	}
	h.ack(nil)
	la, fa := h.syncResp(ls), h.syncResp(fs)
	if !bytes.Equal(la.MemberAssignment, []byte("A")) || len(fa.MemberAssignment) != 0 || fa.MemberAssignment == nil ||
		*la.Protocol != "range" || *la.ProtocolType != "consumer" {
		t.Fatalf("leader %+v follower %+v", la, fa)
	}
	h.wantState("g", stateStable)
	// A late sync in Stable gets the stored assignment.
	if r := h.syncResp(h.sync("g", ma, 1, nil)); !bytes.Equal(r.MemberAssignment, []byte("A")) {
		t.Fatalf("%+v", r)
	}
	// The record holds the generation and both members.
	v := decodeGroupValue(t, h.log[0])
	if v.Generation != 1 || *v.Protocol != "range" || *v.Leader != ma || len(v.Members) != 2 ||
		v.Members[0].ClientID != "a" || v.Members[0].ClientHost != "/127.0.0.1" || string(v.Members[0].Assignment) != "A" {
		t.Fatalf("group record %+v", v)
	}
}

func TestSyncGroupErrors(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	for _, tc := range []struct {
		name string
		req  func(*kmsg.SyncGroupRequest)
		want *kerr.Error
	}{
		{"unknown group", func(r *kmsg.SyncGroupRequest) { r.Group = "x" }, kerr.UnknownMemberID},
		{"unknown member", func(r *kmsg.SyncGroupRequest) { r.MemberID = "x" }, kerr.UnknownMemberID},
		{"generation", func(r *kmsg.SyncGroupRequest) { r.Generation = 7 }, kerr.IllegalGeneration},
		{"protocol", func(r *kmsg.SyncGroupRequest) { r.Protocol = kmsg.StringPtr("sticky") }, kerr.InconsistentGroupProtocol},
		{"protocol type", func(r *kmsg.SyncGroupRequest) { r.ProtocolType = kmsg.StringPtr("connect") }, kerr.InconsistentGroupProtocol},
		{"empty group id", func(r *kmsg.SyncGroupRequest) { r.Group = "" }, kerr.InvalidGroupID},
	} {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Version, req.Group, req.MemberID, req.Generation = 5, "g", ids[1], 1
		tc.req(req)
		wantCode(t, tc.name, h.syncResp(h.do(req)).ErrorCode, tc.want)
	}
	// During a rebalance, SyncGroup says so.
	h.join(joinSpec{group: "g", member: ids[0]})
	wantCode(t, "rebalancing", h.syncResp(h.sync("g", ids[1], 1, nil)).ErrorCode, kerr.RebalanceInProgress)
}

func TestHeartbeat(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	wantCode(t, "ok", h.heartbeat("g", ids[1], 1), nil)
	wantCode(t, "unknown group", h.heartbeat("x", ids[1], 1), kerr.UnknownMemberID)
	wantCode(t, "unknown member", h.heartbeat("g", "x", 1), kerr.UnknownMemberID)
	wantCode(t, "generation", h.heartbeat("g", ids[1], 0), kerr.IllegalGeneration)
	wantCode(t, "empty group id", h.heartbeat("", ids[1], 1), kerr.InvalidGroupID)
	// The leader's rejoin starts a rebalance; the follower hears of it.
	h.join(joinSpec{group: "g", member: ids[0]})
	wantCode(t, "rebalancing", h.heartbeat("g", ids[1], 1), kerr.RebalanceInProgress)
}

func TestSessionExpiryInStable(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	// Only the leader heartbeats; the follower's 10s session runs out.
	for range 3 {
		h.advance(3 * time.Second)
		wantCode(t, "leader heartbeat", h.heartbeat("g", ids[0], 1), nil)
	}
	h.advance(time.Second)
	g := h.group("g")
	if g.members[ids[1]] != nil {
		t.Fatal("follower not expired")
	}
	h.wantState("g", statePreparingRebalance)
	wantCode(t, "leader heartbeat", h.heartbeat("g", ids[0], 1), kerr.RebalanceInProgress)
	wantCode(t, "expired member", h.heartbeat("g", ids[1], 1), kerr.UnknownMemberID)
	// The leader rejoins and is alone in generation 2.
	r := h.joinResp(h.join(joinSpec{group: "g", member: ids[0]}))
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("%+v", r)
	}
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 3)
	// A follower changes its subscription: rebalance (cooperative
	// clients rejoin like this to give partitions up).
	w1 := h.join(joinSpec{group: "g", member: ids[1], protocols: protocols("range", "u"), rebalance: 20 * time.Second})
	h.wantState("g", statePreparingRebalance)
	w0 := h.join(joinSpec{group: "g", member: ids[0], rebalance: 20 * time.Second})
	// ids[2] keeps heartbeating but never rejoins.
	for range 6 {
		h.advance(3 * time.Second)
		wantCode(t, "heartbeat", h.heartbeat("g", ids[2], 1), kerr.RebalanceInProgress)
	}
	h.noReply(w0)
	h.advance(2 * time.Second) // the 60s rebalance timeout of ids[2] counts too
	h.noReply(w0)
	h.advance(40 * time.Second)
	r0, r1 := h.joinResp(w0), h.joinResp(w1)
	if r0.Generation != 2 || r1.Generation != 2 || len(r0.Members) != 2 {
		t.Fatalf("%+v\n%+v", r0, r1)
	}
	wantCode(t, "removed member", h.heartbeat("g", ids[2], 1), kerr.UnknownMemberID)
}

func TestSessionExpiryDuringRebalance(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	w := h.join(joinSpec{group: "g", member: ids[0]})
	// ids[1] neither rejoins nor heartbeats: its session (10s) ends
	// before the rebalance timeout (60s) and the join completes then.
	h.advance(10*time.Second - time.Millisecond)
	h.noReply(w)
	h.advance(time.Millisecond)
	if r := h.joinResp(w); r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("%+v", r)
	}
}

func TestNewMemberJoinTimeout(t *testing.T) {
	// A new member's parked join is bounded by 5 minutes even when the
	// rebalance waits longer for an old member (Kafka's
	// classic.group.new.member.join.timeout).
	h := newHarness(t, testConfig())
	wa, ma := h.joinNew(joinSpec{group: "g", rebalance: 10 * time.Minute})
	h.advance(6 * time.Second)
	h.joinResp(wa)
	h.sync("g", ma, 1, nil)
	wb := h.join(joinSpec{group: "g", version: 3, client: "b"})
	mb := h.group("g").order[1]
	for range 99 { // a keeps its session alive but never rejoins
		h.advance(3 * time.Second)
		h.heartbeat("g", ma, 1)
	}
	h.noReply(wb)
	h.advance(3 * time.Second)
	r := h.joinResp(wb)
	wantCode(t, "expired new member", r.ErrorCode, kerr.UnknownMemberID)
	if h.group("g").members[mb] != nil {
		t.Fatal("new member still in the group")
	}
	h.wantState("g", statePreparingRebalance)
}

func TestMemberThatNeverSyncsIsRemoved(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ma := h.joinNew(joinSpec{group: "g", rebalance: 30 * time.Second})
	b, mb := h.joinNew(joinSpec{group: "g", rebalance: 30 * time.Second})
	h.advance(6 * time.Second)
	h.joinResp(a)
	h.joinResp(b)
	ls := h.sync("g", ma, 1, map[string][]byte{ma: []byte("A"), mb: []byte("B")})
	wantCode(t, "leader sync", h.syncResp(ls).ErrorCode, nil)
	h.wantState("g", stateStable)
	// mb keeps heartbeating but never syncs: after the rebalance timeout
	// it is removed (KAFKA-13766) and the group rebalances.
	for range 9 {
		h.advance(3 * time.Second)
		wantCode(t, "leader heartbeat", h.heartbeat("g", ma, 1), nil)
		wantCode(t, "follower heartbeat", h.heartbeat("g", mb, 1), nil)
	}
	h.wantState("g", stateStable)
	h.advance(3 * time.Second)
	h.wantState("g", statePreparingRebalance)
	if h.group("g").members[mb] != nil {
		t.Fatal("member that never synced still in the group")
	}
	r := h.joinResp(h.join(joinSpec{group: "g", member: ma}))
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("%+v", r)
	}
}

func TestLeaderThatDoesNotRejoinIsReplaced(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	w := h.join(joinSpec{group: "g", member: ids[1], protocols: protocols("range", "u")})
	for range 20 { // the leader heartbeats but does not rejoin
		h.advance(3 * time.Second)
		h.heartbeat("g", ids[0], 1)
	}
	r := h.joinResp(w)
	if r.Generation != 2 || r.LeaderID != ids[1] || len(r.Members) != 1 {
		t.Fatalf("%+v", r)
	}
}

func TestLeaderAssignmentWriteFailure(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ma := h.joinNew(joinSpec{group: "g"})
	b, mb := h.joinNew(joinSpec{group: "g"})
	h.advance(6 * time.Second)
	h.joinResp(a)
	h.joinResp(b)
	h.autoAck = false
	fs := h.sync("g", mb, 1, nil)
	ls := h.sync("g", ma, 1, map[string][]byte{ma: []byte("A"), mb: []byte("B")})
	h.ack(kerr.RequestTimedOut)
	wantCode(t, "leader", h.syncResp(ls).ErrorCode, kerr.CoordinatorNotAvailable)
	wantCode(t, "follower", h.syncResp(fs).ErrorCode, kerr.CoordinatorNotAvailable)
	h.wantState("g", statePreparingRebalance)
	if g := h.group("g"); g.members[ma].assignment != nil {
		t.Fatal("assignment kept after a failed write")
	}
}

func TestMemberFailsMidRebalance(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 3)
	// Rebalance; everyone rejoins; the leader dies before SyncGroup.
	var waits []uint64
	for _, m := range ids {
		waits = append(waits, h.join(joinSpec{group: "g", member: m}))
	}
	for _, w := range waits {
		if r := h.joinResp(w); r.Generation != 2 {
			t.Fatalf("%+v", r)
		}
	}
	f1 := h.sync("g", ids[1], 2, nil)
	f2 := h.sync("g", ids[2], 2, nil)
	for range 3 {
		h.advance(3 * time.Second)
		h.heartbeat("g", ids[1], 2)
		h.heartbeat("g", ids[2], 2)
	}
	h.noReply(f1)
	h.advance(2 * time.Second) // leader's 10s session ends
	wantCode(t, "follower sync", h.syncResp(f1).ErrorCode, kerr.RebalanceInProgress)
	wantCode(t, "follower sync", h.syncResp(f2).ErrorCode, kerr.RebalanceInProgress)
	h.wantState("g", statePreparingRebalance)
	r1 := h.join(joinSpec{group: "g", member: ids[1]})
	r2 := h.join(joinSpec{group: "g", member: ids[2]})
	if a, b := h.joinResp(r1), h.joinResp(r2); a.Generation != 3 || b.Generation != 3 || a.LeaderID != ids[1] {
		t.Fatalf("%+v\n%+v", a, b)
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	// v0: one member, error at the top.
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group, req.MemberID = 0, "g", "nobody"
	wantCode(t, "v0 unknown", h.mustReply(h.do(req)).(*kmsg.LeaveGroupResponse).ErrorCode, kerr.UnknownMemberID)
	req.MemberID = ids[1]
	wantCode(t, "v0 leave", h.mustReply(h.do(req)).(*kmsg.LeaveGroupResponse).ErrorCode, nil)
	h.wantState("g", statePreparingRebalance)

	// v3+: a batch, each with its own error; the last leave empties
	// the group, and the response waits for that to be persisted.
	h.autoAck = false
	req = kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group = 5, "g"
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: ids[0]}, {MemberID: "nobody"}}
	w := h.do(req)
	h.noReply(w)
	h.wantState("g", stateEmpty)
	h.ack(nil)
	resp := h.mustReply(w).(*kmsg.LeaveGroupResponse)
	if resp.ErrorCode != 0 || len(resp.Members) != 2 || resp.Members[0].ErrorCode != 0 ||
		resp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("%+v", resp)
	}
	if v := decodeGroupValue(t, h.log[len(h.log)-1]); v.Generation != 2 || len(v.Members) != 0 || v.Protocol != nil ||
		v.ProtocolType != "consumer" {
		t.Fatalf("empty group record %+v", v)
	}
	// Unknown group: per member.
	req.Group = "x"
	resp = h.mustReply(h.do(req)).(*kmsg.LeaveGroupResponse)
	if resp.ErrorCode != 0 || resp.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("%+v", resp)
	}
}

func TestLeaveWhileJoinParked(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	w := h.join(joinSpec{group: "g", member: ids[0]})
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group = 3, "g"
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: ids[1]}}
	h.do(req)
	// The remaining member was the only one to rejoin: generation 2.
	if r := h.joinResp(w); r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("%+v", r)
	}
}

func TestStaticMemberRestartKeepsAssignment(t *testing.T) {
	for _, version := range []int16{5, 9} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			h := newHarness(t, testConfig())
			ia, ib := "a", "b"
			wa := h.join(joinSpec{group: "g", instance: &ia, version: version})
			wb := h.join(joinSpec{group: "g", instance: &ib, version: version})
			h.advance(6 * time.Second)
			ra, rb := h.joinResp(wa), h.joinResp(wb)
			if ra.MemberID != "a-uuid1" || rb.MemberID != "b-uuid2" || ra.LeaderID != ra.MemberID {
				t.Fatalf("%+v\n%+v", ra, rb)
			}
			h.sync("g", ra.MemberID, 1, map[string][]byte{ra.MemberID: []byte("A"), rb.MemberID: []byte("B")})
			h.sync("g", rb.MemberID, 1, nil)
			h.wantState("g", stateStable)

			// b restarts: unknown member id, same instance id, changed
			// metadata but the same protocol: no rebalance.
			h.autoAck = false
			w := h.join(joinSpec{group: "g", instance: &ib, version: version, protocols: protocols("range", "t2")})
			h.noReply(w) // waits for the new member id to be durable
			h.ack(nil)
			r := h.joinResp(w)
			if r.ErrorCode != 0 || r.Generation != 1 || r.MemberID == rb.MemberID || r.SkipAssignment || len(r.Members) != 0 {
				t.Fatalf("%+v", r)
			}
			h.wantState("g", stateStable)
			h.autoAck = true
			// The old id is fenced; the new one syncs to its old
			// assignment.
			wantCode(t, "old id", h.staticHeartbeat("g", rb.MemberID, ib, 1), kerr.FencedInstanceID)
			s := h.syncResp(h.staticSync("g", r.MemberID, ib, 1))
			if s.ErrorCode != 0 || string(s.MemberAssignment) != "B" {
				t.Fatalf("%+v", s)
			}

			// The leader restarts: v9 tells it to skip the assignment
			// (KIP-814) and gives it the members; before v9 it is told
			// the old leader id, so it acts as a follower.
			w = h.join(joinSpec{group: "g", instance: &ia, version: version})
			r = h.joinResp(w)
			if version >= 9 {
				if !r.SkipAssignment || r.LeaderID != r.MemberID || len(r.Members) != 2 {
					t.Fatalf("%+v", r)
				}
			} else if r.SkipAssignment || r.LeaderID != ra.MemberID || len(r.Members) != 0 {
				t.Fatalf("%+v", r)
			}
			h.wantState("g", stateStable)
			if g := h.group("g"); g.leader != r.MemberID {
				t.Fatalf("leader %q, want %q", g.leader, r.MemberID)
			}
		})
	}
}

func TestStaticMemberRejoinChangingProtocolRebalances(t *testing.T) {
	h := newHarness(t, testConfig())
	ia, ib := "a", "b"
	wa := h.join(joinSpec{group: "g", instance: &ia, protocols: protocols("range", "t", "sticky", "t")})
	wb := h.join(joinSpec{group: "g", instance: &ib, protocols: protocols("range", "t", "sticky", "t")})
	h.advance(6 * time.Second)
	ra := h.joinResp(wa)
	rb := h.joinResp(wb)
	h.sync("g", ra.MemberID, 1, nil)
	h.sync("g", rb.MemberID, 1, nil)
	h.wantState("g", stateStable)
	// b comes back supporting only sticky: range is no longer common,
	// so the selected protocol would change and the group rebalances.
	w := h.join(joinSpec{group: "g", instance: &ib, protocols: protocols("sticky", "t")})
	h.noReply(w)
	h.wantState("g", statePreparingRebalance)
	wa2 := h.join(joinSpec{group: "g", member: ra.MemberID, instance: &ia, protocols: protocols("range", "t", "sticky", "t")})
	r := h.joinResp(wa2)
	if r.Generation != 2 || *r.Protocol != "sticky" {
		t.Fatalf("%+v", r)
	}
	// A static member that does not rejoin is kept (it may be
	// restarting), where a dynamic one would be dropped.
	h2 := newHarness(t, testConfig())
	w1 := h2.join(joinSpec{group: "g", instance: &ia, rebalance: 20 * time.Second})
	w2 := h2.join(joinSpec{group: "g", instance: &ib, rebalance: 20 * time.Second})
	h2.advance(6 * time.Second)
	m1, m2 := h2.joinResp(w1).MemberID, h2.joinResp(w2).MemberID
	h2.staticSync("g", m1, ia, 1)
	h2.staticSync("g", m2, ib, 1)
	w1 = h2.join(joinSpec{group: "g", member: m1, instance: &ia, rebalance: 20 * time.Second})
	for range 6 {
		h2.advance(3 * time.Second)
		wantCode(t, "static heartbeat", h2.staticHeartbeat("g", m2, ib, 1), kerr.RebalanceInProgress)
	}
	h2.noReply(w1)
	h2.advance(2 * time.Second) // the 20s rebalance timeout
	r1 := h2.joinResp(w1)
	if r1.Generation != 2 || len(r1.Members) != 2 || h2.group("g").members[m2] == nil {
		t.Fatalf("%+v", r1)
	}
	// It learns of the new generation from its heartbeat.
	wantCode(t, "static heartbeat", h2.staticHeartbeat("g", m2, ib, 1), kerr.IllegalGeneration)
}

func TestStaticMemberReplacementWriteFailureReverts(t *testing.T) {
	h := newHarness(t, testConfig())
	ia, ib := "a", "b"
	wa := h.join(joinSpec{group: "g", instance: &ia})
	wb := h.join(joinSpec{group: "g", instance: &ib})
	h.advance(6 * time.Second)
	ma, mb := h.joinResp(wa).MemberID, h.joinResp(wb).MemberID
	h.sync("g", ma, 1, nil)
	h.sync("g", mb, 1, nil)
	h.autoAck = false
	w := h.join(joinSpec{group: "g", instance: &ib})
	h.ack(kerr.NotLeaderForPartition)
	r := h.joinResp(w)
	wantCode(t, "join", r.ErrorCode, kerr.NotCoordinator)
	if r.MemberID != "" || r.LeaderID != ma || r.Generation != 1 {
		t.Fatalf("%+v", r)
	}
	// The old member id is back in place.
	wantCode(t, "old id", h.staticHeartbeat("g", mb, ib, 1), nil)
	if g := h.group("g"); g.static[ib] != mb || len(g.members) != 2 || g.awaitingJoin != 0 {
		t.Fatalf("static %v members %v awaiting %d", g.static, g.order, g.awaitingJoin)
	}
}

func TestStaticMemberFencing(t *testing.T) {
	h := newHarness(t, testConfig())
	ia := "a"
	w := h.join(joinSpec{group: "g", instance: &ia, rebalance: 30 * time.Second})
	// A second process with the same instance id joins while the first
	// still waits: the first is fenced.
	w2 := h.join(joinSpec{group: "g", instance: &ia, rebalance: 30 * time.Second})
	wantCode(t, "first", h.joinResp(w).ErrorCode, kerr.FencedInstanceID)
	h.advance(6 * time.Second)
	r := h.joinResp(w2)
	wantCode(t, "second", r.ErrorCode, nil)
	wantCode(t, "fenced heartbeat", h.staticHeartbeat("g", "a-uuid1", ia, 1), kerr.FencedInstanceID)
	// LeaveGroup by instance id alone removes it (KIP-345 admin removal).
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group = 4, "g"
	req.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: &ia}}
	if resp := h.mustReply(h.do(req)).(*kmsg.LeaveGroupResponse); resp.Members[0].ErrorCode != 0 {
		t.Fatalf("%+v", resp)
	}
	h.wantState("g", stateEmpty)
}

func TestGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 2
	h := newHarness(t, cfg)
	h.stableGroup("g", 2)
	r := h.joinResp(h.join(joinSpec{group: "g", version: 3}))
	wantCode(t, "third member", r.ErrorCode, kerr.GroupMaxSizeReached)
	if len(h.group("g").members) != 2 {
		t.Fatal("rejected member was added")
	}
}

func TestCooperativeRebalanceRounds(t *testing.T) {
	// Incremental cooperative rebalancing (KIP-429) is client side: a
	// member that must give up partitions syncs, revokes, and rejoins
	// at once, which starts a second rebalance. The coordinator only
	// needs rejoins with changed metadata to rebalance and generations
	// to advance.
	h := newHarness(t, testConfig())
	coop := func(owned string) []kmsg.JoinGroupRequestProtocol {
		return []kmsg.JoinGroupRequestProtocol{{Name: "cooperative-sticky", Metadata: consumerMeta("t", owned)}}
	}
	wa, ma := h.joinNew(joinSpec{group: "g", protocols: coop("")})
	h.advance(6 * time.Second)
	h.joinResp(wa)
	h.sync("g", ma, 1, map[string][]byte{ma: []byte("p0,p1")})
	h.wantState("g", stateStable)
	// b joins: generation 2; a rejoins with what it owns.
	wb, mb := h.joinNew(joinSpec{group: "g", protocols: coop("")})
	wa = h.join(joinSpec{group: "g", member: ma, protocols: coop("p0,p1")})
	if ra, rb := h.joinResp(wa), h.joinResp(wb); ra.Generation != 2 || rb.Generation != 2 {
		t.Fatal("generation 2")
	}
	// The leader gives b nothing yet (p1 must be revoked first).
	sa := h.sync("g", ma, 2, map[string][]byte{ma: []byte("p0")})
	sb := h.sync("g", mb, 2, nil)
	if string(h.syncResp(sa).MemberAssignment) != "p0" || len(h.syncResp(sb).MemberAssignment) != 0 {
		t.Fatal("assignments")
	}
	// a revoked p1 and rejoins: generation 3 hands p1 to b.
	wa = h.join(joinSpec{group: "g", member: ma, protocols: coop("p0")})
	wantCode(t, "b heartbeat", h.heartbeat("g", mb, 2), kerr.RebalanceInProgress)
	wb = h.join(joinSpec{group: "g", member: mb, protocols: coop("")})
	if ra, rb := h.joinResp(wa), h.joinResp(wb); ra.Generation != 3 || rb.Generation != 3 {
		t.Fatalf("generation 3: %+v %+v", ra, rb)
	}
	sa = h.sync("g", ma, 3, map[string][]byte{ma: []byte("p0"), mb: []byte("p1")})
	sb = h.sync("g", mb, 3, nil)
	if string(h.syncResp(sb).MemberAssignment) != "p1" {
		t.Fatal("b should own p1")
	}
	// A follower rejoining with unchanged metadata in Stable gets the
	// current generation without a rebalance.
	r := h.joinResp(h.join(joinSpec{group: "g", member: mb, protocols: coop("")}))
	if r.Generation != 3 || r.ErrorCode != 0 {
		t.Fatalf("%+v", r)
	}
	h.wantState("g", stateStable)
}

func TestSupersededJoinIsAnswered(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	w1 := h.join(joinSpec{group: "g", member: ids[0]})
	w2 := h.join(joinSpec{group: "g", member: ids[0]})
	wantCode(t, "superseded", h.joinResp(w1).ErrorCode, kerr.RebalanceInProgress)
	h.noReply(w2)
}

func TestDuplicateProtocolNames(t *testing.T) {
	h := newHarness(t, testConfig())
	ps := append(protocols("range", "t"), protocols("range", "u")...)
	w, _ := h.joinNew(joinSpec{group: "g", protocols: ps})
	h.advance(6 * time.Second)
	r := h.joinResp(w)
	if *r.Protocol != "range" || h.group("g").supported["range"] != 1 {
		t.Fatalf("%+v %v", r, h.group("g").supported)
	}
}
