package group

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// manualClock is a Clock that moves only when told.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t.f)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// memLog is a Log in memory; appends become durable on their own
// goroutine, as with a real log's fsync.
type memLog struct {
	mu      sync.Mutex
	records []Record
	fail    error
	// gate, when set, holds Replay until closed.
	gate chan struct{}
}

func (l *memLog) Append(rs []Record, done func(error)) {
	l.mu.Lock()
	err := l.fail
	if err == nil {
		l.records = append(l.records, rs...)
	}
	l.mu.Unlock()
	go done(err)
}

func (l *memLog) Replay(fn func(int64, Record) error) error {
	if l.gate != nil {
		<-l.gate
	}
	l.mu.Lock()
	rs := slices.Clone(l.records)
	l.mu.Unlock()
	for i, r := range rs {
		if err := fn(int64(i), r); err != nil {
			return err
		}
	}
	return nil
}

type allTopics struct{ missing string }

func (a allTopics) PartitionExists(topic string, _ int32) bool { return topic != a.missing }

type rig struct {
	t     *testing.T
	c     *Coordinator
	clock *manualClock
	logs  []*memLog
}

func newRig(t *testing.T, partitions int32, logs []*memLog) *rig {
	cfg := DefaultConfig()
	cfg.NumPartitions = partitions
	if logs == nil {
		for range partitions {
			logs = append(logs, &memLog{})
		}
	}
	r := &rig{t: t, clock: &manualClock{now: epoch}, logs: logs}
	r.c = NewCoordinator(cfg, func(i int32) Log { return logs[i] }, allTopics{missing: "missing"}, r.clock, testLogger(t))
	if err := r.c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.c.Close)
	return r
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// eventually polls cond until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *rig) waitLoaded() {
	r.t.Helper()
	eventually(r.t, "load", func() bool {
		return r.c.ListGroups(ctx(r.t), kmsg.NewPtrListGroupsRequest()).ErrorCode == 0
	})
}

func joinReq(group, member string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID = 9, group, member
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 60000
	req.ProtocolType, req.Protocols = "consumer", protocols("range", "t")
	return req
}

func TestCoordinatorLoadsThenServes(t *testing.T) {
	gate := make(chan struct{})
	r := newRig(t, 1, []*memLog{{gate: gate}})
	cx := WithClientInfo(ctx(t), ClientInfo{ID: "app", Host: "/10.0.0.1"})
	if resp := r.c.JoinGroup(cx, joinReq("g", "")); resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code || resp.Generation != -1 {
		t.Fatalf("%+v", resp)
	}
	if resp := r.c.ListGroups(cx, kmsg.NewPtrListGroupsRequest()); resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("%+v", resp)
	}
	close(gate)
	r.waitLoaded()

	first := r.c.JoinGroup(cx, joinReq("g", ""))
	wantCode(t, "first join", first.ErrorCode, kerr.MemberIDRequired)
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { done <- r.c.JoinGroup(cx, joinReq("g", first.MemberID)) }()
	describe := func() kmsg.DescribeGroupsResponseGroup {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version, req.Groups = 5, []string{"g"}
		return r.c.DescribeGroups(cx, req).Groups[0]
	}
	eventually(t, "member to join", func() bool { return len(describe().Members) == 1 })
	if m := describe().Members[0]; m.ClientID != "app" || m.ClientHost != "/10.0.0.1" {
		t.Fatalf("%+v", m)
	}
	r.clock.Advance(3 * time.Second) // group.initial.rebalance.delay.ms
	jr := <-done
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != first.MemberID {
		t.Fatalf("%+v", jr)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version, sync.Group, sync.MemberID, sync.Generation = 5, "g", first.MemberID, 1
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: first.MemberID, MemberAssignment: []byte("A")}}
	if sr := r.c.SyncGroup(cx, sync); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "A" {
		t.Fatalf("%+v", sr)
	}
	// Commit (one partition does not exist) and fetch back.
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.MemberID, commit.Generation = 8, "g", first.MemberID, 1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{
		{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42, LeaderEpoch: 3}}},
		{Topic: "missing", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}},
	}
	cr := r.c.OffsetCommit(cx, commit)
	if cr.Topics[0].Partitions[0].ErrorCode != 0 || cr.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("%+v", cr)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version, fetch.Group = 5, "g"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	fr := r.c.OffsetFetch(cx, fetch)
	if fr.ErrorCode != 0 || fr.Topics[0].Partitions[0].Offset != 42 || fr.Topics[0].Partitions[0].LeaderEpoch != 3 ||
		fr.Topics[0].Partitions[1].Offset != -1 {
		t.Fatalf("%+v", fr)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "g", first.MemberID, 1
	if resp := r.c.Heartbeat(cx, hb); resp.ErrorCode != 0 {
		t.Fatalf("%+v", resp)
	}
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group = 5, "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: first.MemberID}}
	if resp := r.c.LeaveGroup(cx, leave); resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("%+v", resp)
	}

	// A second coordinator over the same log has the same groups and
	// offsets.
	r2 := newRig(t, 1, []*memLog{{records: slices.Clone(r.logs[0].records)}})
	r2.waitLoaded()
	fr = r2.c.OffsetFetch(cx, fetch)
	if fr.Topics[0].Partitions[0].Offset != 42 {
		t.Fatalf("%+v", fr)
	}
	lg := r2.c.ListGroups(cx, kmsg.NewPtrListGroupsRequest())
	if len(lg.Groups) != 1 || lg.Groups[0].Group != "g" {
		t.Fatalf("%+v", lg)
	}
}

