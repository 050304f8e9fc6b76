package compat

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Consumer-group interoperability (classic protocol), broker-agnostic like
// the rest of the suite; startGroupBroker (group_harness_test.go) says which
// broker runs:
//
//	TestGroupChurn/<client>/<assignor>   three members join and leave
//	TestGroupCrossClient                 one group, consumed by each client in turn
//	TestGroupOldVersions                 kafka-go's v0/v1/v2 group requests (group_versions_test.go)
//	TestGroupAPIVersions/<API>/v<N>      every advertised version of every group API (group_sweep_test.go)
//	TestGroupDescribe                    DescribeGroups, ListGroups, lag, OffsetDelete,
//	                                     DeleteGroups, with kadm and librdkafka (group_admin_test.go)
//	TestGroupLog*                        the harness's own checks (group_harness_self_test.go)
//
// Members run in processes of their own (group_member_test.go), so a kill
// is SIGKILL. The tests skip when the broker does not advertise the group
// APIs (requireGroups).

// groupChurnClients are the clients and assignors TestGroupChurn runs.
var groupChurnClients = []groupClient{
	{Name: "franz-go/cooperative-sticky", Client: "franz-go", Strategy: "cooperative-sticky", ReportsCommits: true},
	{Name: "franz-go/range", Client: "franz-go", Strategy: "range", ReportsCommits: true},
	{Name: "sarama-v2.8.0.0/range", Client: "sarama", Strategy: "range", ReportsCommits: true},
	{Name: "sarama-v2.8.0.0/sticky", Client: "sarama", Strategy: "sticky", ReportsCommits: true},
	{Name: "kafka-go/range", Client: "kafka-go", Strategy: "range", ReportsCommits: true},
	{Name: "confluent/range", Client: "confluent", Strategy: "range", ReportsCommits: true},
	{Name: "confluent/cooperative-sticky", Client: "confluent", Strategy: "cooperative-sticky", ReportsCommits: true},
	// librdkafka 2.0.2's default assignors, "range,roundrobin": range.
	{Name: "kcat/range", Client: "kcat", Strategy: "", ReportsCommits: false},
}

const (
	churnPartitions = 12
	// churnProduceInterval: one record per partition per interval while
	// the members come and go.
	churnProduceInterval = 100 * time.Millisecond
	// groupTestTimeout bounds one group test.
	groupTestTimeout = 3 * time.Minute
)

func groupContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), groupTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newGroupEnv starts a broker (skipping the test if it serves no groups),
// creates a topic and names a group after the test.
func newGroupEnv(ctx context.Context, t *testing.T, partitions int32) *groupEnv {
	t.Helper()
	return newGroupEnvAt(ctx, t, startGroupBroker(t), partitions)
}

func newGroupEnvAt(ctx context.Context, t *testing.T, addr string, partitions int32) *groupEnv {
	t.Helper()
	requireGroups(ctx, t, addr)
	topic := createTopic(ctx, t, addr, partitions)
	adm := newAdmin(t, addr)
	return &groupEnv{
		addr:       addr,
		topic:      topic,
		group:      "group-" + topic,
		partitions: partitions,
		adm:        adm,
		log:        newGroupLog(),
		kfake:      isKfake(ctx, t, adm),
	}
}

// TestGroupChurn runs, for each client and assignor, a group over a
// 12-partition topic while a producer keeps writing: one member, then three,
// then one leaves gracefully (LeaveGroup: it must be gone at once), then one
// is killed (its session must expire). After each change the group must
// settle with an even assignment (12; 4/4/4; 6/6; 12) that every member
// agrees with, and each partition's owner must consume what is produced
// next. At the end every record was consumed, the group's committed offsets
// are the end offsets and the last commits acknowledged, and a record was
// consumed twice only if the member that consumed it first had not yet
// committed past it (groupLog.check).
//
// Members commit manually, after processing. kcat cannot (it auto-commits),
// so for kcat the producer pauses before each change until everything is
// consumed and committed, and no record may be consumed twice.
func TestGroupChurn(t *testing.T) {
	for _, gc := range groupChurnClients {
		t.Run(gc.Name, func(t *testing.T) {
			t.Parallel()
			groupChurn(t, gc)
		})
	}
}

