package link

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/wire"
)

// peerLink is the way from one side of a pairing test to the other's
// Manager. A call holds mu (read) for its whole length, so that set(nil),
// a network cut, returns only once no exchange is in flight: none can
// then reach the other side.
type peerLink struct {
	mu sync.RWMutex
	m  *Manager
}

func (p *peerLink) set(m *Manager) {
	p.mu.Lock()
	p.m = m
	p.mu.Unlock()
}

// directPeer is a peerCaller that calls the other cluster's Manager
// directly (the wire codec's stand-in in these tests).
type directPeer struct{ other *peerLink }

var errPeerDown = errors.New("peer down (test)")

func (d directPeer) LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) (*wire.LinkPeerResponse, error) {
	d.other.mu.RLock()
	defer d.other.mu.RUnlock()
	if d.other.m == nil {
		return nil, errPeerDown
	}
	return d.other.m.LinkPeer(ctx, req), nil
}

func (d directPeer) LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) (*wire.LinkMirrorOpResponse, error) {
	return nil, errPeerDown
}

// pairSide is one cluster of a pairing test: its store, cluster and
// Manager, and a kfake cluster standing for the remote Kafka its link
// dials (the availability check's round trip).
type pairSide struct {
	store metadata.Store
	c     *storeCluster
	m     *Manager
	peer  peerLink // to the other side's Manager
	src   *kfake.Cluster
}

