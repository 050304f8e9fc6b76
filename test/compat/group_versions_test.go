package compat

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaGoGroupVersions are the versions segmentio/kafka-go's Reader sends
// for its group protocol (conn.go: fixed versions, JoinGroup negotiated
// between v1 and v2). KIP-896 removed JoinGroup v0-v1 in Kafka 4.0.0 and
// restored them in 4.0.1 (KAFKA-19444) because such clients broke.
var kafkaGoGroupVersions = map[kmsg.Key][]int16{
	kmsg.FindCoordinator: {0},
	kmsg.JoinGroup:       {1, 2},
	kmsg.SyncGroup:       {0},
	kmsg.Heartbeat:       {0},
	kmsg.LeaveGroup:      {0},
	kmsg.OffsetCommit:    {2},
	kmsg.OffsetFetch:     {1},
}

// TestGroupOldVersions runs kafka-go's Reader with a GroupID, which speaks
// the group protocol at the old versions in kafkaGoGroupVersions, and
// checks on the wire that it did: it joins, heartbeats, consumes and
// commits everything, leaves; a second Reader in the same group resumes at
// the committed offsets.
func TestGroupOldVersions(t *testing.T) {
	const ticks = 10 // records per partition per reader
	ctx := groupContext(t)
	e := newGroupEnv(ctx, t, 3)
	gp := startGroupProducer(ctx, t, e.addr, e.topic, e.partitions, 0)
	for range ticks - 1 {
		if err := gp.produceTick(ctx); err != nil {
			t.Fatalf("producing: %v", err)
		}
	}

	var (
		mu   sync.Mutex
		sent = make(map[kmsg.Key]map[int16]bool)
	)
	sn := &requestSniffer{onRequest: func(key, version int16, _ kmsg.Request) {
		mu.Lock()
		defer mu.Unlock()
		k := kmsg.Key(key)
		if sent[k] == nil {
			sent[k] = make(map[int16]bool)
		}
		sent[k][version] = true
	}}
	sentKey := func(k kmsg.Key) []int16 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(maps.Keys(sent[k]))
	}

	read := func(name string, dialer *kafka.Dialer) {
		t.Helper()
		e.log.addMember(name, true)
		r := kafka.NewReader(kafkaGoGroupConfig(memberSpec{Addr: e.addr, Topic: e.topic, Group: e.group, Name: name}, nil, dialer))
		closed := false
		defer func() {
			if !closed {
				r.Close()
			}
		}()
		acked, ends := gp.Acked()
		for e.log.missing(acked) > 0 {
			fctx, cancel := context.WithTimeout(ctx, groupSettle)
			m, err := r.FetchMessage(fctx)
			cancel()
			if err != nil {
				t.Fatalf("%s: FetchMessage: %v (%d of %d records not consumed)", name, err, e.log.missing(acked), len(acked))
			}
			e.log.deliver(name, int32(m.Partition), m.Offset, string(m.Value))
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatalf("%s: CommitMessages: %v", name, err)
			}
			e.log.commit(name, map[int32]int64{int32(m.Partition): m.Offset + 1}, time.Now().UnixNano())
		}
		e.waitCommitted(ctx, t, ends)
		e.waitAssigned(ctx, t, name, []string{name}, int(e.partitions), groupSettle)
		if dialer.DialFunc != nil {
			poll(ctx, t, name+" heartbeats", 3*groupHeartbeatInterval, func() string {
				if len(sentKey(kmsg.Heartbeat)) == 0 {
					return "no Heartbeat sent"
				}
				return ""
			})
		}
		closed = true
		if err := r.Close(); err != nil {
			t.Fatalf("%s: Close: %v", name, err)
		}
		e.waitEmpty(ctx, t)
	}

	read("kafka-go-1", &kafka.Dialer{ClientID: "kafka-go-1", Timeout: 10 * time.Second, DialFunc: sn.dialContext})
	var seen []string
	for _, k := range slices.Sorted(maps.Keys(kafkaGoGroupVersions)) {
		got, want := sentKey(k), kafkaGoGroupVersions[k]
		seen = append(seen, fmt.Sprintf("%s v%v", k.Name(), got))
		switch {
		case len(got) == 0:
			t.Errorf("kafka-go sent no %s (expected v%v)", k.Name(), want)
		case slices.ContainsFunc(got, func(v int16) bool { return !slices.Contains(want, v) }):
			t.Errorf("kafka-go sent %s v%v, expected only v%v: the test no longer covers what it says", k.Name(), got, want)
		}
	}
	t.Logf("kafka-go's Reader sent: %s", strings.Join(seen, ", "))

	// A second Reader resumes where the first committed.
	for range ticks {
		if err := gp.produceTick(ctx); err != nil {
			t.Fatalf("producing: %v", err)
		}
	}
	read("kafka-go-2", &kafka.Dialer{ClientID: "kafka-go-2", Timeout: 10 * time.Second})
	first := e.log.firstOffsets("kafka-go-2")
	for p := range e.partitions {
		if first[p] != ticks {
			t.Errorf("second reader started partition %d at %d, want %d, the committed offset", p, first[p], ticks)
		}
	}
	acked, _ := gp.Acked()
	e.reportLog(t, acked)
	if n := e.log.duplicates(); n > 0 {
		t.Errorf("%d records consumed twice", n)
	}
}