func groupChurn(t *testing.T, gc groupClient) {
	ctx := groupContext(t)
	if gc.Client == "kcat" {
		kcatBinary(t)
	}
	e := newGroupEnv(ctx, t, churnPartitions)
	gp := startGroupProducer(ctx, t, e.addr, e.topic, e.partitions, churnProduceInterval)
	quiesce := !gc.ReportsCommits

	// change makes a membership change; without commit reports, only once
	// everything produced is consumed and committed. settled waits for the
	// new assignment, then resumes producing and waits for the owners to
	// consume.
	change := func(fn func()) {
		if quiesce {
			gp.Pause()
			acked, ends := gp.Acked()
			e.waitConsumed(ctx, t, acked)
			e.waitCommitted(ctx, t, ends)
		}
		fn()
	}
	settled := func(what string, names []string, bound time.Duration) {
		t.Helper()
		owners := e.waitAssigned(ctx, t, what, names, int(e.partitions)/len(names), bound)
		tick := gp.Resume()
		e.waitOwnersConsume(ctx, t, what, owners, tick)
	}

	m1 := startMember(t, e, gc, "m1")
	settled("m1 joined", []string{"m1"}, groupInitialRebalanceDelay+groupSettle)

	var m2, m3 *member
	change(func() {
		m2 = startMember(t, e, gc, "m2")
		m3 = startMember(t, e, gc, "m3")
	})
	settled("m2 and m3 joined", []string{"m1", "m2", "m3"}, groupSettle)

	// A member that leaves gracefully sends LeaveGroup: the coordinator
	// removes it at once instead of waiting for its session to expire.
	change(func() { m2.Leave(ctx, t) })
	took := e.waitGone(ctx, t, "m2 left: removed from the group", "m2", groupSessionTimeout/2)
	t.Logf("m2 left: removed after %v", took.Round(time.Millisecond))
	settled("m2 left", []string{"m1", "m3"}, groupSettle)

	// A killed member sends nothing: only its session expiring removes it,
	// not its connections closing.
	change(func() { m3.Kill(t) })
	took = e.waitGone(ctx, t, "m3 killed: session expired", "m3", groupSessionTimeout+groupSettle)
	if took < groupSessionTimeout/2 {
		t.Errorf("m3 killed: removed from the group after %v, before its session (%v) could expire", took, groupSessionTimeout)
	}
	t.Logf("m3 killed: removed after %v", took.Round(time.Millisecond))
	settled("m3 killed", []string{"m1"}, groupSettle)

	if err := gp.Stop(); err != nil {
		t.Fatalf("producer: %v", err)
	}
	acked, ends := gp.Acked()
	e.waitConsumed(ctx, t, acked)
	e.waitCommitted(ctx, t, ends)
	if gc.ReportsCommits {
		if last := e.log.lastCommits(); !maps.Equal(last, ends) {
			t.Errorf("last commits acknowledged %v, want the end offsets %v", last, ends)
		}
	}
	m1.Leave(ctx, t)
	e.waitEmpty(ctx, t)
	if got, err := e.fetchCommitted(ctx); err != nil {
		t.Errorf("OffsetFetch after the last member left: %v", err)
	} else if !maps.Equal(got, ends) {
		t.Errorf("committed offsets after the last member left: %v, want %v", got, ends)
	}
	e.reportLog(t, acked)
	t.Logf("%d records over %d partitions, %d consumed again, %d commits acknowledged after another member took the partition over",
		len(acked), e.partitions, e.log.duplicates(), e.log.lateCommits())
}

// TestGroupCrossClient consumes one group with each client in turn: each
// joins the empty group alone, must start exactly at the offsets the
// previous client committed (no record consumed twice, none skipped),
// consumes a new batch, commits it and leaves. Assignors differ from step
// to step; the group is empty in between, so each step picks its own.
func TestGroupCrossClient(t *testing.T) {
	const (
		partitions = 6
		batchTicks = 5 // records per partition per step
	)
	chain := []groupClient{
		{Name: "franz-go", Client: "franz-go", Strategy: "cooperative-sticky", ReportsCommits: true},
		{Name: "sarama", Client: "sarama", Strategy: "range", ReportsCommits: true},
		{Name: "kafka-go", Client: "kafka-go", Strategy: "range", ReportsCommits: true},
		{Name: "confluent", Client: "confluent", Strategy: "cooperative-sticky", ReportsCommits: true},
		{Name: "kcat", Client: "kcat", ReportsCommits: false},
		{Name: "franz-go-range", Client: "franz-go", Strategy: "range", ReportsCommits: true},
	}
	ctx := groupContext(t)
	e := newGroupEnv(ctx, t, partitions)
	gp := startGroupProducer(ctx, t, e.addr, e.topic, e.partitions, 0)
	for i, gc := range chain {
		if gc.Client == "kcat" && !haveKcat(t) {
			continue
		}
		before, err := e.fetchCommitted(ctx)
		if err != nil {
			t.Fatalf("step %d (%s): OffsetFetch: %v", i, gc.Name, err)
		}
		for range batchTicks {
			if err := gp.produceTick(ctx); err != nil {
				t.Fatalf("producing: %v", err)
			}
		}
		acked, ends := gp.Acked()
		name := fmt.Sprintf("%d-%s", i, gc.Name)
		m := startMember(t, e, gc, name)
		e.waitAssigned(ctx, t, name+" joined", []string{name}, partitions, groupInitialRebalanceDelay+groupSettle)
		e.waitConsumed(ctx, t, acked)
		e.waitCommitted(ctx, t, ends)
		m.Leave(ctx, t)
		e.waitEmpty(ctx, t)

		first := e.log.firstOffsets(name)
		for p := range int32(partitions) {
			want := before[p] // 0 before any commit
			if got, ok := first[p]; !ok || got != want {
				t.Errorf("%s: first consumed offset of partition %d is %d (consumed: %v), want %d, the committed offset", name, p, got, ok, want)
			}
		}
	}
	acked, _ := gp.Acked()
	e.reportLog(t, acked)
	if n := e.log.duplicates(); n > 0 {
		t.Errorf("%d records consumed more than once; every client committed everything before leaving", n)
	}
}

// haveKcat reports whether kcat is on PATH. Without it a step is skipped,
// except under CI, where kcatBinary fails the test.
func haveKcat(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		if os.Getenv("CI") == "true" {
			kcatBinary(t)
		}
		t.Logf("kcat not on PATH: skipping its step")
		return false
	}
	return true
}
