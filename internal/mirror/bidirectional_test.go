package mirror_test

// Bidirectional links between two Tandem brokers over the real wire
// (issue #12 points 2 and 4; docs/design/links-bidirectional.md §2, §4,
// §6): pairing, active/active with prefixes, offset sync both ways, names
// that do not pair, and a re-created half.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// bidiLink is a BIDIRECTIONAL half's configs towards peer, checking every
// 200 ms, with extra on top.
func bidiLink(peer *tandemtest.Broker, extra map[string]string) map[string]string {
	cfg := map[string]string{"bootstrap.servers": peer.Addr(), "link.mode": "BIDIRECTIONAL",
		"availability.check.ms": "200", "replica.fetch.wait.max.ms": "100", "topic.config.sync.ms": "1000"}
	maps.Copy(cfg, extra)
	return cfg
}

// waitRemoteState waits until link l on b reports remote link state want.
func waitRemoteState(t *testing.T, b *tandemtest.Broker, l, want string) link.LinkInfo {
	t.Helper()
	var li link.LinkInfo
	waitUntil(t, 30*time.Second, l+" remote link state "+want, func() bool {
		var err error
		li, err = b.Node.Links().Link(l)
		return err == nil && li.Remote != nil && li.Remote.State == want
	})
	return li
}

// restLink reads link l's REST document on b.
func restLink(t *testing.T, b *tandemtest.Broker, l string) map[string]any {
	t.Helper()
	body := tandemtest.Get(t, "http://"+b.HTTPAddr()+"/kafka/v3/clusters/"+b.Node.ClusterID()+"/links/"+l+"?include_tasks=true")
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return doc
}

