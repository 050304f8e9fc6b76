package link

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// TestClampFailureKeepsStopPending: a failover whose clamp of consumer
// offsets cannot reach the group coordinator (still loading) stays
// PENDING_STOPPED, says why, and completes — clamped — when the link's
// partition sync retries it.
func TestClampFailureKeepsStopPending(t *testing.T) {
	store, l := unreachableLink(t)
	groups := &fakeGroups{loading: true, state: map[string]string{"g": "Empty"},
		offsets: map[string]map[string]map[int32]int64{"g": {"m": {0: 15, 1: 5}}}}
	c := &storeCluster{Store: store, groups: groups}
	if _, err := c.CreateMirrorTopic("m", 2, nil, metadata.Mirror{Link: "l", LinkID: l.ID, SourceTopic: "s", State: MirrorActive}); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
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
