package group

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTranscripts runs the scripts in testdata/: each command feeds the
// shard state machine one input and prints the responses that left and
// the records written. Member ids are "<client>-uuid<n>", n counting from
// 1 per script. Regenerate with -rewrite.
//
//	join group=g [member=id] [client=c] [instance=i] [version=9] [session=10s] [rebalance=60s] [protocols=(range:t,sticky:t)] [type=consumer]
//	sync group=g member=id gen=1 [instance=i] [assign=(id:bytes,…)]
//	heartbeat group=g member=id gen=1 [instance=i]
//	leave group=g members=(id,…) [version=5]        (a member "instance:i" names it by instance id)
//	commit group=g [member=id] [gen=-1] offsets=(t/0=10,…) [epoch=n] [metadata=s]
//	fetch group=g [partitions=(t/0,…)] [stable]
//	describe groups=(g,…)
//	list
//	delete-groups groups=(g,…)
//	advance 3s
//	ack [err=NOT_LEADER_FOR_PARTITION]   (completes the oldest pending write)
//	autoack on|off
//	state group=g
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(t, testConfig())
		var seen map[uint64]bool
		reset := func() { seen = map[uint64]bool{} }
		reset()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var b strings.Builder
			before := len(h.log)
			pendingBefore := len(h.pending)
			arg := func(k, def string) string {
				if a, ok := d.Arg(k); ok && len(a.Vals) > 0 {
					return a.Vals[0]
				}
				return def
			}
			vals := func(k string) []string {
				a, _ := d.Arg(k)
				return a.Vals
			}
			num := func(k string, def int) int {
				n, err := strconv.Atoi(arg(k, strconv.Itoa(def)))
				if err != nil {
					d.Fatalf(t, "%s: %v", k, err)
				}
				return n
			}
			dur := func(k string) time.Duration {
				s := arg(k, "")
				if s == "" {
					return 0
				}
				v, err := time.ParseDuration(s)
				if err != nil {
					d.Fatalf(t, "%s: %v", k, err)
				}
				return v
			}
			optStr := func(k string) *string {
				if a, ok := d.Arg(k); ok && len(a.Vals) > 0 {
					return &a.Vals[0]
				}
				return nil
			}
			var to uint64
			switch d.Cmd {
			case "join":
				spec := joinSpec{group: arg("group", "g"), member: arg("member", ""), client: arg("client", "c"),
					instance: optStr("instance"), version: int16(num("version", 9)), session: dur("session"),
					rebalance: dur("rebalance"), protocolType: arg("type", "")}
				if spec.version == 0 {
					spec.version = version0
				}
				if ps := vals("protocols"); len(ps) > 0 {
					for _, p := range ps {
						name, topics, _ := strings.Cut(p, ":")
						spec.protocols = append(spec.protocols, kmsg.JoinGroupRequestProtocol{Name: name, Metadata: consumerMeta(strings.Split(topics, "+")...)})
					}
				}
				to = h.join(spec)
			case "sync":
				req := kmsg.NewPtrSyncGroupRequest()
				req.Version = 5
				req.Group, req.MemberID, req.Generation, req.InstanceID = arg("group", "g"), arg("member", ""), int32(num("gen", 0)), optStr("instance")
				for _, a := range vals("assign") {
					id, data, _ := strings.Cut(a, ":")
					req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(data)})
				}
				to = h.do(req)
			case "heartbeat":
				req := kmsg.NewPtrHeartbeatRequest()
				req.Version = 4
				req.Group, req.MemberID, req.Generation, req.InstanceID = arg("group", "g"), arg("member", ""), int32(num("gen", 0)), optStr("instance")
				to = h.do(req)
			case "leave":
				req := kmsg.NewPtrLeaveGroupRequest()
				req.Version, req.Group = int16(num("version", 5)), arg("group", "g")
				for _, m := range vals("members") {
					if inst, ok := strings.CutPrefix(m, "instance:"); ok {
						req.Members = append(req.Members, kmsg.LeaveGroupRequestMember{InstanceID: &inst})
					} else {
						req.Members = append(req.Members, kmsg.LeaveGroupRequestMember{MemberID: m})
					}
				}
				if req.Version < 3 && len(req.Members) > 0 {
					req.MemberID = req.Members[0].MemberID
				}
				to = h.do(req)
			case "commit":
				c := commitSpec{group: arg("group", "g"), member: arg("member", ""), generation: int32(num("gen", -1)),
					epoch: int32(num("epoch", 0)), metadata: optStr("metadata"), offsets: map[string]map[int32]int64{}}
				for _, o := range vals("offsets") {
					tp, off, _ := strings.Cut(o, "=")
					topic, p, _ := strings.Cut(tp, "/")
					pi, _ := strconv.Atoi(p)
					oi, _ := strconv.ParseInt(off, 10, 64)
					if c.offsets[topic] == nil {
						c.offsets[topic] = map[int32]int64{}
					}
					c.offsets[topic][int32(pi)] = oi
				}
				to = h.commit(c)
			case "fetch":
				var topics map[string][]int32
				if ps := vals("partitions"); len(ps) > 0 {
					topics = map[string][]int32{}
					for _, tp := range ps {
						topic, p, _ := strings.Cut(tp, "/")
						pi, _ := strconv.Atoi(p)
						topics[topic] = append(topics[topic], int32(pi))
					}
				}
				to = h.do(h.fetchOp(arg("group", "g"), d.HasArg("stable"), topics))
			case "describe":
				to = h.do(describeOp{groups: vals("groups"), version: 5})
			case "list":
				to = h.do(listOp{})
			case "delete-groups":
				to = h.do(deleteGroupsOp{groups: vals("groups")})
			case "advance":
				v, err := time.ParseDuration(d.CmdArgs[0].Key)
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				h.advance(v)
			case "ack":
				var err error
				if name := arg("err", ""); name != "" {
					err = kerrByName(t, name)
				}
				h.ack(err)
			case "autoack":
				h.autoAck = d.CmdArgs[0].Key == "on"
				h.collect()
			case "state":
				g := h.s.groups[arg("group", "g")]
				if g == nil {
					return "no group\n"
				}
				fmt.Fprintf(&b, "%v gen=%d leader=%s members=%v pending=%v awaiting-join=%d\n", g.state, g.generation, g.leader,
					g.order, sortedKeys(g.pendingJoin), g.awaitingJoin)
				return b.String()
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			if to != 0 {
				if _, ok := h.replies[to]; !ok {
					fmt.Fprintf(&b, "#%d parked\n", to)
				}
			}
			// Replies that arrived during this command, in waiter order.
			var ids []uint64
			for id := range h.replies {
				if !seen[id] {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			for _, id := range ids {
				seen[id] = true
				fmt.Fprintf(&b, "#%d %s\n", id, formatReply(h.replies[id]))
			}
			for _, r := range h.log[before:] {
				fmt.Fprintf(&b, "durable: %s\n", formatRecord(t, r))
			}
			if n := len(h.pending) - pendingBefore; n > 0 {
				for _, a := range h.pending[pendingBefore:] {
					fmt.Fprintf(&b, "write pending: %d records\n", len(a.records))
				}
			}
			if b.Len() == 0 {
				return "ok\n"
			}
			return b.String()
		})
	})
}

