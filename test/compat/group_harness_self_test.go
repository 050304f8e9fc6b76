package compat

import (
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupLogCheck checks that groupLog.check catches every kind of
// violation the group tests rely on it to catch, and accepts what clients
// legitimately do.
func TestGroupLogCheck(t *testing.T) {
	acked := make(map[po]string)
	for o := range int64(10) {
		acked[po{0, o}] = groupValue(int(o), 0)
	}
	process := func(l *groupLog, member string, from, to int64) {
		for o := from; o < to; o++ {
			l.deliver(member, 0, o, acked[po{0, o}])
		}
	}
	cases := []struct {
		name  string
		run   func(l *groupLog)
		wants []string // substrings of the violations, in any order; none: clean
	}{
		{"handover", func(l *groupLog) {
			process(l, "a", 0, 5)
			l.commit("a", map[int32]int64{0: 5}, 100)
			l.fetched("b", []int32{0}, false, 200)
			process(l, "b", 5, 10)
		}, nil},
		{"re-delivery of uncommitted records", func(l *groupLog) {
			process(l, "a", 0, 5)
			l.commit("a", map[int32]int64{0: 3}, 100)
			l.fetched("b", nil, true, 200)
			process(l, "b", 3, 10)
		}, nil},
		{"commit after the new owner fetched", func(l *groupLog) {
			process(l, "a", 0, 5)
			l.fetched("b", []int32{0}, false, 100)
			l.commit("a", map[int32]int64{0: 5}, 150)
			process(l, "b", 3, 10)
		}, nil},
		{"re-delivery of committed records", func(l *groupLog) {
			process(l, "a", 0, 5)
			l.commit("a", map[int32]int64{0: 5}, 100)
			l.fetched("b", []int32{0}, false, 200)
			process(l, "b", 3, 10)
		}, []string{"offset 3: consumed again by b although a", "offset 4: consumed again"}},
		{"same member re-delivers committed records", func(l *groupLog) {
			process(l, "a", 0, 5)
			l.commit("a", map[int32]int64{0: 5}, 100)
			l.fetched("a", []int32{0}, false, 200)
			process(l, "a", 4, 10)
		}, []string{"offset 4: consumed again by a although a"}},
		{"re-delivery without a fetch", func(l *groupLog) {
			process(l, "a", 0, 5)
			process(l, "b", 4, 10)
		}, []string{"which sent no OffsetFetch"}},
		{"re-delivery after a member without commit reports", func(l *groupLog) {
			l.addMember("kcat", false)
			process(l, "kcat", 0, 5)
			l.fetched("b", []int32{0}, false, 200)
			process(l, "b", 4, 10)
		}, []string{"does not report commits"}},
		{"lost", func(l *groupLog) {
			process(l, "a", 0, 4)
			process(l, "a", 5, 10)
		}, []string{"offset 4 (t000004-p00): acknowledged by the broker, never consumed"}},
		{"unknown", func(l *groupLog) {
			process(l, "a", 0, 10)
			l.deliver("a", 0, 10, "x")
		}, []string{"offset 10: consumed \"x\" by a, but no record"}},
		{"value", func(l *groupLog) {
			process(l, "a", 0, 9)
			l.deliver("a", 0, 9, "x")
		}, []string{"offset 9: a consumed value \"x\""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newGroupLog()
			l.addMember("a", true)
			l.addMember("b", true)
			tc.run(l)
			got := l.check(acked)
			if len(got) != len(tc.wants) {
				t.Fatalf("violations %q, want %d matching %q", got, len(tc.wants), tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("no violation mentions %q: %q", w, got)
				}
			}
		})
	}

	l := newGroupLog()
	l.addMember("a", true)
	l.addMember("b", true)
	l.fetched("a", []int32{0}, false, 50)
	l.fetched("b", []int32{0}, false, 100)
	l.commit("a", map[int32]int64{0: 5}, 150)
	if n := l.lateCommits(); n != 1 {
		t.Errorf("lateCommits = %d, want 1", n)
	}
}

// TestGroupLogDetectsLostCommits runs members against a kfake that
// acknowledges commits without storing them, and checks that the group
// tests notice: the next member re-consumes records whose commit was
// acknowledged. It always runs against kfake, whatever startGroupBroker
// starts: it tests the harness, not the broker.
func TestGroupLogDetectsLostCommits(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(groupSessionTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var (
		mu    sync.Mutex
		lying bool
	)
	c.ControlKey(kmsg.OffsetCommit.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if !lying {
			return nil, nil, false
		}
		commit := req.(*kmsg.OffsetCommitRequest)
		resp := commit.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range commit.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	ctx := groupContext(t)
	e := newGroupEnvAt(ctx, t, c.ListenAddrs()[0], 2)
	gc := groupClient{Client: "franz-go", Strategy: "range", ReportsCommits: true}
	gp := startGroupProducer(ctx, t, e.addr, e.topic, e.partitions, 0)
	a := startMember(t, e, gc, "a")
	_, ends := gp.Acked()
	e.waitCommitted(ctx, t, ends)

	mu.Lock()
	lying = true
	mu.Unlock()
	for range 5 {
		if err := gp.produceTick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	acked, ends := gp.Acked()
	e.waitConsumed(ctx, t, acked)
	poll(ctx, t, "a's commits acknowledged", groupSettle, func() string {
		if last := e.log.lastCommits(); len(last) != len(ends) || last[0] != ends[0] || last[1] != ends[1] {
			return "not yet"
		}
		return ""
	})
	a.Leave(ctx, t)
	startMember(t, e, gc, "b")
	poll(ctx, t, "b re-consumes", groupSettle, func() string {
		if e.log.duplicates() < 2*5 {
			return "not yet"
		}
		return ""
	})
	diffs := e.log.check(acked)
	if len(diffs) == 0 || !strings.Contains(diffs[0], "consumed again by b although a") {
		t.Errorf("check did not report the lost commits: %q", diffs)
	}
}
