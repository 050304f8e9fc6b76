package link

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tandem-streaming/tandem/internal/metadata"
)

// slowCluster is a storeCluster whose mirror creations take a while and
// are counted: how many ran at once at the most.
type slowCluster struct {
	*storeCluster
	delay          time.Duration
	inFlight, peak atomic.Int32
	created        atomic.Int32
}

func (c *slowCluster) CreateMirrorTopic(name string, n int32, configs map[string]string, m metadata.Mirror) (metadata.Topic, error) {
	now := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for p := c.peak.Load(); now > p && !c.peak.CompareAndSwap(p, now); p = c.peak.Load() {
	}
	time.Sleep(c.delay)
	c.created.Add(1)
	return c.storeCluster.CreateMirrorTopic(name, n, configs, m)
}

// TestAutoCreateConcurrent: one run creates many mirrors a few at a time
// (at most autoCreateConcurrency), and still keeps the rules: the
// excluded topic, the topic named with the link's prefix and the names
// taken locally (a mirror made by hand, an ordinary topic) are left
// alone, the last reported as a conflict.
func TestAutoCreateConcurrent(t *testing.T) {
	const n = 30
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("t%d", i))
	}
	src, err := kfake.NewCluster(kfake.SeedTopics(1, append(names, "p.own")...))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := map[string]string{"bootstrap.servers": src.ListenAddrs()[0], "cluster.link.prefix": "p.",
		"topic.config.sync.ms": "3600000", "availability.check.ms": "3600000",
		"auto.create.mirror.topics.enable": "true", "auto.create.mirror.topics.interval.ms": "3600000",
		"auto.create.mirror.topics.filters": `{"topicFilters":[{"name":"*"},{"name":"t3","filterType":"EXCLUDE"}]}`}
	if err := store.CreateLink(metadata.Link{Name: "l", Configs: cfg}); err != nil {
		t.Fatal(err)
	}
	l, _ := store.Link("l")
	c := &slowCluster{storeCluster: &storeCluster{Store: store}, delay: 50 * time.Millisecond}
	if err := store.CreateTopic(metadata.Topic{Name: "p.t0", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.storeCluster.CreateMirrorTopic("p.t1", 1, nil, metadata.Mirror{Link: "l", LinkID: l.ID, SourceTopic: "t1", State: MirrorPaused}); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(store, c, &modeData{mode: map[string]dataPathMode{}}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	st := waitTaskRun(t, m, "l", TaskAutoCreateMirror)
	if want := int32(n - 3); c.created.Load() != want {
		t.Errorf("%d mirrors created, want %d", c.created.Load(), want)
	}
	if p := c.peak.Load(); p < 2 || p > autoCreateConcurrency {
		t.Errorf("at most %d creations at once, want 2 to %d", p, autoCreateConcurrency)
	}
	for i, name := range names {
		got, err := c.TopicByName("p." + name)
		switch {
		case i == 0:
			if err != nil || got.Mirror != nil {
				t.Errorf("the ordinary topic p.t0 was changed: %+v %v", got, err)
			}
		case i == 1:
			if err != nil || got.Mirror == nil || got.Mirror.State != MirrorPaused {
				t.Errorf("the mirror p.t1 made by hand was changed: %+v %v", got, err)
			}
		case i == 3:
			if err == nil {
				t.Error("the excluded t3 was mirrored")
			}
		default:
			if err != nil || got.Mirror == nil || got.Mirror.SourceTopic != name || got.Mirror.State != MirrorActive {
				t.Errorf("p.%s: %+v %v", name, got, err)
			}
		}
	}
	if _, err := c.TopicByName("p.p.own"); err == nil {
		t.Error("p.own, named with the link's prefix, was mirrored")
	}
	if st.State != TaskInError || !strings.Contains(st.ErrorMessage, "p.t0 exists and is not a mirror topic") {
		t.Errorf("task %+v, want IN_ERROR naming the conflict on p.t0", st)
	}
}