func TestCoordinatorCloseAnswersParkedRequests(t *testing.T) {
	r := newRig(t, 1, nil)
	r.waitLoaded()
	cx := ctx(t)
	req := joinReq("g", "")
	req.Version = 3 // no MEMBER_ID_REQUIRED: the join parks at once
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { done <- r.c.JoinGroup(cx, req) }()
	eventually(t, "join to park", func() bool {
		d := kmsg.NewPtrDescribeGroupsRequest()
		d.Groups = []string{"g"}
		return len(r.c.DescribeGroups(cx, d).Groups[0].Members) == 1
	})
	r.c.Close()
	if resp := <-done; resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("%+v", resp)
	}
	if resp := r.c.Heartbeat(cx, kmsg.NewPtrHeartbeatRequest()); resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("%+v", resp)
	}
}

func TestCoordinatorConnectionGone(t *testing.T) {
	r := newRig(t, 1, nil)
	r.waitLoaded()
	cx, cancel := context.WithCancel(context.Background())
	req := joinReq("g", "")
	req.Version = 3
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { done <- r.c.JoinGroup(cx, req) }()
	cancel()
	if resp := <-done; resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("%+v", resp)
	}
}

func TestCoordinatorFansOutAcrossShards(t *testing.T) {
	r := newRig(t, 8, nil)
	r.waitLoaded()
	cx := ctx(t)
	var groups []string
	shards := map[int32]bool{}
	for i := 0; len(shards) < 4; i++ {
		g := "group-" + string(rune('a'+i))
		groups = append(groups, g)
		shards[r.c.Partition(g)] = true
	}
	for i, g := range groups {
		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.Version, commit.Group, commit.Generation = 9, g, -1
		commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: int64(i), LeaderEpoch: -1}}}}
		if resp := r.c.OffsetCommit(cx, commit); resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("%+v", resp)
		}
	}
	// OffsetFetch v8: many groups, answered in request order.
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 8
	for _, g := range slices.Backward(groups) {
		fetch.Groups = append(fetch.Groups, kmsg.OffsetFetchRequestGroup{Group: g})
	}
	fr := r.c.OffsetFetch(cx, fetch)
	for i, g := range fr.Groups {
		want := len(groups) - 1 - i
		if g.Group != groups[want] || g.Topics[0].Partitions[0].Offset != int64(want) {
			t.Fatalf("group %d: %+v", i, g)
		}
	}
	// v1 with an unknown group: offsets -1, no error.
	fetch1 := kmsg.NewPtrOffsetFetchRequest()
	fetch1.Version, fetch1.Group = 1, "unknown"
	fetch1.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
	if resp := r.c.OffsetFetch(cx, fetch1); resp.Topics[0].Partitions[0].Offset != -1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("%+v", resp)
	}
	lg := r.c.ListGroups(cx, kmsg.NewPtrListGroupsRequest())
	if len(lg.Groups) != len(groups) {
		t.Fatalf("%+v", lg)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = append(slices.Clone(groups), "unknown")
	dr := r.c.DeleteGroups(cx, del)
	for i, g := range dr.Groups {
		want := int16(0)
		if i == len(groups) {
			want = kerr.GroupIDNotFound.Code
		}
		if g.Group != del.Groups[i] || g.ErrorCode != want {
			t.Fatalf("%d: %+v", i, g)
		}
	}
	if lg := r.c.ListGroups(cx, kmsg.NewPtrListGroupsRequest()); len(lg.Groups) != 0 {
		t.Fatalf("%+v", lg)
	}
	if err := r.c.OnTopicsDeleted(cx, []string{"t"}); err != nil {
		t.Fatal(err)
	}
}

