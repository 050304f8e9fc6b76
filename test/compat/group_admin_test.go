package compat

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// inprocMember is a franz-go group member in the test process, consuming
// without committing; the test commits for it.
type inprocMember struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	consumed map[int32]int64 // next offset to consume, per partition
}

func startInprocMember(t *testing.T, e *groupEnv, name string) *inprocMember {
	t.Helper()
	m := &inprocMember{name: name, done: make(chan struct{}), consumed: make(map[int32]int64)}
	cl, err := kgo.NewClient(append(kgoMemberOpts(memberSpec{Addr: e.addr, Topic: e.topic, Group: e.group, Name: name}),
		kgo.Balancers(kgo.RangeBalancer()))...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			m.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { m.consumed[r.Partition] = r.Offset + 1 })
			m.mu.Unlock()
		}
	}()
	t.Cleanup(m.Stop)
	return m
}

func (m *inprocMember) next(p int32) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.consumed[p]
}

// Stop stops polling and closes the client, which leaves the group
// (idempotent).
func (m *inprocMember) Stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.cl.Close()
	m.cancel = nil
}

// commit commits offset for p as this member, retrying while the group is
// rebalancing.
func (m *inprocMember) commit(ctx context.Context, t *testing.T, topic string, p int32, offset int64) {
	t.Helper()
	poll(ctx, t, fmt.Sprintf("%s commits %d for partition %d", m.name, offset, p), groupSettle, func() string {
		var cerr error
		m.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: {p: {Epoch: -1, Offset: offset}}},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				if err != nil {
					cerr = err
					return
				}
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
							cerr = err
						}
					}
				}
			})
		if cerr != nil {
			return cerr.Error()
		}
		return ""
	})
}