func newPairSide(t *testing.T, topics ...string) *pairSide {
	t.Helper()
	store, err := metadata.OpenBolt(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	src, err := kfake.NewCluster(kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	return &pairSide{store: store, c: &storeCluster{Store: store}, src: src}
}

// bidiConfigs is a BIDIRECTIONAL half's configs, checking every 50 ms.
func (s *pairSide) bidiConfigs(extra map[string]string) map[string]string {
	cfg := map[string]string{"bootstrap.servers": s.src.ListenAddrs()[0], "link.mode": "BIDIRECTIONAL",
		"availability.check.ms": "50", "topic.config.sync.ms": "3600000"}
	maps.Copy(cfg, extra)
	return cfg
}

// start starts the side's Manager, its links calling the other side's.
func (s *pairSide) start(t *testing.T) {
	t.Helper()
	m, err := NewManager(s.store, s.c, &modeData{mode: map[string]dataPathMode{}}, pairLogger(t, s),
		func(m *Manager) {
			testPeers.Store(m, func(string) (peerCaller, error) { return directPeer{&s.peer}, nil })
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	s.m = m
}

func pairUp(t *testing.T, a, b *pairSide) {
	t.Helper()
	a.start(t)
	b.start(t)
	a.peer.set(b.m)
	b.peer.set(a.m)
}

// waitRemote waits until link's remote link state on m is want.
func waitRemote(t *testing.T, m *Manager, link, want string) LinkInfo {
	t.Helper()
	var li LinkInfo
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if li, err = m.Link(link); err != nil {
			t.Fatal(err)
		}
		if li.Remote != nil && li.Remote.State == want {
			return li
		}
		if time.Now().After(deadline) {
			t.Fatalf("link %s: remote link state %+v, want %s", link, li.Remote, want)
		}
	}
}

// TestPairingBidirectional: two BIDIRECTIONAL halves named alike, created
// with their own ids, end up with one cluster_link_id (one adopts the
// other's, with its mirror), both fixed, each reporting the other ACTIVE
// with its cluster id and a recent update time.
func TestPairingBidirectional(t *testing.T) {
	a, b := newPairSide(t), newPairSide(t)
	if err := a.store.CreateLink(metadata.Link{Name: "L", Configs: a.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateLink(metadata.Link{Name: "L", Configs: b.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	lb, _ := b.store.Link("L")
	// B already holds a mirror bound to its first id: it must stay B's
	// mirror whoever adopts.
	if err := b.store.CreateTopic(metadata.Topic{Name: "m", Partitions: 1, ReplicationFactor: 1,
		Mirror: &metadata.Mirror{Link: "L", LinkID: lb.ID, SourceTopic: "m", State: metadata.MirrorPaused}}); err != nil {
		t.Fatal(err)
	}
	pairUp(t, a, b)
	waitRemote(t, a.m, "L", LinkActive)
	waitRemote(t, b.m, "L", LinkActive)
	waitSettled(t, a, b)
	ia := waitRemote(t, a.m, "L", LinkActive)
	ib := waitRemote(t, b.m, "L", LinkActive)
	if ia.Remote.ClusterID != b.store.ClusterID() || ib.Remote.ClusterID != a.store.ClusterID() {
		t.Errorf("remote cluster ids %q, %q; want %q, %q", ia.Remote.ClusterID, ib.Remote.ClusterID, b.store.ClusterID(), a.store.ClusterID())
	}
	if time.Since(ia.Remote.Time) > 5*time.Second {
		t.Errorf("remote link state time %v is stale", ia.Remote.Time)
	}
	if len(ib.TopicNames) != 1 || ib.TopicNames[0] != "m" {
		t.Errorf("B's mirrors after pairing: %v, want [m]", ib.TopicNames)
	}
	// A's view of B's mirrors came with the exchange.
	if set, ok := a.m.peerMirrorSet(context.Background(), a.m.runtimeOf("L"), false); !ok || !set["m"] {
		t.Errorf("A's view of B's mirrors: %v (paired %v), want m", set, ok)
	}
	// Both clusters unreachable from each other: each keeps its last
	// remote state, its update time no longer advancing (design §2.3:
	// the time of the last answer, never of the last attempt).
	a.peer.set(nil)
	b.peer.set(nil)
	before := waitRemote(t, a.m, "L", LinkActive).Remote.Time
	waitChecks(t, a.m, "L", 3)
	if after := waitRemote(t, a.m, "L", LinkActive).Remote; !after.Time.Equal(before) {
		t.Errorf("remote link state time moved from %v to %v without an answer", before, after.Time)
	}
}

// waitSettled waits until link L has one id on both sides, fixed in
// their stores and in their runtimes: the store records an adopted or
// confirmed id before the runtime does (an adopting half restarts its
// runtime, and its client, after SetLinkID).
func waitSettled(t *testing.T, a, b *pairSide) (la, lb metadata.Link) {
	t.Helper()
	fixedID := func(m *Manager) [16]byte {
		if rt := m.runtimeOf("L"); rt != nil {
			return rt.fixedLinkID()
		}
		return [16]byte{}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		la, _ = a.store.Link("L")
		lb, _ = b.store.Link("L")
		if la.ID == lb.ID && la.IDFixed && lb.IDFixed && fixedID(a.m) == la.ID && fixedID(b.m) == lb.ID {
			return la, lb
		}
		if time.Now().After(deadline) {
			t.Fatalf("ids %x (fixed %v, runtime %x) and %x (fixed %v, runtime %x) did not settle",
				la.ID, la.IDFixed, fixedID(a.m), lb.ID, lb.IDFixed, fixedID(b.m))
		}
	}
}

// waitChecks waits until link's availability check has run n more times.
func waitChecks(t *testing.T, m *Manager, link string, n int64) {
	t.Helper()
	runs := func() int64 {
		li, err := m.Link(link)
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range li.Tasks {
			if ts.Name == TaskAvailabilityCheck {
				return ts.Runs
			}
		}
		return 0
	}
	start := runs()
	for deadline := time.Now().Add(10 * time.Second); runs() < start+n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("link %s: %d availability checks did not run", link, n)
		}
	}
}

// TestPairingNamesDoNotPair: halves named L1 and L2 never pair: both
// report REMOTE_LINK_NOT_FOUND saying why, and consumer offset sync of a
// paired kind of half fails with REMOTE_LINK_NOT_FOUND_ERROR.
func TestPairingNamesDoNotPair(t *testing.T) {
	a, b := newPairSide(t), newPairSide(t)
	sync := map[string]string{"consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": "50",
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"*"}]}`}
	if err := a.store.CreateLink(metadata.Link{Name: "L1", Configs: a.bidiConfigs(sync)}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateLink(metadata.Link{Name: "L2", Configs: b.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	pairUp(t, a, b)
	li := waitRemote(t, a.m, "L1", RemoteLinkNotFound)
	if want := "cluster link 'L1' does not exist on cluster " + b.store.ClusterID(); !strings.Contains(li.Remote.Message, want) {
		t.Errorf("message %q, want it to contain %q", li.Remote.Message, want)
	}
	waitRemote(t, b.m, "L2", RemoteLinkNotFound)
	// Failback's operations are refused, naming the peer's cluster.
	if _, err := a.m.peerMirrorOp(context.Background(), li.Link, wire.MirrorOpDescribeStop, nil); !errors.Is(err, ErrRemoteLinkNotFound) ||
		!strings.Contains(err.Error(), "Cluster link 'L1' has no peer on cluster "+b.store.ClusterID()+" (remote link state REMOTE_LINK_NOT_FOUND)") {
		t.Errorf("a LinkMirrorOp while the halves do not pair: %v", err)
	}
	if li.State != LinkActive {
		t.Errorf("A's own link state %s, want ACTIVE (data still flows)", li.State)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st := waitTaskRun(t, a.m, "L1", TaskConsumerOffsetSync)
		if st.ErrorCode == "REMOTE_LINK_NOT_FOUND_ERROR" && strings.Contains(st.ErrorMessage, "has no peer on cluster "+b.store.ClusterID()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset sync task %+v, want REMOTE_LINK_NOT_FOUND_ERROR", st)
		}
	}
}

// TestPairingIDMismatch: two halves whose ids are both fixed (given at
// creation) and differ report REMOTE_LINK_NOT_FOUND naming both ids, and
// neither adopts the other's.
func TestPairingIDMismatch(t *testing.T) {
	a, b := newPairSide(t), newPairSide(t)
	idA, idB := metadata.NewUUID(), metadata.NewUUID()
	if err := a.store.CreateLink(metadata.Link{Name: "L", ID: idA, IDFixed: true, Configs: a.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateLink(metadata.Link{Name: "L", ID: idB, IDFixed: true, Configs: b.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	pairUp(t, a, b)
	li := waitRemote(t, a.m, "L", RemoteLinkNotFound)
	want := "cluster link 'L' on cluster " + b.store.ClusterID() + " has id " + clusterLinkID(idB) + ", this half has id " + clusterLinkID(idA) +
		": one of them was re-created; delete and re-create this half with cluster_link_id=" + clusterLinkID(idB)
	if li.Remote.Message != want {
		t.Errorf("message\n%q\nwant\n%q", li.Remote.Message, want)
	}
	waitRemote(t, b.m, "L", RemoteLinkNotFound)
	waitChecks(t, a.m, "L", 3) // several exchanges
	waitChecks(t, b.m, "L", 3)
	if la, _ := a.store.Link("L"); la.ID != idA {
		t.Error("A's fixed id changed")
	}
	if lb, _ := b.store.Link("L"); lb.ID != idB {
		t.Error("B's fixed id changed")
	}
}

// TestPairingRecreatedHalfAdopts: a half re-created without
// cluster_link_id adopts its fixed peer's id even when the tie-break
// would have the peer adopt (after adoptAfter availability checks).
func TestPairingRecreatedHalfAdopts(t *testing.T) {
	a, b := newPairSide(t), newPairSide(t)
	lo, hi := metadata.NewUUID(), metadata.NewUUID()
	if string(lo[:]) > string(hi[:]) {
		lo, hi = hi, lo
	}
	// A is fixed with the greater id: B (the smaller, unfixed) must adopt.
	if err := a.store.CreateLink(metadata.Link{Name: "L", ID: hi, IDFixed: true, Configs: a.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateLink(metadata.Link{Name: "L", ID: lo, Configs: b.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	pairUp(t, a, b)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if lb, _ := b.store.Link("L"); lb.ID == hi && lb.IDFixed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B did not adopt A's fixed id")
		}
	}
	waitRemote(t, a.m, "L", LinkActive)
	waitRemote(t, b.m, "L", LinkActive)
}

// TestPairingLoopRules: on a paired link, a source topic that is the
// peer's mirror of this link is refused exactly (with or without a
// prefix), a topic merely named like this link's mirrors is not, and
// auto-create skips the peer's mirrors without reporting conflicts.
func TestPairingLoopRules(t *testing.T) {
	// A's view of the remote cluster: B's topics.
	a := newPairSide(t, "clicks", "a.clicks", "b.orders")
	b := newPairSide(t)
	cfgA := a.bidiConfigs(map[string]string{"cluster.link.prefix": "b.", "auto.create.mirror.topics.enable": "true",
		"auto.create.mirror.topics.filters": `{"topicFilters":[{"name":"*"}]}`, "auto.create.mirror.topics.interval.ms": "50"})
	if err := a.store.CreateLink(metadata.Link{Name: "L", Configs: cfgA}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateLink(metadata.Link{Name: "L", Configs: b.bidiConfigs(map[string]string{"cluster.link.prefix": "a."})}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateTopic(metadata.Topic{Name: "clicks", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// B's a.clicks is B's mirror of A's clicks over L (the kfake cluster
	// standing for B does not say so: only LinkPeer does).
	lb, _ := b.store.Link("L")
	if err := b.store.CreateTopic(metadata.Topic{Name: "a.clicks", Partitions: 1, ReplicationFactor: 1,
		Mirror: &metadata.Mirror{Link: "L", LinkID: lb.ID, SourceTopic: "clicks", State: metadata.MirrorActive}}); err != nil {
		t.Fatal(err)
	}
	pairUp(t, a, b)
	// Paired for good: an adopting half restarts its runtime, closing
	// the client a CreateMirror would use ("client closed").
	waitSettled(t, a, b)
	waitRemote(t, a.m, "L", LinkActive)
	waitRemote(t, b.m, "L", LinkActive)
	ctx := context.Background()
	err := a.m.CreateMirror(ctx, "L", "a.clicks", "", nil, true)
	if !errors.Is(err, ErrMirrorLoop) || !strings.Contains(err.Error(), "source topic 'a.clicks' is a mirror topic of cluster link 'L' on the remote cluster") {
		t.Errorf("mirroring the peer's mirror back: %v, want ErrMirrorLoop", err)
	}
	// "b.orders" is an ordinary topic on B, merely named like A's
	// mirrors: paired, that is no loop (its mirror is b.b.orders).
	if err := a.m.CreateMirror(ctx, "L", "b.orders", "", nil, true); err != nil {
		t.Errorf("b.orders (an ordinary topic on the peer): %v, want allowed", err)
	}
	// Auto-create: clicks → b.clicks; a.clicks skipped, no conflict.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if tp, err := a.c.TopicByName("b.clicks"); err == nil && tp.Mirror != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b.clicks was not auto-created")
		}
	}
	st := waitTaskRun(t, a.m, "L", TaskAutoCreateMirror)
	if _, err := a.c.TopicByName("b.a.clicks"); err == nil {
		t.Error("b.a.clicks (a loop) was auto-created")
	}
	if st.ErrorCode != "" {
		t.Errorf("auto-create task error %s: %s", st.ErrorCode, st.ErrorMessage)
	}
}

func pairLogger(t *testing.T, s *pairSide) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t, s.store.ClusterID()}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct {
	t  *testing.T
	id string
}

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(w.id, string(p)); return len(p), nil }

// slowIDStore is a store whose SetLinkID takes a while (an fsync on a
// loaded disk).
type slowIDStore struct {
	metadata.Store
	delay time.Duration
}

func (s slowIDStore) SetLinkID(name string, from, to [16]byte) (metadata.Link, error) {
	time.Sleep(s.delay)
	return s.Store.SetLinkID(name, from, to)
}

// TestPairingSlowAdoption: two unfixed halves whose id changes are slow
// to persist (longer than adoptAfter checks) still end up with one id:
// the smaller id's half must not adopt the greater id while the greater
// id's half is adopting the smaller (each would then hold the other's
// old id, both fixed: REMOTE_LINK_NOT_FOUND for good).
func TestPairingSlowAdoption(t *testing.T) {
	a, b := newPairSide(t), newPairSide(t)
	if err := a.store.CreateLink(metadata.Link{Name: "L", Configs: a.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateLink(metadata.Link{Name: "L", Configs: b.bidiConfigs(nil)}); err != nil {
		t.Fatal(err)
	}
	const delay = 8 * adoptAfter * 50 * time.Millisecond
	a.store, b.store = slowIDStore{a.store, delay}, slowIDStore{b.store, delay}
	pairUp(t, a, b)
	waitSettled(t, a, b)
	waitRemote(t, a.m, "L", LinkActive)
	waitRemote(t, b.m, "L", LinkActive)
}
