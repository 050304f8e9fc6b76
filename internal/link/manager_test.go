package link_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestControlPlaneAgainstRealSource drives the link manager between two
// real brokers: link validation, mirror creation with the source's
// partitions and configs, config and partition sync, pause/resume,
// failover, and the link-deletion guard. (The data path is exercised by
// internal/fetcher and the end-to-end mirror tests.)
func TestControlPlaneAgainstRealSource(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl, err := kgo.NewClient(kgo.SeedBrokers(src.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer scl.Close()
	sadm := kadm.NewClient(scl)
	if _, err := sadm.CreateTopic(ctxT(t), 3, 1, map[string]*string{"retention.ms": kmsg.StringPtr("3600000"), "cleanup.policy": kmsg.StringPtr("compact")}, "orders"); err != nil {
		t.Fatal(err)
	}
	br := dst.Node.Broker()
	data := &fakeData{started: map[string]int{}, status: map[string][]link.PartitionStatus{}}
	m, err := link.NewManager(storeOf(t, dst), br, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	cfg := map[string]string{"bootstrap.servers": src.Addr(), "topic.config.sync.ms": "1000", "cluster.link.prefix": "dr."}
	if err := m.CreateLink(ctxT(t), "dr", "wrong-id", cfg, false, true); !errors.Is(err, link.ErrSourceCluster) {
		t.Fatalf("wrong source cluster id: %v", err)
	}
	if err := m.CreateLink(ctxT(t), "dr", src.Node.ClusterID(), cfg, true, true); err != nil {
		t.Fatalf("validate only: %v", err)
	}
	// The error names what the other cluster is to this kind of half.
	for mode, want := range map[string]string{"DESTINATION": "the source cluster", "SOURCE": "the destination cluster", "BIDIRECTIONAL": "the remote cluster"} {
		bad := map[string]string{"bootstrap.servers": "127.0.0.1:1", "link.mode": mode, "request.timeout.ms": "2000"}
		if err := m.CreateLink(ctxT(t), "nowhere", "", bad, true, true); !errors.Is(err, link.ErrSourceCluster) || !strings.Contains(err.Error(), "cannot reach "+want) {
			t.Errorf("%s half to an unreachable cluster: %v, want it to name %s", mode, err, want)
		}
	}
	if _, err := m.Link("dr"); err == nil {
		t.Fatal("validate_only created the link")
	}
	if err := m.CreateLink(ctxT(t), "dr", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	li, err := m.Link("dr")
	if err != nil || li.Link.SourceClusterID != src.Node.ClusterID() || li.State != link.LinkActive {
		t.Fatalf("link: %+v %v", li, err)
	}
	if err := m.AlterLinkConfigs("dr", map[string]string{"bootstrap.servers": src.Addr(), "cluster.link.prefix": "x."}, false); !errors.Is(err, link.ErrCreateOnly) {
		t.Fatalf("changing the prefix: %v", err)
	}
	// Security configs the link cannot connect with (SASL with Kafka's
	// default mechanism GSSAPI, which Tandem lacks) are refused on update
	// as at creation, and change nothing: the link keeps running.
	ssl := map[string]string{"bootstrap.servers": src.Addr(), "topic.config.sync.ms": "1000", "cluster.link.prefix": "dr.", "security.protocol": "SASL_SSL"}
	for _, validateOnly := range []bool{true, false} {
		if err := m.AlterLinkConfigs("dr", ssl, validateOnly); !errors.Is(err, link.ErrNotSupported) {
			t.Fatalf("security.protocol=SASL_SSL with GSSAPI (validate only %v): %v", validateOnly, err)
		}
	}
	if li, err := m.Link("dr"); err != nil || li.State != link.LinkActive || li.Link.Configs["security.protocol"] != "" {
		t.Fatalf("after a refused update: %+v %v", li, err)
	}

	if err := m.CreateMirror(ctxT(t), "dr", "orders", "orders", nil, false); !errors.Is(err, link.ErrMirrorName) {
		t.Fatalf("mirror without the prefix: %v", err)
	}
	if err := m.CreateMirror(ctxT(t), "dr", "nope", "", nil, false); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("missing source topic: %v", err)
	}
	if err := m.CreateMirror(ctxT(t), "dr", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	mt, err := br.TopicByName("dr.orders")
	if err != nil || mt.Partitions != 3 || mt.Mirror == nil || mt.Mirror.State != link.MirrorActive ||
		mt.Configs["retention.ms"] != "3600000" || mt.Configs["cleanup.policy"] != "compact" {
		t.Fatalf("mirror topic: %+v %v", mt, err)
	}
	if err := m.CreateMirror(ctxT(t), "dr", "orders", "", nil, false); !errors.Is(err, metadata.ErrTopicExists) {
		t.Fatalf("mirror twice: %v", err)
	}

	// Config and partition changes at the source reach the mirror.
	if r, err := sadm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("7200000")}}, "orders"); err != nil || r[0].Err != nil {
		t.Fatal(err, r)
	}
	if _, err := sadm.CreatePartitions(ctxT(t), 2, "orders"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		mt, _ := br.TopicByName("dr.orders")
		return mt.Configs["retention.ms"] == "7200000" && mt.Partitions == 5
	})

	if data.startedCount("dr.orders") == 0 {
		t.Fatal("the data path was not started for the new mirror")
	}
	// Promote is refused while the mirror lags the source.
	sp, _ := kgo.NewClient(kgo.SeedBrokers(src.Addr()), kgo.DefaultProduceTopic("orders"))
	defer sp.Close()
	if err := sp.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if res, _ := m.AlterMirrors(ctxT(t), "dr", "promote", []string{"dr.orders"}, "", false); !errors.Is(res[0].Err, link.ErrPromoteNotReady) {
		t.Fatalf("promote while lagging: %v", res[0].Err)
	} else if msg := res[0].Err.Error(); !strings.HasPrefix(msg, "cannot promote mirror topic 'dr.orders': it has not caught up with its source on partitions ") ||
		!strings.Contains(msg, "(lag 1)") || !strings.Contains(msg, "use failover to stop now") {
		t.Errorf("promote while lagging: %q does not name the mirror, the lagging partition and the fix", msg)
	}
	// Pause, resume, then failover makes it an ordinary topic.
	res, err := m.AlterMirrors(ctxT(t), "dr", "pause", []string{"dr.orders", "missing"}, "", false)
	if err != nil || len(res) != 2 || res[0].Err != nil || res[1].Err == nil || res[0].Info.State != link.MirrorPaused {
		t.Fatalf("pause: %+v %v", res, err)
	}
	if res, _ := m.AlterMirrors(ctxT(t), "dr", "resume", nil, `dr\..*`, false); len(res) != 1 || res[0].Err != nil || res[0].Info.State != link.MirrorActive {
		t.Fatalf("resume by pattern: %+v", res)
	}
	if err := m.DeleteLink("dr", false, false); !errors.Is(err, link.ErrLinkInUse) {
		t.Fatalf("delete with active mirrors: %v", err)
	}
	if res, _ := m.AlterMirrors(ctxT(t), "dr", "failover", []string{"dr.orders"}, "", false); res[0].Err != nil {
		t.Fatalf("failover: %v", res[0].Err)
	}
	mt, _ = br.TopicByName("dr.orders")
	if mt.Mirror.State != link.MirrorStopped {
		t.Fatalf("after failover: %+v", mt.Mirror)
	}
	dcl, _ := kgo.NewClient(kgo.SeedBrokers(dst.Addr()), kgo.DefaultProduceTopic("dr.orders"))
	defer dcl.Close()
	if err := dcl.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce after failover: %v", err)
	}
	if res, _ := m.AlterMirrors(ctxT(t), "dr", "pause", []string{"dr.orders"}, "", false); !errors.Is(res[0].Err, link.ErrMirrorState) {
		t.Fatalf("pause a stopped mirror: %v", res[0].Err)
	}
	if err := m.DeleteLink("dr", false, false); err != nil {
		t.Fatalf("delete after failover: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func storeOf(t *testing.T, b *tandemtest.Broker) metadata.Store { return b.Node.Store() }

// fakeData stands in for the fetcher: it records what the manager asks and
// reports every partition at offset 0.
type fakeData struct {
	mu      sync.Mutex // the manager calls from its sync goroutine too
	started map[string]int
	status  map[string][]link.PartitionStatus
	// failing, when set, is reported for every partition, erroring since
	// an hour ago.
	failing error
}

func (f *fakeData) startedCount(topic string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started[topic]
}

func (f *fakeData) Start(_ metadata.Link, t metadata.Topic, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started[t.Name]++
	var st []link.PartitionStatus
	for p := int32(0); p < t.Partitions; p++ {
		ps := link.PartitionStatus{Partition: p, LastSourceFetchOffset: 0, SourceHighWatermark: 0}
		if f.failing != nil {
			ps.Err, ps.ErrorSince, ps.ErrorCode = f.failing, time.Now().Add(-time.Hour), "UNKNOWN"
		}
		st = append(st, ps)
	}
	f.status[t.Name] = st
	return nil
}
func (f *fakeData) Pause(string) {}

func (f *fakeData) Stop(topic string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.status, topic)
}

func (f *fakeData) Status(topic string) []link.PartitionStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]link.PartitionStatus(nil), f.status[topic]...)
}

func (f *fakeData) StopLink(string) {}
func (f *fakeData) Close()          {}

// TestRetryTimeoutFailsMirror: a partition whose errors outlast
// cluster.link.retry.timeout.ms fails its mirror (Confluent semantics).
func TestRetryTimeoutFailsMirror(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	scl, err := kgo.NewClient(kgo.SeedBrokers(src.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer scl.Close()
	if _, err := kadm.NewClient(scl).CreateTopic(ctxT(t), 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	data := &fakeData{started: map[string]int{}, status: map[string][]link.PartitionStatus{}, failing: errors.New("source says no")}
	m, err := link.NewManager(storeOf(t, dst), dst.Node.Broker(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := map[string]string{"bootstrap.servers": src.Addr(), "topic.config.sync.ms": "1000", "cluster.link.retry.timeout.ms": "60000"}
	if err := m.CreateLink(ctxT(t), "l", "", cfg, false, true); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateMirror(ctxT(t), "l", "t", "", nil, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		mt, _ := dst.Node.Broker().TopicByName("t")
		return mt.Mirror.State == link.MirrorFailed && mt.Mirror.Error == "UNKNOWN"
	})
}