// TestGroupDescribe checks what administration tools see of a group:
// DescribeGroups (state, protocol, members with client IDs, hosts,
// subscriptions and assignments), ListGroups (with state filters),
// OffsetFetch and lag (produced − committed), with kadm and with librdkafka's
// admin API; then OffsetDelete and DeleteGroups, which a group with members
// refuses (GROUP_SUBSCRIBED_TO_TOPIC, NON_EMPTY_GROUP) and an empty one
// accepts.
func TestGroupDescribe(t *testing.T) {
	ctx := groupContext(t)
	e := newGroupEnv(ctx, t, 4)
	requireGroups(ctx, t, e.addr, groupAdminAPIs...)
	produced := map[int32]int64{0: 10, 1: 20, 2: 5, 3: 8}
	var recs []*kgo.Record
	for p, n := range produced {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: e.topic, Partition: p, Value: fmt.Appendf(nil, "v-%d-%d", p, i)})
		}
	}
	if err := newKgo(t, e.addr, kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	names := []string{"describe-a", "describe-b"}
	members := map[string]*inprocMember{}
	for _, n := range names {
		members[n] = startInprocMember(t, e, n)
	}
	owners := e.waitAssigned(ctx, t, "two members", names, 2, groupInitialRebalanceDelay+groupSettle)
	poll(ctx, t, "members consume their partitions", groupSettle, func() string {
		for p, n := range produced {
			if got := members[owners[p]].next(p); got != n {
				return fmt.Sprintf("%s consumed partition %d up to %d of %d", owners[p], p, got, n)
			}
		}
		return ""
	})
	// Partition 3 stays uncommitted.
	committed := map[int32]int64{0: 7, 1: 20, 2: 1}
	for p, o := range committed {
		members[owners[p]].commit(ctx, t, e.topic, p, o)
	}

	t.Run("DescribeGroups", func(t *testing.T) {
		d, err := describeGroup(ctx, e.adm, e.group)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" {
			t.Errorf("state %q, protocol type %q, protocol %q; want Stable, consumer, range", d.State, d.ProtocolType, d.Protocol)
		}
		ids := map[string]bool{}
		for _, m := range d.Members {
			if m.MemberID == "" || ids[m.MemberID] {
				t.Errorf("member %s: member ID %q empty or repeated", m.ClientID, m.MemberID)
			}
			ids[m.MemberID] = true
			if m.ClientHost == "" {
				t.Errorf("member %s: no client host", m.ClientID)
			}
			meta, ok := m.Join.AsConsumer()
			if !ok || !slices.Contains(meta.Topics, e.topic) {
				t.Errorf("member %s: subscription %+v (consumer protocol: %v), want topic %s", m.ClientID, meta, ok, e.topic)
			}
		}
	})

	t.Run("ListGroups", func(t *testing.T) {
		all, err := e.adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := all[e.group]
		if !ok {
			t.Fatalf("group %s not listed (got %v)", e.group, all.Groups())
		}
		if g.ProtocolType != "consumer" || g.State != "Stable" {
			t.Errorf("listed with protocol type %q, state %q; want consumer, Stable", g.ProtocolType, g.State)
		}
		if stable, err := e.adm.ListGroups(ctx, "Stable"); err != nil || !slices.Contains(stable.Groups(), e.group) {
			t.Errorf("ListGroups(Stable): %v, %v; want the group", stable.Groups(), err)
		}
		if empty, err := e.adm.ListGroups(ctx, "Empty"); err != nil || slices.Contains(empty.Groups(), e.group) {
			t.Errorf("ListGroups(Empty): %v, %v; want no such group", empty.Groups(), err)
		}
	})

	checkCommitted := func(t *testing.T, want map[int32]int64) {
		t.Helper()
		got, err := e.fetchCommitted(ctx)
		if err != nil {
			t.Fatalf("OffsetFetch: %v", err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("committed offsets %v, want %v", got, want)
		}
	}
	checkLag := func(t *testing.T, state string, withMembers bool) {
		t.Helper()
		lags, err := e.adm.Lag(ctx, e.group)
		if err != nil {
			t.Fatalf("Lag: %v", err)
		}
		l, ok := lags[e.group]
		if !ok || l.Error() != nil {
			t.Fatalf("Lag: %v (found %v)", l.Error(), ok)
		}
		if l.State != state {
			t.Errorf("Lag: state %s, want %s", l.State, state)
		}
		for p, end := range produced {
			ml, ok := l.Lag.Lookup(e.topic, p)
			if !ok {
				t.Errorf("Lag: partition %d missing", p)
				continue
			}
			commit, isCommitted := committed[p]
			want := end - commit // lag from the commit, or from the log start (0)
			if !isCommitted {
				commit = -1
			}
			if ml.Err != nil || ml.Lag != want || ml.End.Offset != end || ml.Commit.At != commit {
				t.Errorf("Lag partition %d: lag %d (end %d, commit %d, err %v), want %d (end %d, commit %d)", p, ml.Lag, ml.End.Offset, ml.Commit.At, ml.Err, want, end, commit)
			}
			switch {
			case withMembers && (ml.Member == nil || ml.Member.ClientID != owners[p]):
				t.Errorf("Lag partition %d: member %+v, want %s", p, ml.Member, owners[p])
			case !withMembers && ml.Member != nil:
				t.Errorf("Lag partition %d: member %s in an empty group", p, ml.Member.ClientID)
			}
		}
	}
	t.Run("OffsetFetch", func(t *testing.T) { checkCommitted(t, committed) })
	t.Run("Lag", func(t *testing.T) { checkLag(t, "Stable", true) })
	t.Run("librdkafka", func(t *testing.T) { librdkafkaDescribe(ctx, t, e, owners, committed) })

	t.Run("refused-while-active", func(t *testing.T) {
		del, err := e.adm.DeleteOffsets(ctx, e.group, kadm.TopicsSet{e.topic: {0: {}}})
		if err != nil {
			t.Fatalf("DeleteOffsets: %v", err)
		}
		if err, _ := del.Lookup(e.topic, 0); !errors.Is(err, kerr.GroupSubscribedToTopic) {
			t.Errorf("OffsetDelete of a subscribed topic in a Stable group: %v, want %v", err, kerr.GroupSubscribedToTopic)
		}
		resp, err := e.adm.DeleteGroup(ctx, e.group)
		if err == nil {
			err = resp.Err
		}
		if !errors.Is(err, kerr.NonEmptyGroup) {
			t.Errorf("DeleteGroups of a Stable group: %v, want %v", err, kerr.NonEmptyGroup)
		}
		checkCommitted(t, committed)
	})

	for _, m := range members {
		m.Stop()
	}
	e.waitEmpty(ctx, t)
	t.Run("Lag-empty", func(t *testing.T) { checkLag(t, "Empty", false) })

	t.Run("OffsetDelete", func(t *testing.T) {
		del, err := e.adm.DeleteOffsets(ctx, e.group, kadm.TopicsSet{e.topic: {0: {}}})
		if err != nil {
			t.Fatalf("DeleteOffsets: %v", err)
		}
		if err, ok := del.Lookup(e.topic, 0); !ok || err != nil {
			t.Errorf("OffsetDelete in an Empty group: %v (answered: %v)", err, ok)
		}
		checkCommitted(t, map[int32]int64{1: 20, 2: 1})
	})

	t.Run("DeleteGroups", func(t *testing.T) {
		resp, err := e.adm.DeleteGroup(ctx, e.group)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("DeleteGroups of an Empty group: %v", err)
		}
		// Kafka describes a group it does not know as Dead (DescribeGroups
		// v0-v5) or with GROUP_ID_NOT_FOUND (v6+, KIP-1043).
		ds, err := e.adm.DescribeGroups(ctx, e.group)
		if err != nil {
			t.Fatalf("DescribeGroups: %v", err)
		}
		if d := ds[e.group]; !errors.Is(d.Err, kerr.GroupIDNotFound) && (d.Err != nil || d.State != "Dead" || len(d.Members) > 0) {
			t.Errorf("deleted group described as %q with %d members, error %v; want Dead or %v", d.State, len(d.Members), d.Err, kerr.GroupIDNotFound)
		}
		checkCommitted(t, map[int32]int64{})
		if all, err := e.adm.ListGroups(ctx); err != nil || slices.Contains(all.Groups(), e.group) {
			t.Errorf("ListGroups after delete: %v, %v; want no %s", all.Groups(), err, e.group)
		}
		resp, err = e.adm.DeleteGroup(ctx, e.group)
		if err == nil {
			err = resp.Err
		}
		if !errors.Is(err, kerr.GroupIDNotFound) {
			t.Errorf("deleting the deleted group: %v, want %v", err, kerr.GroupIDNotFound)
		}
	})
}