// userTopics lists b's topics that are not internal.
func userTopics(b *tandemtest.Broker) []string {
	var out []string
	for _, tp := range b.Node.Broker().Topics() {
		if !strings.HasPrefix(tp.Name, "__") {
			out = append(out, tp.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestBidirectionalActiveActive is issue #12's "active/active with
// prefixes" check: clusters A and B, one BIDIRECTIONAL link L created on
// both (both OUTBOUND; B's half created second takes A's cluster_link_id),
// each half's cluster.link.prefix naming its own mirrors (b. on A, a. on
// B), auto-create with "*" on both, topic clicks written on both sides.
// Each side's clicks is mirrored to the other as <prefix>clicks byte for
// byte, no mirror of a mirror (b.a.clicks, a.b.clicks) ever appears, a
// consumer group committing on each side has its offsets synced into the
// other for the mirrored topic only, and both halves report ACTIVE,
// remote link state ACTIVE and the same cluster_link_id.
func TestBidirectionalActiveActive(t *testing.T) {
	a, b := tandemtest.Start(t), tandemtest.Start(t)
	acl, bcl := newClient(t, a.Addr()), newClient(t, b.Addr())
	createTopics(t, acl, 2, "clicks")
	createTopics(t, bcl, 2, "clicks")
	produceN(t, acl, "clicks", 40)
	produceN(t, bcl, "clicks", 30)

	both := map[string]string{"auto.create.mirror.topics.enable": "true", "auto.create.mirror.topics.filters": topicFiltersJSON(allTopics),
		"auto.create.mirror.topics.interval.ms": "200", "consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": "1000",
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}`}
	cfgA, cfgB := bidiLink(b, both), bidiLink(a, both)
	cfgA["cluster.link.prefix"], cfgB["cluster.link.prefix"] = "b.", "a."
	if err := a.Node.Links().CreateLink(ctxT(t), "L", "", cfgA, false, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Node.Links().CreateLink(ctxT(t), "L", a.Node.ClusterID(), cfgB, false, true); err != nil {
		t.Fatal(err)
	}

	waitUntil(t, 30*time.Second, "b.clicks on A and a.clicks on B", func() bool {
		return hasMirror(a, "L", "b.clicks") && hasMirror(b, "L", "a.clicks")
	})
	produceN(t, acl, "clicks", 10)
	produceN(t, bcl, "clicks", 10)
	sameBytes(t, acl, bcl, "clicks", "a.clicks")
	sameBytes(t, bcl, acl, "clicks", "b.clicks")

	// A group committing on each side: ga on A's clicks, gb on B's, each
	// at the partitions' ends less one where there are records (the
	// mirrors hold them all: sameBytes above).
	offsetsNear := func(cl *kgo.Client) map[int32]int64 {
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctxT(t), "clicks")
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = max(o.Offset-1, 0) })
		return out
	}
	wantA, wantB := offsetsNear(acl), offsetsNear(bcl)
	commitAdmin(t, acl, "ga", "clicks", wantA, "from-a")
	commitAdmin(t, bcl, "gb", "clicks", wantB, "from-b")
	same := func(got map[int32]kadm.Offset, want map[int32]int64) bool {
		for p, o := range want {
			if got[p].At != o {
				return false
			}
		}
		return len(got) == len(want)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ga, gb := committed(t, bcl, "ga", "a.clicks"), committed(t, acl, "gb", "b.clicks")
		if same(ga, wantA) && same(gb, wantB) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ga on B's a.clicks %v, gb on A's b.clicks %v; offset sync on A %+v, on B %+v", ga, gb,
				taskOf(t, a.Node.Links(), "L", link.TaskConsumerOffsetSync), taskOf(t, b.Node.Links(), "L", link.TaskConsumerOffsetSync))
		}
	}
	// Into a cluster only for the topics mirrored into it: the groups'
	// offsets on the topics that are sources there are never written.
	if got := committed(t, bcl, "ga", "clicks"); len(got) != 0 {
		t.Errorf("A's group ga has offsets on B's own clicks: %v", got)
	}
	if got := committed(t, acl, "gb", "clicks"); len(got) != 0 {
		t.Errorf("B's group gb has offsets on A's own clicks: %v", got)
	}

	// Several auto-create rounds later, still no loop: each side holds
	// its clicks and its mirror of the other's, nothing else.
	time.Sleep(1 * time.Second) // five auto-create intervals, to let a loop show
	if got, want := userTopics(a), []string{"b.clicks", "clicks"}; !slices.Equal(got, want) {
		t.Errorf("A's topics %v, want %v", got, want)
	}
	if got, want := userTopics(b), []string{"a.clicks", "clicks"}; !slices.Equal(got, want) {
		t.Errorf("B's topics %v, want %v", got, want)
	}
	for _, side := range []*tandemtest.Broker{a, b} {
		if st := taskOf(t, side.Node.Links(), "L", link.TaskAutoCreateMirror); st.ErrorCode != "" {
			t.Errorf("auto-create on %s: %s %s", side.Node.ClusterID(), st.ErrorCode, st.ErrorMessage)
		}
	}

	// Both halves ACTIVE, the peer ACTIVE, one cluster_link_id, each
	// naming the other as remote_cluster_id.
	la, lb := waitRemoteState(t, a, "L", link.LinkActive), waitRemoteState(t, b, "L", link.LinkActive)
	if la.State != link.LinkActive || lb.State != link.LinkActive {
		t.Errorf("link states %s, %s; want ACTIVE", la.State, lb.State)
	}
	if la.Link.ID != lb.Link.ID || la.Link.ID == ([16]byte{}) {
		t.Errorf("cluster_link_ids %x and %x differ", la.Link.ID, lb.Link.ID)
	}
	da, db := restLink(t, a, "L"), restLink(t, b, "L")
	for _, c := range []struct {
		doc  map[string]any
		peer *tandemtest.Broker
	}{{da, b}, {db, a}} {
		if c.doc["remote_link_state"] != "ACTIVE" || c.doc["remote_cluster_id"] != c.peer.Node.ClusterID() ||
			c.doc["source_cluster_id"] != nil || c.doc["remote_link_state_update_time_ms"] == nil || c.doc["link_state"] != "ACTIVE" {
			t.Errorf("link document %v", c.doc)
		}
	}
	if da["cluster_link_id"] != db["cluster_link_id"] {
		t.Errorf("REST cluster_link_id %v and %v differ", da["cluster_link_id"], db["cluster_link_id"])
	}
	for _, side := range []*tandemtest.Broker{a, b} {
		body := tandemtest.Get(t, "http://"+side.HTTPAddr()+"/metrics")
		if !strings.Contains(body, `tandem_link_remote_state_age_seconds{link="L"}`) {
			t.Errorf("no tandem_link_remote_state_age_seconds on %s", side.Node.ClusterID())
		}
	}

	// Mirroring the peer's mirror back by hand is refused, exactly.
	err := a.Node.Links().CreateMirror(ctxT(t), "L", "a.clicks", "", nil, false)
	if !strings.Contains(errString(err), "source topic 'a.clicks' is a mirror topic of cluster link 'L' on the remote cluster") {
		t.Errorf("mirroring B's mirror back: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestBidirectionalNamesDoNotPair: halves named L1 (on A) and L2 (on B)
// never pair: describe shows REMOTE_LINK_NOT_FOUND with why, data still
// flows over each, and consumer offset sync is in error with
// REMOTE_LINK_NOT_FOUND_ERROR.
func TestBidirectionalNamesDoNotPair(t *testing.T) {
	a, b := tandemtest.Start(t), tandemtest.Start(t)
	acl, bcl := newClient(t, a.Addr()), newClient(t, b.Addr())
	createTopics(t, bcl, 1, "orders")
	produceN(t, bcl, "orders", 20)
	sync := map[string]string{"consumer.offset.sync.enable": "true", "consumer.offset.sync.ms": "1000",
		"consumer.offset.group.filters": `{"groupFilters":[{"name":"*"}]}`}
	if err := a.Node.Links().CreateLink(ctxT(t), "L1", "", bidiLink(b, sync), false, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Node.Links().CreateLink(ctxT(t), "L2", "", bidiLink(a, nil), false, true); err != nil {
		t.Fatal(err)
	}
	li := waitRemoteState(t, a, "L1", link.RemoteLinkNotFound)
	if want := "cluster link 'L1' does not exist on cluster " + b.Node.ClusterID(); !strings.Contains(li.Remote.Message, want) {
		t.Errorf("remote link state message %q, want %q", li.Remote.Message, want)
	}
	waitRemoteState(t, b, "L2", link.RemoteLinkNotFound)
	if doc := restLink(t, a, "L1"); doc["remote_link_state"] != "REMOTE_LINK_NOT_FOUND" || doc["link_state"] != "ACTIVE" {
		t.Errorf("link document %v", doc)
	}
	// Data still flows.
	if err := a.Node.Links().CreateMirror(ctxT(t), "L1", "orders", "", nil, false); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, bcl, acl, "orders", "orders")
	waitUntil(t, 30*time.Second, "offset sync in REMOTE_LINK_NOT_FOUND_ERROR", func() bool {
		st := taskOf(t, a.Node.Links(), "L1", link.TaskConsumerOffsetSync)
		return st.ErrorCode == "REMOTE_LINK_NOT_FOUND_ERROR" && strings.Contains(st.ErrorMessage, "has no peer on cluster "+b.Node.ClusterID())
	})
}

// TestBidirectionalRecreatedHalf: B's half deleted and created again with
// another cluster_link_id (validation off: with it the create is refused)
// reports REMOTE_LINK_NOT_FOUND on both sides, naming both ids; created
// again without one, it takes A's id and the halves pair again.
func TestBidirectionalRecreatedHalf(t *testing.T) {
	a, b := tandemtest.Start(t), tandemtest.Start(t)
	if err := a.Node.Links().CreateLink(ctxT(t), "L", "", bidiLink(b, nil), false, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Node.Links().CreateLink(ctxT(t), "L", "", bidiLink(a, nil), false, true); err != nil {
		t.Fatal(err)
	}
	la := waitRemoteState(t, a, "L", link.LinkActive)
	waitRemoteState(t, b, "L", link.LinkActive)
	idA := la.Link.ID

	other := metadata.NewUUID()
	if err := b.Node.Links().DeleteLink("L", true, false); err != nil {
		t.Fatal(err)
	}
	err := b.Node.Links().CreateLink(ctxT(t), "L", "", bidiLink(a, nil), false, true, link.WithClusterLinkID(other))
	if !strings.Contains(errString(err), "not the cluster_link_id given") {
		t.Errorf("creating B's half with another id, validated: %v, want refused", err)
	}
	// Over REST, as Confluent's create body carries them (§5.2).
	body, err := json.Marshal(map[string]any{"remote_cluster_id": a.Node.ClusterID(), "cluster_link_id": linkIDString(other),
		"configs": restConfigs(bidiLink(a, nil))})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + b.HTTPAddr() + "/kafka/v3/clusters/" + b.Node.ClusterID() + "/links?link_name=L&validate_link=false"
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("REST create: %s", resp.Status)
	}
	want := "has id " + linkIDString(idA) + ", this half has id " + linkIDString(other) + ": one of them was re-created; delete and re-create this half with cluster_link_id=" + linkIDString(idA)
	if lb := waitRemoteState(t, b, "L", link.RemoteLinkNotFound); !strings.Contains(lb.Remote.Message, want) {
		t.Errorf("B's remote link state message %q, want %q", lb.Remote.Message, want)
	}
	waitRemoteState(t, a, "L", link.RemoteLinkNotFound)
	if la, _ := a.Node.Links().Link("L"); la.Link.ID != idA {
		t.Error("A's cluster_link_id changed")
	}

	// Re-created without an id (and without validation): B adopts A's.
	if err := b.Node.Links().DeleteLink("L", true, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Node.Links().CreateLink(ctxT(t), "L", "", bidiLink(a, nil), false, false); err != nil {
		t.Fatal(err)
	}
	waitRemoteState(t, a, "L", link.LinkActive)
	waitUntil(t, 30*time.Second, "B adopts A's cluster_link_id", func() bool {
		lb, err := b.Node.Links().Link("L")
		return err == nil && lb.Link.ID == idA && lb.Remote != nil && lb.Remote.State == link.LinkActive
	})
}

// linkIDString is a cluster_link_id as link describe shows it.
func linkIDString(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// restConfigs is a create body's "configs".
func restConfigs(cfg map[string]string) []map[string]string {
	var out []map[string]string
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		out = append(out, map[string]string{"name": k, "value": cfg[k]})
	}
	return out
}
