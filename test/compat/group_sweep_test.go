package compat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn sends requests at exactly the version asked, over one connection
// (the test broker is the coordinator of every group), with kmsg's codecs.
type rawConn struct {
	c    net.Conn
	f    *kmsg.RequestFormatter
	corr int32
}

func dialRaw(ctx context.Context, t *testing.T, addr string) *rawConn {
	t.Helper()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("tandem-compat"))}
}

// do sends req at version and returns the response, failing the test on a
// transport or decoding error.
func (r *rawConn) do(ctx context.Context, t *testing.T, req kmsg.Request, version int16) kmsg.Response {
	t.Helper()
	req.SetVersion(version)
	r.corr++
	if dl, ok := ctx.Deadline(); ok {
		_ = r.c.SetDeadline(dl)
	}
	if _, err := r.c.Write(r.f.AppendRequest(nil, req, r.corr)); err != nil {
		t.Fatalf("%s v%d: write: %v", kmsg.NameForKey(req.Key()), version, err)
	}
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		t.Fatalf("%s v%d: read: %v", kmsg.NameForKey(req.Key()), version, err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.c, body); err != nil || len(body) < 4 {
		t.Fatalf("%s v%d: read: %v", kmsg.NameForKey(req.Key()), version, err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != r.corr {
		t.Fatalf("%s v%d: correlation ID %d, want %d", kmsg.NameForKey(req.Key()), version, corr, r.corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(version)
	body = body[4:]
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		rd := kbin.Reader{Src: body} // response header v1 tags (KIP-482)
		kmsg.SkipTags(&rd)
		body = rd.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("%s v%d: decoding the response: %v", kmsg.NameForKey(req.Key()), version, err)
	}
	return resp
}

// versionRange is what the broker advertises for a key, capped at what
// kmsg knows.
type versionRange struct{ min, max int16 }

func (r *rawConn) versions(ctx context.Context, t *testing.T) map[kmsg.Key]versionRange {
	t.Helper()
	resp := r.do(ctx, t, kmsg.NewPtrApiVersionsRequest(), 0).(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	vs := make(map[kmsg.Key]versionRange)
	for _, k := range resp.ApiKeys {
		req := kmsg.RequestForKey(k.ApiKey)
		if req == nil {
			continue
		}
		vs[kmsg.Key(k.ApiKey)] = versionRange{k.MinVersion, min(k.MaxVersion, req.MaxVersion())}
	}
	return vs
}

// kfakeGroupSkips are the TestGroupAPIVersions subtests kfake fails, with
// why; they are skipped only against kfake.
var kfakeGroupSkips = map[string]string{
	// Kafka takes a v0 member's rebalance timeout to be its session
	// timeout (JoinGroupRequest has no RebalanceTimeoutMs before v1);
	// kfake takes it as 0, so its pending-sync timer fires at once and
	// removes the member before its SyncGroup (UNKNOWN_MEMBER_ID).
	"JoinGroup/v0": "JoinGroup v0 members get rebalance timeout 0 and are removed before SyncGroup",
}

// TestGroupAPIVersions drives every version of the group APIs the broker
// advertises, one request at a time over a raw connection, each inside a
// lifecycle whose other requests use their newest versions: a one-member
// group (JoinGroup with the v4+ MEMBER_ID_REQUIRED round trip, SyncGroup,
// Heartbeat, DescribeGroups, LeaveGroup), simple-consumer commits
// (OffsetCommit, OffsetFetch), FindCoordinator, ListGroups, OffsetDelete and
// DeleteGroups. Clients pin many of these versions (kafka-go, Sarama, old
// librdkafka), so each must work, not just parse.
func TestGroupAPIVersions(t *testing.T) {
	ctx := groupContext(t)
	e := newGroupEnv(ctx, t, 2)
	requireGroups(ctx, t, e.addr, groupAdminAPIs...)
	vs := dialRaw(ctx, t, e.addr).versions(ctx, t)
	topics, err := e.adm.ListTopics(ctx, e.topic)
	if err != nil {
		t.Fatal(err)
	}
	topicID := topics[e.topic].ID
	latest := func(k kmsg.Key) int16 { return vs[k].max }
	// Each subtest has a connection and a group of its own and runs in
	// parallel: a broker with group.initial.rebalance.delay.ms delays
	// every new group's first rebalance (Kafka: 3s).
	each := func(k kmsg.Key, fn func(t *testing.T, rc *rawConn, v int16, group string)) {
		r, ok := vs[k]
		if !ok {
			return
		}
		for v := r.min; v <= r.max; v++ {
			name := fmt.Sprintf("%s/v%d", k.Name(), v)
			t.Run(name, func(t *testing.T) {
				if why, ok := kfakeGroupSkips[name]; ok && e.kfake {
					t.Skipf("kfake: %s", why)
				}
				t.Parallel()
				fn(t, dialRaw(ctx, t, e.addr), v, fmt.Sprintf("%s-%s-v%d", e.group, k.Name(), v))
			})
		}
	}

	lifecycle := map[kmsg.Key]bool{kmsg.JoinGroup: true, kmsg.SyncGroup: true, kmsg.Heartbeat: true, kmsg.DescribeGroups: true, kmsg.LeaveGroup: true}
	for _, k := range []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.DescribeGroups, kmsg.LeaveGroup} {
		each(k, func(t *testing.T, rc *rawConn, v int16, group string) {
			at := make(map[kmsg.Key]int16)
			for k := range lifecycle {
				at[k] = latest(k)
			}
			at[k] = v
			oneMemberGroup(ctx, t, rc, e, group, at)
		})
	}

	each(kmsg.FindCoordinator, func(t *testing.T, rc *rawConn, v int16, g string) {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey, req.CoordinatorKeys = g, []string{g}
		resp := rc.do(ctx, t, req, v).(*kmsg.FindCoordinatorResponse)
		code, host, port := resp.ErrorCode, resp.Host, resp.Port
		if v >= 4 {
			if len(resp.Coordinators) != 1 {
				t.Fatalf("%d coordinators, want 1", len(resp.Coordinators))
			}
			c := resp.Coordinators[0]
			code, host, port = c.ErrorCode, c.Host, c.Port
		}
		if err := kerr.ErrorForCode(code); err != nil {
			t.Fatal(err)
		}
		if got := net.JoinHostPort(host, strconv.Itoa(int(port))); got != e.addr {
			t.Errorf("coordinator %s, want the broker at %s", got, e.addr)
		}
	})

	each(kmsg.OffsetCommit, func(t *testing.T, rc *rawConn, v int16, g string) {
		simpleCommit(ctx, t, rc, e, topicID, g, v, map[int32]int64{0: 100 + int64(v), 1: 7})
		if got := offsetFetch(ctx, t, rc, e, topicID, g, latest(kmsg.OffsetFetch), false); got[0] != 100+int64(v) || got[1] != 7 {
			t.Errorf("committed with OffsetCommit v%d, fetched %v", v, got)
		}
	})

	each(kmsg.OffsetFetch, func(t *testing.T, rc *rawConn, v int16, g string) {
		simpleCommit(ctx, t, rc, e, topicID, g, latest(kmsg.OffsetCommit), map[int32]int64{0: 200 + int64(v)})
		if got := offsetFetch(ctx, t, rc, e, topicID, g, v, false); got[0] != 200+int64(v) || got[1] != -1 {
			t.Errorf("fetched %v, want partition 0 at %d and partition 1 uncommitted (-1)", got, 200+int64(v))
		}
		if v >= 2 { // v2+: null topics fetch everything committed
			if got := offsetFetch(ctx, t, rc, e, topicID, g, v, true); len(got) != 1 || got[0] != 200+int64(v) {
				t.Errorf("fetched all offsets: %v, want only partition 0 at %d", got, 200+int64(v))
			}
		}
	})

	each(kmsg.ListGroups, func(t *testing.T, rc *rawConn, v int16, g string) {
		simpleCommit(ctx, t, rc, e, topicID, g, latest(kmsg.OffsetCommit), map[int32]int64{0: 1})
		resp := rc.do(ctx, t, kmsg.NewPtrListGroupsRequest(), v).(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			t.Fatal(err)
		}
		for _, lg := range resp.Groups {
			if lg.Group == g {
				return
			}
		}
		t.Errorf("a group with committed offsets is not listed")
	})

	each(kmsg.OffsetDelete, func(t *testing.T, rc *rawConn, v int16, g string) {
		simpleCommit(ctx, t, rc, e, topicID, g, latest(kmsg.OffsetCommit), map[int32]int64{0: 5, 1: 6})
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = g
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = e.topic
		rp := kmsg.NewOffsetDeleteRequestTopicPartition()
		rp.Partition = 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rc.do(ctx, t, req, v).(*kmsg.OffsetDeleteResponse)
		err := kerr.ErrorForCode(resp.ErrorCode)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				err = errors.Join(err, kerr.ErrorForCode(p.ErrorCode))
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := offsetFetch(ctx, t, rc, e, topicID, g, latest(kmsg.OffsetFetch), false); got[0] != -1 || got[1] != 6 {
			t.Errorf("after deleting partition 0's offset: %v, want partition 0 uncommitted (-1), partition 1 at 6", got)
		}
	})

	each(kmsg.DeleteGroups, func(t *testing.T, rc *rawConn, v int16, g string) {
		simpleCommit(ctx, t, rc, e, topicID, g, latest(kmsg.OffsetCommit), map[int32]int64{0: 5})
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{g}
		resp := rc.do(ctx, t, req, v).(*kmsg.DeleteGroupsResponse)
		if len(resp.Groups) != 1 || resp.Groups[0].Group != g {
			t.Fatalf("answered for %+v, want %s", resp.Groups, g)
		}
		if err := kerr.ErrorForCode(resp.Groups[0].ErrorCode); err != nil {
			t.Fatal(err)
		}
		if got := offsetFetch(ctx, t, rc, e, topicID, g, latest(kmsg.OffsetFetch), false); got[0] != -1 {
			t.Errorf("after DeleteGroups: %v, want nothing committed", got)
		}
	})
}

// oneMemberGroup takes one member through a group's life at the versions in
// at: join, sync (as the leader, assigning both partitions to itself),
// heartbeat, describe, leave.
func oneMemberGroup(ctx context.Context, t *testing.T, rc *rawConn, e *groupEnv, group string, at map[kmsg.Key]int16) {
	t.Helper()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{e.topic}
	metaBytes := meta.AppendTo(nil)
	assign := kmsg.NewConsumerMemberAssignment()
	at0 := kmsg.NewConsumerMemberAssignmentTopic()
	at0.Topic, at0.Partitions = e.topic, []int32{0, 1}
	assign.Topics = append(assign.Topics, at0)
	assignBytes := assign.AppendTo(nil)

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = group
	join.SessionTimeoutMillis = int32(groupSessionTimeout / time.Millisecond)
	join.RebalanceTimeoutMillis = int32(groupRebalanceTimeout / time.Millisecond)
	join.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", metaBytes
	join.Protocols = append(join.Protocols, p)
	jv := at[kmsg.JoinGroup]
	jr := rc.do(ctx, t, join, jv).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode == kerr.MemberIDRequired.Code {
		// KIP-394: from v4 a new member first gets its ID, then joins
		// with it.
		if jv < 4 || jr.MemberID == "" {
			t.Fatalf("JoinGroup v%d: MEMBER_ID_REQUIRED with member ID %q", jv, jr.MemberID)
		}
		join.MemberID = jr.MemberID
		jr = rc.do(ctx, t, join, jv).(*kmsg.JoinGroupResponse)
	}
	if err := kerr.ErrorForCode(jr.ErrorCode); err != nil {
		t.Fatalf("JoinGroup v%d: %v", jv, err)
	}
	switch {
	case jr.MemberID == "" || jr.LeaderID != jr.MemberID || jr.Generation < 1:
		t.Errorf("JoinGroup v%d: member %q, leader %q, generation %d; want the member to lead generation >= 1", jv, jr.MemberID, jr.LeaderID, jr.Generation)
	case jr.Protocol == nil || *jr.Protocol != "range":
		t.Errorf("JoinGroup v%d: protocol %v, want range", jv, jr.Protocol)
	case jv >= 7 && (jr.ProtocolType == nil || *jr.ProtocolType != "consumer"):
		t.Errorf("JoinGroup v%d: protocol type %v, want consumer", jv, jr.ProtocolType)
	case len(jr.Members) != 1 || jr.Members[0].MemberID != jr.MemberID || !bytes.Equal(jr.Members[0].ProtocolMetadata, metaBytes):
		t.Errorf("JoinGroup v%d: the leader got members %+v, want itself with its metadata", jv, jr.Members)
	}

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = group, jr.Generation, jr.MemberID
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	ga := kmsg.NewSyncGroupRequestGroupAssignment()
	ga.MemberID, ga.MemberAssignment = jr.MemberID, assignBytes
	sync.GroupAssignment = append(sync.GroupAssignment, ga)
	sv := at[kmsg.SyncGroup]
	sr := rc.do(ctx, t, sync, sv).(*kmsg.SyncGroupResponse)
	if err := kerr.ErrorForCode(sr.ErrorCode); err != nil {
		t.Fatalf("SyncGroup v%d: %v", sv, err)
	}
	if !bytes.Equal(sr.MemberAssignment, assignBytes) {
		t.Errorf("SyncGroup v%d: assignment %x, want what the leader assigned, %x", sv, sr.MemberAssignment, assignBytes)
	}

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation, hb.MemberID = group, jr.Generation, jr.MemberID
	hv := at[kmsg.Heartbeat]
	if err := kerr.ErrorForCode(rc.do(ctx, t, hb, hv).(*kmsg.HeartbeatResponse).ErrorCode); err != nil {
		t.Errorf("Heartbeat v%d: %v", hv, err)
	}

	describe := func(v int16) kmsg.DescribeGroupsResponseGroup {
		t.Helper()
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp := rc.do(ctx, t, req, v).(*kmsg.DescribeGroupsResponse)
		if len(resp.Groups) != 1 {
			t.Fatalf("DescribeGroups v%d: %d groups", v, len(resp.Groups))
		}
		d := resp.Groups[0]
		if err := kerr.ErrorForCode(d.ErrorCode); err != nil {
			t.Fatalf("DescribeGroups v%d: %v", v, err)
		}
		return d
	}
	dv := at[kmsg.DescribeGroups]
	d := describe(dv)
	switch {
	case d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range":
		t.Errorf("DescribeGroups v%d: state %q, protocol type %q, protocol %q; want Stable, consumer, range", dv, d.State, d.ProtocolType, d.Protocol)
	case len(d.Members) != 1:
		t.Errorf("DescribeGroups v%d: %d members, want 1", dv, len(d.Members))
	default:
		m := d.Members[0]
		if m.MemberID != jr.MemberID || m.ClientID != "tandem-compat" || m.ClientHost == "" ||
			!bytes.Equal(m.ProtocolMetadata, metaBytes) || !bytes.Equal(m.MemberAssignment, assignBytes) {
			t.Errorf("DescribeGroups v%d: member %q client %q host %q metadata %x assignment %x; want %q, tandem-compat, a host, %x, %x",
				dv, m.MemberID, m.ClientID, m.ClientHost, m.ProtocolMetadata, m.MemberAssignment, jr.MemberID, metaBytes, assignBytes)
		}
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = group, jr.MemberID
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = jr.MemberID
	leave.Members = append(leave.Members, lm)
	lv := at[kmsg.LeaveGroup]
	lr := rc.do(ctx, t, leave, lv).(*kmsg.LeaveGroupResponse)
	err := kerr.ErrorForCode(lr.ErrorCode)
	for _, m := range lr.Members {
		err = errors.Join(err, kerr.ErrorForCode(m.ErrorCode))
	}
	if err != nil {
		t.Errorf("LeaveGroup v%d: %v", lv, err)
	}
	if lv >= 3 && len(lr.Members) != 1 {
		t.Errorf("LeaveGroup v%d: %d member results, want 1", lv, len(lr.Members))
	}
	if d := describe(at[kmsg.DescribeGroups]); d.State != "Empty" || len(d.Members) != 0 {
		t.Errorf("after LeaveGroup v%d: state %q with %d members, want Empty", lv, d.State, len(d.Members))
	}
}

// simpleCommit commits offsets for group as a simple consumer (no
// membership: generation -1) with OffsetCommit at version v.
func simpleCommit(ctx context.Context, t *testing.T, rc *rawConn, e *groupEnv, topicID kadm.TopicID, group string, v int16, offsets map[int32]int64) {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	req.Generation = -1
	req.RetentionTimeMillis = -1 // v2-v4: the broker's retention
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = e.topic, topicID
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Timestamp = p, o, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := rc.do(ctx, t, req, v).(*kmsg.OffsetCommitResponse)
	var err error
	n := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			err = errors.Join(err, kerr.ErrorForCode(p.ErrorCode))
			n++
		}
	}
	if err != nil || n != len(offsets) {
		t.Fatalf("OffsetCommit v%d: %v (%d of %d partitions answered)", v, err, n, len(offsets))
	}
}

// offsetFetch fetches group's committed offsets for partitions 0 and 1 of
// the topic (or, with all, everything the group committed) with OffsetFetch
// at version v. Uncommitted partitions are -1.
func offsetFetch(ctx context.Context, t *testing.T, rc *rawConn, e *groupEnv, topicID kadm.TopicID, group string, v int16, all bool) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	if v <= 7 {
		req.Group = group
		if !all {
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = e.topic, []int32{0, 1}
			req.Topics = append(req.Topics, rt)
		}
	} else {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		if !all {
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.TopicID, rt.Partitions = e.topic, topicID, []int32{0, 1}
			rg.Topics = append(rg.Topics, rt)
		}
		req.Groups = append(req.Groups, rg)
	}
	resp := rc.do(ctx, t, req, v).(*kmsg.OffsetFetchResponse)
	got := make(map[int32]int64)
	add := func(code int16, p int32, o int64) {
		if err := kerr.ErrorForCode(code); err != nil {
			t.Fatalf("OffsetFetch v%d partition %d: %v", v, p, err)
		}
		got[p] = o
	}
	groupErr := kerr.ErrorForCode(resp.ErrorCode)
	if v <= 7 {
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				add(rp.ErrorCode, rp.Partition, rp.Offset)
			}
		}
	} else if len(resp.Groups) == 1 {
		groupErr = kerr.ErrorForCode(resp.Groups[0].ErrorCode)
		for _, rt := range resp.Groups[0].Topics {
			for _, rp := range rt.Partitions {
				add(rp.ErrorCode, rp.Partition, rp.Offset)
			}
		}
	} else {
		t.Fatalf("OffsetFetch v%d: %d groups answered, want 1", v, len(resp.Groups))
	}
	if e.kfake && errors.Is(groupErr, kerr.GroupIDNotFound) {
		// kfake's answer for a group it does not know; Kafka answers
		// with no offsets (see fetchCommitted).
		groupErr = nil
		if !all {
			got[0], got[1] = -1, -1
		}
	}
	if groupErr != nil {
		t.Fatalf("OffsetFetch v%d: %v", v, groupErr)
	}
	return got
}