// librdkafkaDescribe checks the group through librdkafka's admin API
// (confluent-kafka-go): ListConsumerGroups, DescribeConsumerGroups and
// ListConsumerGroupOffsets.
func librdkafkaDescribe(ctx context.Context, t *testing.T, e *groupEnv, owners map[int32]string, committed map[int32]int64) {
	adm, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": e.addr, "client.id": "tandem-compat"})
	if err != nil {
		t.Fatalf("NewAdminClient: %v", err)
	}
	defer adm.Close()

	listed, err := adm.ListConsumerGroups(ctx)
	if err != nil || len(listed.Errors) > 0 {
		t.Fatalf("ListConsumerGroups: %v %v", err, listed.Errors)
	}
	found := false
	for _, g := range listed.Valid {
		if g.GroupID == e.group {
			found = true
			if g.State != ckafka.ConsumerGroupStateStable || g.IsSimpleConsumerGroup {
				t.Errorf("ListConsumerGroups: state %v, simple %v; want Stable, not simple", g.State, g.IsSimpleConsumerGroup)
			}
		}
	}
	if !found {
		t.Errorf("ListConsumerGroups: %s not listed", e.group)
	}

	desc, err := adm.DescribeConsumerGroups(ctx, []string{e.group})
	if err != nil || len(desc.ConsumerGroupDescriptions) != 1 {
		t.Fatalf("DescribeConsumerGroups: %v (%d descriptions)", err, len(desc.ConsumerGroupDescriptions))
	}
	d := desc.ConsumerGroupDescriptions[0]
	if d.Error.Code() != ckafka.ErrNoError {
		t.Fatalf("DescribeConsumerGroups: %v", d.Error)
	}
	if d.State != ckafka.ConsumerGroupStateStable || d.PartitionAssignor != "range" || d.IsSimpleConsumerGroup {
		t.Errorf("DescribeConsumerGroups: state %v, assignor %q, simple %v; want Stable, range, not simple", d.State, d.PartitionAssignor, d.IsSimpleConsumerGroup)
	}
	got := make(map[int32]string)
	for _, m := range d.Members {
		for _, tp := range m.Assignment.TopicPartitions {
			if tp.Topic != nil && *tp.Topic == e.topic {
				got[tp.Partition] = m.ClientID
			}
		}
	}
	if !maps.Equal(got, owners) {
		t.Errorf("DescribeConsumerGroups assignment %v, want %v", got, owners)
	}

	var tps []ckafka.TopicPartition
	for p := range e.partitions {
		tps = append(tps, ckafka.TopicPartition{Topic: &e.topic, Partition: p})
	}
	offs, err := adm.ListConsumerGroupOffsets(ctx, []ckafka.ConsumerGroupTopicPartitions{{Group: e.group, Partitions: tps}})
	if err != nil || len(offs.ConsumerGroupsTopicPartitions) != 1 {
		t.Fatalf("ListConsumerGroupOffsets: %v (%d groups)", err, len(offs.ConsumerGroupsTopicPartitions))
	}
	gotOffs := make(map[int32]int64)
	for _, tp := range offs.ConsumerGroupsTopicPartitions[0].Partitions {
		if tp.Error != nil {
			t.Errorf("ListConsumerGroupOffsets partition %d: %v", tp.Partition, tp.Error)
		}
		if tp.Offset >= 0 {
			gotOffs[tp.Partition] = int64(tp.Offset)
		}
	}
	if !maps.Equal(gotOffs, committed) {
		t.Errorf("ListConsumerGroupOffsets: %v, want %v", gotOffs, committed)
	}
}
