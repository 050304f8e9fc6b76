package groupview

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeCoord answers as the coordinator does for one Stable group "g"
// (two members; m1 has t-0 and t-1, m2 has u-0) with commits on t-0, t-1,
// u-0 and v-0 (assigned to nobody), and Dead for any other group.
type fakeCoord struct{ fetchErr int16 }

func assignment(t *testing.T, topics map[string][]int32) []byte {
	t.Helper()
	a := kmsg.NewConsumerMemberAssignment()
	for name, ps := range topics {
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic, at.Partitions = name, ps
		a.Topics = append(a.Topics, at)
	}
	return a.AppendTo(nil)
}

var m1Assign, m2Assign []byte

func (fakeCoord) ListGroups(context.Context, *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	r := kmsg.NewPtrListGroupsResponse()
	for _, id := range []string{"z", "g"} {
		g := kmsg.NewListGroupsResponseGroup()
		g.Group = id
		r.Groups = append(r.Groups, g)
	}
	return r
}

func (fakeCoord) DescribeGroups(_ context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	r := kmsg.NewPtrDescribeGroupsResponse()
	for _, id := range req.Groups {
		d := kmsg.NewDescribeGroupsResponseGroup()
		d.Group, d.State = id, "Dead"
		if id == "g" {
			d.State, d.ProtocolType, d.Protocol = "Stable", "consumer", "range"
			inst := "i1"
			for _, m := range []struct {
				id   string
				inst *string
				a    []byte
			}{{"m1", &inst, m1Assign}, {"m2", nil, m2Assign}} {
				dm := kmsg.NewDescribeGroupsResponseGroupMember()
				dm.MemberID, dm.InstanceID, dm.ClientID, dm.MemberAssignment = m.id, m.inst, "c-"+m.id, m.a
				d.Members = append(d.Members, dm)
			}
		}
		r.Groups = append(r.Groups, d)
	}
	return r
}

func (f fakeCoord) OffsetFetch(_ context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	r := kmsg.NewPtrOffsetFetchResponse()
	for _, rg := range req.Groups {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group = rg.Group
		if rg.Group == "g" {
			g.ErrorCode = f.fetchErr
			for _, c := range []struct {
				topic  string
				p      int32
				offset int64
			}{{"v", 0, 1}, {"t", 1, 3}, {"t", 0, 8}, {"u", 0, 2}, {"t", 2, -1}} {
				tp := kmsg.NewOffsetFetchResponseGroupTopic()
				tp.Topic = c.topic
				pp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				pp.Partition, pp.Offset = c.p, c.offset
				tp.Partitions = append(tp.Partitions, pp)
				g.Topics = append(g.Topics, tp)
			}
		}
		r.Groups = append(r.Groups, g)
	}
	return r
}

// ends: t-0 at 10, t-1 at 3, u-0 at 9; v-0 is not hosted here.
func ends(topic string, p int32) (int64, error) {
	switch {
	case topic == "t" && p == 0:
		return 10, nil
	case topic == "t" && p == 1:
		return 3, nil
	case topic == "u" && p == 0:
		return 9, nil
	}
	return 0, errors.New("not hosted")
}

func reader(c Coordinator) Reader {
	return Reader{Coord: func() Coordinator { return c }, End: ends}
}

func TestReader(t *testing.T) {
	m1Assign = assignment(t, map[string][]int32{"t": {1, 0}})
	m2Assign = assignment(t, map[string][]int32{"u": {0}})
	r := reader(fakeCoord{})
	ctx := context.Background()

	ids, err := r.IDs(ctx)
	if err != nil || len(ids) != 2 || ids[0] != "g" || ids[1] != "z" {
		t.Fatalf("IDs = %v, %v", ids, err)
	}
	if gs, err := r.List(ctx); err != nil || len(gs) != 2 || gs[0].State != "Stable" || len(gs[0].Members) != 2 ||
		gs[0].Offsets != nil || gs[1].State != "Dead" {
		t.Errorf("List = %+v, %v: described, without offsets", gs, err)
	}
	g, err := r.Get(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if g.Simple() || g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 2 ||
		*g.Members[0].InstanceID != "i1" || g.Members[1].InstanceID != nil {
		t.Fatalf("group = %+v", g)
	}
	if a := g.Members[0].Assignment; len(a) != 2 || a[0] != (TopicPartition{"t", 0}) || a[1] != (TopicPartition{"t", 1}) {
		t.Errorf("m1 assignment = %v (sorted, decoded)", a)
	}
	// Sorted; t-2 (no commit) left out; v-0 has no known end.
	want := []Offset{
		{"t", 0, 8, 10, 2, 0},
		{"t", 1, 3, 3, 0, 0},
		{"u", 0, 2, 9, 7, 1},
		{"v", 0, 1, -1, -1, -1},
	}
	if len(g.Offsets) != len(want) {
		t.Fatalf("offsets = %+v", g.Offsets)
	}
	for i := range want {
		if g.Offsets[i] != want[i] {
			t.Errorf("offset %d = %+v, want %+v", i, g.Offsets[i], want[i])
		}
	}
	if m, ok := g.Owner(g.Offsets[2]); !ok || m.ID != "m2" {
		t.Errorf("owner of u-0 = %+v %v", m, ok)
	}
	if _, ok := g.Owner(g.Offsets[3]); ok {
		t.Error("v-0 has an owner")
	}
	s := g.Summary()
	if !s.OK || s.TotalLag != 9 || s.MaxLag != 7 || s.Max.Topic != "u" {
		t.Errorf("summary = %+v", s)
	}

	if _, err := r.Get(ctx, "z"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(dead) = %v, want ErrNotFound", err)
	}
	if _, err := reader(fakeCoord{fetchErr: kerr.CoordinatorLoadInProgress.Code}).Get(ctx, "g"); !errors.Is(err, kerr.CoordinatorLoadInProgress) {
		t.Errorf("Get while loading = %v", err)
	}
	if _, err := (Reader{Coord: func() Coordinator { return nil }}).All(ctx); err == nil {
		t.Error("All without a coordinator succeeded")
	}
}

func TestSummaryTies(t *testing.T) {
	g := Group{Offsets: []Offset{
		{Topic: "a", Partition: 0, Lag: 0}, {Topic: "a", Partition: 1, Lag: 5},
		{Topic: "b", Partition: 0, Lag: 5}, {Topic: "c", Partition: 0, Lag: -1},
	}}
	s := g.Summary()
	if !s.OK || s.TotalLag != 10 || s.MaxLag != 5 || s.Max.Topic != "a" || s.Max.Partition != 1 {
		t.Errorf("summary = %+v: want the first partition with the largest lag", s)
	}
	if s := (Group{Offsets: []Offset{{Lag: 0}}}).Summary(); !s.OK || s.MaxLag != 0 {
		t.Errorf("all caught up: %+v", s)
	}
	if s := (Group{}).Summary(); s.OK {
		t.Errorf("no offsets: %+v", s)
	}
}
