package link

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// TestSourceOffsetFetchCoordinatorMoved: the sync fetches the source's
// offsets from the groups' coordinators, which it caches; a group whose
// coordinator answers NOT_COORDINATOR is looked up again and fetched
// again in the same round, and the round succeeds.
func TestSourceOffsetFetchCoordinatorMoved(t *testing.T) {
	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var offs kadm.Offsets
	offs.AddOffset("s", 0, 4, -1)
	offs.AddOffset("s", 1, 5, -1)
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}

	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := map[string]string{"bootstrap.servers": src.ListenAddrs()[0], "topic.config.sync.ms": "3600000",
		"availability.check.ms": "3600000", "consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": "3600000",
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"*"}]}`}
	if err := store.CreateLink(metadata.Link{Name: "l", Configs: cfg}); err != nil {
		t.Fatal(err)
	}
	// Log ends 10 and 20: the source's offsets are copied as they are.
	groups := &fakeGroups{state: map[string]string{"g": "Empty"},
		offsets: map[string]map[string]map[int32]int64{"g": {"s": {}}}}
	c := &storeCluster{Store: store, groups: groups}
	m, err := NewManager(store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.CreateMirror(ctx, "l", "s", "", nil, false); err != nil {
		t.Fatal(err)
	}
	if mt, _ := c.TopicByName("s"); mt.Mirror.SourceTopicID == ([16]byte{}) {
		t.Fatal("the mirror did not record its source topic's ID")
	}

	var finds, moved atomic.Int32
	src.ControlKey(kmsg.FindCoordinator.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		src.KeepControl()
		finds.Add(1)
		return nil, nil, false
	})
	src.ControlKey(kmsg.OffsetFetch.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		moved.Add(1)
		req := kreq.(*kmsg.OffsetFetchRequest)
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		for _, g := range req.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, kerr.NotCoordinator.Code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true // once: the control is dropped after it
	})
	if err := m.SyncConsumerOffsets(ctx, "l"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if g0, g1 := groups.get2("g", "s", 0), groups.get2("g", "s", 1); g0 != 4 || g1 != 5 {
		t.Errorf("g at %d, %d; want 4, 5", g0, g1)
	}
	if moved.Load() != 1 || finds.Load() != 2 {
		t.Errorf("%d NOT_COORDINATOR answers, %d FindCoordinator requests; want 1 and 2 (the group looked up again)", moved.Load(), finds.Load())
	}
	// The next round asks no FindCoordinator: the coordinator is cached.
	if err := m.SyncConsumerOffsets(ctx, "l"); err != nil || finds.Load() != 2 {
		t.Errorf("second round: %v, %d FindCoordinator requests in all", err, finds.Load())
	}
}