func (h *harness) fetchOp(group string, stable bool, topics map[string][]int32) fetchOp {
	op := fetchOp{group: group, requireStable: stable}
	if topics != nil {
		op.topics = []kmsg.OffsetFetchRequestGroupTopic{}
		for _, t := range sortedKeys(topics) {
			op.topics = append(op.topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t, Partitions: topics[t]})
		}
	}
	return op
}

func kerrByName(t *testing.T, name string) error {
	for code := int16(1); code < 130; code++ {
		if e := kerr.ErrorForCode(code); e != nil && e.Error() != "" && strings.HasPrefix(e.Error(), name+":") {
			return e
		}
	}
	t.Fatalf("unknown error %s", name)
	return nil
}

func errName(code int16) string {
	if code == 0 {
		return ""
	}
	s := kerr.ErrorForCode(code).Error()
	name, _, _ := strings.Cut(s, ":")
	return " " + name
}

func formatReply(r any) string {
	switch r := r.(type) {
	case *kmsg.JoinGroupResponse:
		if r.ErrorCode != 0 {
			return fmt.Sprintf("JoinGroup%s member=%s", errName(r.ErrorCode), r.MemberID)
		}
		var ms []string
		for _, m := range r.Members {
			ms = append(ms, m.MemberID)
		}
		proto := "<nil>"
		if r.Protocol != nil {
			proto = *r.Protocol
		}
		s := fmt.Sprintf("JoinGroup gen=%d member=%s leader=%s protocol=%s", r.Generation, r.MemberID, r.LeaderID, proto)
		if len(ms) > 0 {
			s += fmt.Sprintf(" members=%v", ms)
		}
		if r.SkipAssignment {
			s += " skip-assignment"
		}
		return s
	case *kmsg.SyncGroupResponse:
		return fmt.Sprintf("SyncGroup%s assignment=%q", errName(r.ErrorCode), r.MemberAssignment)
	case *kmsg.HeartbeatResponse:
		return "Heartbeat" + errName(r.ErrorCode)
	case *kmsg.LeaveGroupResponse:
		s := "LeaveGroup" + errName(r.ErrorCode)
		for _, m := range r.Members {
			id := m.MemberID
			if m.InstanceID != nil {
				id += "/" + *m.InstanceID
			}
			s += fmt.Sprintf(" [%s%s]", id, errName(m.ErrorCode))
		}
		return s
	case *kmsg.OffsetCommitResponse:
		s := "OffsetCommit"
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				s += fmt.Sprintf(" %s/%d%s", t.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
		return s
	case kmsg.OffsetFetchResponseGroup:
		s := "OffsetFetch" + errName(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				s += fmt.Sprintf(" %s/%d=%d@%d", t.Topic, p.Partition, p.Offset, p.LeaderEpoch)
				if p.Metadata != nil && *p.Metadata != "" {
					s += fmt.Sprintf("(%s)", *p.Metadata)
				}
				s += errName(p.ErrorCode)
			}
		}
		return s
	case []kmsg.DescribeGroupsResponseGroup:
		var parts []string
		for _, g := range r {
			s := fmt.Sprintf("%s %s%s type=%q protocol=%q", g.Group, g.State, errName(g.ErrorCode), g.ProtocolType, g.Protocol)
			for _, m := range g.Members {
				s += fmt.Sprintf(" [%s client=%s assignment=%q]", m.MemberID, m.ClientID, m.MemberAssignment)
			}
			parts = append(parts, s)
		}
		return "DescribeGroups " + strings.Join(parts, "; ")
	case []kmsg.ListGroupsResponseGroup:
		var parts []string
		for _, g := range r {
			parts = append(parts, g.Group+":"+g.GroupState)
		}
		return "ListGroups " + strings.Join(parts, " ")
	case []kmsg.DeleteGroupsResponseGroup:
		var parts []string
		for _, g := range r {
			parts = append(parts, g.Group+errName(g.ErrorCode))
		}
		return "DeleteGroups " + strings.Join(parts, ", ")
	default:
		return fmt.Sprintf("%T %+v", r, r)
	}
}

func formatRecord(t *testing.T, r Record) string {
	switch r.Key[1] {
	case groupMetadataKeyVersion:
		g := decodeGroupKey(t, r)
		if r.Value == nil {
			return "group " + g + " tombstone"
		}
		v := decodeGroupValue(t, r)
		proto, leader := "<nil>", "<nil>"
		if v.Protocol != nil {
			proto = *v.Protocol
		}
		if v.Leader != nil {
			leader = *v.Leader
		}
		s := fmt.Sprintf("group %s gen=%d type=%q protocol=%s leader=%s", g, v.Generation, v.ProtocolType, proto, leader)
		for _, m := range v.Members {
			s += fmt.Sprintf(" [%s assignment=%q]", m.MemberID, m.Assignment)
		}
		return s
	default:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.Key); err != nil {
			t.Fatal(err)
		}
		if r.Value == nil {
			return fmt.Sprintf("offset %s %s/%d tombstone", k.Group, k.Topic, k.Partition)
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.Value); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("offset %s %s/%d=%d@%d v%d", k.Group, k.Topic, k.Partition, v.Offset, v.LeaderEpoch, v.Version)
	}
}