func TestCoordinatorFailedLoad(t *testing.T) {
	bad := &memLog{records: []Record{{Key: []byte{0, 1, 0}, Value: []byte{1}}}}
	r := newRig(t, 2, []*memLog{bad, {}})
	cx := ctx(t)
	var g0, g1 string
	for i := 0; g0 == "" || g1 == ""; i++ {
		g := string(rune('a' + i))
		if r.c.Partition(g) == 0 {
			g0 = g
		} else {
			g1 = g
		}
	}
	eventually(t, "loads to finish", func() bool {
		return r.c.Heartbeat(cx, &kmsg.HeartbeatRequest{Group: g0}).ErrorCode == kerr.NotCoordinator.Code &&
			r.c.Heartbeat(cx, &kmsg.HeartbeatRequest{Group: g1}).ErrorCode == kerr.UnknownMemberID.Code
	})
	// The failed shard is skipped by ListGroups, as Kafka skips
	// partitions it does not coordinate.
	if lg := r.c.ListGroups(cx, kmsg.NewPtrListGroupsRequest()); lg.ErrorCode != 0 {
		t.Fatalf("%+v", lg)
	}
	if err := r.c.OnTopicsDeleted(cx, []string{"t"}); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("%v", err)
	}
}

func TestCoordinatorWriteFailure(t *testing.T) {
	l := &memLog{}
	r := newRig(t, 1, []*memLog{l})
	r.waitLoaded()
	l.mu.Lock()
	l.fail = kerr.KafkaStorageError
	l.mu.Unlock()
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 9, "s", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}}}
	if resp := r.c.OffsetCommit(ctx(t), commit); resp.Topics[0].Partitions[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("%+v", resp)
	}
}

func TestNilCoordinatorIsUnavailable(t *testing.T) {
	var c *Coordinator
	cx := ctx(t)
	if r := c.JoinGroup(cx, joinReq("g", "")); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("%+v", r)
	}
	if r := c.ListGroups(cx, kmsg.NewPtrListGroupsRequest()); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("%+v", r)
	}
	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Groups = []string{"g"}
	if r := c.DescribeGroups(cx, d); r.Groups[0].ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("%+v", r)
	}
	c.Close()
}

func TestCoordinatorOffsetDelete(t *testing.T) {
	r := newRig(t, 2, nil)
	r.waitLoaded()
	cx := ctx(t)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 9, "s", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}}}
	r.c.OffsetCommit(cx, commit)
	del := kmsg.NewPtrOffsetDeleteRequest()
	del.Group = "s"
	del.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: "missing", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
	}
	resp := r.c.OffsetDelete(cx, del)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 ||
		resp.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("%+v", resp)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version, fetch.Group = 7, "s"
	if fr := r.c.OffsetFetch(cx, fetch); fr.ErrorCode != 0 || len(fr.Topics) != 0 {
		t.Fatalf("%+v", fr)
	}
}
