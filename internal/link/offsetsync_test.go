package link

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// TestClampFailureKeepsStopPending: a failover whose clamp of consumer
// offsets cannot reach the group coordinator (still loading) stays
// PENDING_STOPPED, says why, and completes — clamped — when the link's
// partition sync retries it.
func TestClampFailureKeepsStopPending(t *testing.T) {
	groups := &fakeGroups{loading: true, state: map[string]string{"g": "Empty"},
		offsets: map[string]map[string]map[int32]int64{"g": {"m": {0: 15, 1: 5}}}}
	c, m := mirrorWithGroups(t, groups, 0)
	res, err := m.AlterMirrors(context.Background(), "l", "failover", []string{"m"}, "", false)
	if err != nil || res[0].Err == nil || !errors.Is(res[0].Err, kerr.CoordinatorLoadInProgress) {
		t.Fatalf("failover while the coordinator loads: %v %+v", err, res)
	}
	if got, _ := c.TopicByName("m"); got.Mirror.State != MirrorPendingStopped || groups.get("g", 0) != 15 {
		t.Fatalf("after a failed clamp: %s, g at %d", got.Mirror.State, groups.get("g", 0))
	}
	groups.mu.Lock()
	groups.loading = false
	groups.mu.Unlock()
	rt := m.runtimeOf("l")
	_ = m.syncPartitions(rt.ctx, rt) // retries pending stops first
	got, _ := c.TopicByName("m")
	if got.Mirror.State != MirrorStopped || groups.get("g", 0) != 10 || groups.get("g", 1) != 5 {
		t.Fatalf("after the retry: %s, g at %d, %d; want STOPPED, 10, 5", got.Mirror.State, groups.get("g", 0), groups.get("g", 1))
	}
}

// TestClampToHighWatermark: a stop clamps committed offsets to what a
// consumer can read, the partition's high watermark, not to its log end
// when records past the high watermark are not durable yet.
func TestClampToHighWatermark(t *testing.T) {
	// Log ends 10 and 20 (storeCluster), high watermarks 7 and 17.
	groups := &fakeGroups{state: map[string]string{"g": "Empty", "h": "Empty"},
		offsets: map[string]map[string]map[int32]int64{"g": {"m": {0: 15, 1: 5}}, "h": {"m": {0: 9, 1: 17}}}}
	_, m := mirrorWithGroups(t, groups, 3)
	m.durableWait = 0 // the fake's high watermarks never reach the log ends
	res, err := m.AlterMirrors(context.Background(), "l", "failover", []string{"m"}, "", false)
	if err != nil || res[0].Err != nil {
		t.Fatalf("failover: %v %+v", err, res)
	}
	for _, w := range []struct {
		group string
		p     int32
		want  int64
	}{{"g", 0, 7}, {"g", 1, 5}, {"h", 0, 7}, {"h", 1, 17}} {
		if got := groups.get(w.group, w.p); got != w.want {
			t.Errorf("%s partition %d at %d, want %d (high watermark %d, log end %d)", w.group, w.p, got, w.want, 10*(w.p+1)-3, 10*(w.p+1))
		}
	}
}

// TestClampWaitsForDurableRecords: a stop whose mirror's last records are
// not durable yet waits until they are (the high watermark reaches the
// log end) and clamps to the end, not below it.
func TestClampWaitsForDurableRecords(t *testing.T) {
	groups := &fakeGroups{state: map[string]string{"g": "Empty"},
		offsets: map[string]map[string]map[int32]int64{"g": {"m": {0: 15, 1: 25}}}}
	c, m := mirrorWithGroups(t, groups, 3)
	c.durableAfter = 2 // the third read finds the records durable
	res, err := m.AlterMirrors(context.Background(), "l", "failover", []string{"m"}, "", false)
	if err != nil || res[0].Err != nil {
		t.Fatalf("failover: %v %+v", err, res)
	}
	if g0, g1 := groups.get("g", 0), groups.get("g", 1); g0 != 10 || g1 != 20 || c.hwReads.Load() < 3 {
		t.Errorf("g at %d, %d after %d high watermark reads; want the log ends 10, 20 after at least 3", g0, g1, c.hwReads.Load())
	}
}

// mirrorWithGroups is an ACTIVE mirror "m" of 2 partitions on the
// unreachable link "l", whose cluster has the given group coordinator and
// high watermarks notDurable behind the log ends, and its manager.
func mirrorWithGroups(t *testing.T, groups *fakeGroups, notDurable int64) (*storeCluster, *Manager) {
	t.Helper()
	store, l := unreachableLink(t)
	c := &storeCluster{Store: store, groups: groups, notDurable: notDurable}
	if _, err := c.CreateMirrorTopic("m", 2, nil, metadata.Mirror{Link: "l", LinkID: l.ID, SourceTopic: "s", State: MirrorActive}); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return c, m
}

// TestCommitGroupsBoundsErrors: a coordinator that fails every commit
// yields a few errors, in group order, and a count of the rest, not one
// error per group.
func TestCommitGroupsBoundsErrors(t *testing.T) {
	m := &Manager{groups: &fakeGroups{failCommits: true}}
	var syncs []groupSync
	for i := range 40 {
		syncs = append(syncs, groupSync{group: fmt.Sprintf("g%02d", i), want: map[int32]localOffset{0: {offset: 1}}})
	}
	errs := m.commitGroups(context.Background(), "m", syncs)
	if len(errs) != maxCommitErrors+1 || !errors.Is(errs[0], kerr.CoordinatorNotAvailable) ||
		!strings.Contains(errs[0].Error(), "group g00 ") || errs[maxCommitErrors].Error() != "and 35 more commits failed" {
		t.Errorf("errors: %v", errs)
	}
}
