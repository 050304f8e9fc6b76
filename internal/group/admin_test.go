package group

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	ids := h.stableGroup("g", 2)
	h.joinNew(joinSpec{group: "forming", client: "x"})
	describe := func(version int16, groups ...string) []kmsg.DescribeGroupsResponseGroup {
		return h.mustReply(h.do(describeOp{groups: groups, version: version, includeAuthorized: true})).([]kmsg.DescribeGroupsResponseGroup)
	}
	d := describe(5, "g", "forming", "nope")
	g := d[0]
	if g.ErrorCode != 0 || g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "range" ||
		len(g.Members) != 2 || g.AuthorizedOperations != groupOpsAll {
		t.Fatalf("%+v", g)
	}
	m := g.Members[slices.IndexFunc(g.Members, func(m kmsg.DescribeGroupsResponseGroupMember) bool { return m.MemberID == ids[1] })]
	if m.ClientID != "c1" || m.ClientHost != "/127.0.0.1" || string(m.MemberAssignment) != "assignment-"+ids[1] ||
		len(m.ProtocolMetadata) == 0 {
		t.Fatalf("%+v", m)
	}
	// Not Stable: no protocol, members without metadata or assignment.
	if f := d[1]; f.State != "PreparingRebalance" || f.Protocol != "" || len(f.Members) != 1 || len(f.Members[0].ProtocolMetadata) != 0 {
		t.Fatalf("%+v", f)
	}
	// Unknown: Dead, no error before v6 (KIP-1043 made it an error).
	if n := d[2]; n.State != "Dead" || n.ErrorCode != 0 {
		t.Fatalf("%+v", n)
	}
	if n := describe(6, "nope")[0]; n.ErrorCode != kerr.GroupIDNotFound.Code || n.ErrorMessage == nil {
		t.Fatalf("%+v", n)
	}
}

func TestListGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	h.stableGroup("stable", 1)
	h.joinNew(joinSpec{group: "forming"})
	h.commit(commitSpec{group: "simple", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 1}}})
	list := func(states, types []string) []string {
		var out []string
		for _, g := range h.mustReply(h.do(listOp{states: states, types: types})).([]kmsg.ListGroupsResponseGroup) {
			out = append(out, g.Group+":"+g.GroupState+":"+g.ProtocolType+":"+g.GroupType)
		}
		return out
	}
	all := list(nil, nil)
	want := []string{"forming:PreparingRebalance:consumer:classic", "simple:Empty::classic", "stable:Stable:consumer:classic"}
	if !slices.Equal(all, want) {
		t.Fatalf("%v", all)
	}
	if got := list([]string{"stable", "empty"}, nil); len(got) != 2 {
		t.Fatalf("%v", got)
	}
	if got := list(nil, []string{"consumer"}); len(got) != 0 {
		t.Fatalf("%v", got)
	}
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	h.stableGroup("live", 1)
	h.commit(commitSpec{group: "simple", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 1, 1: 2}}})
	h.autoAck = false
	w := h.do(deleteGroupsOp{groups: []string{"live", "simple", "nope"}})
	h.noReply(w)
	// While the tombstones are in flight the group is Dead: a join is
	// told to retry (once the write it followed is resolved), and the
	// group is gone from listings.
	h.wantState("simple", stateDead)
	wj := h.join(joinSpec{group: "simple", version: 3})
	if got := h.mustReply(h.do(listOp{})).([]kmsg.ListGroupsResponseGroup); len(got) != 1 || got[0].Group != "live" {
		t.Fatalf("%+v", got)
	}
	h.noReply(wj)
	h.ack(nil)
	wantCode(t, "join to dying group", h.joinResp(wj).ErrorCode, kerr.CoordinatorNotAvailable)
	res := h.mustReply(w).([]kmsg.DeleteGroupsResponseGroup)
	if res[0].ErrorCode != kerr.NonEmptyGroup.Code || res[1].ErrorCode != 0 || res[2].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("%+v", res)
	}
	if h.s.groups["simple"] != nil {
		t.Fatal("deleted group still there")
	}
	for _, r := range h.log[len(h.log)-3:] {
		if r.Value != nil {
			t.Fatal("not a tombstone")
		}
	}
	// Offsets first, then the group: replay never sees offsets without
	// their group.
	if v := decodeGroupKey(t, h.log[len(h.log)-1]); v != "simple" {
		t.Fatalf("last tombstone is for %q", v)
	}

	// A failed write brings the group back.
	h.commit(commitSpec{group: "again", generation: -1, offsets: map[string]map[int32]int64{"t": {0: 1}}})
	h.ackAll(nil)
	w = h.do(deleteGroupsOp{groups: []string{"again"}})
	h.ack(kerr.NotLeaderForPartition)
	if res := h.mustReply(w).([]kmsg.DeleteGroupsResponseGroup); res[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("%+v", res)
	}
	h.wantState("again", stateEmpty)
	if got := fetched(h.fetch("again", false, nil)); got["t/0"] != "1@-1" {
		t.Fatalf("%v", got)
	}
}

func decodeGroupKey(t *testing.T, r Record) string {
	t.Helper()
	var k kmsg.GroupMetadataKey
	if err := k.ReadFrom(r.Key); err != nil || k.Version != groupMetadataKeyVersion {
		t.Fatalf("not a group key: %x", r.Key)
	}
	return k.Group
}
