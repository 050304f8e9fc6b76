package metadata

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

func open(t *testing.T, dir string, node int32) Store {
	t.Helper()
	s, err := OpenBolt(dir, node, nil)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func names(ts []Topic) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestCreateListDeleteReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1)

	for _, name := range []string{"orders", "audit", "payments"} {
		if err := s.CreateTopic(Topic{Name: name, Partitions: 3, ReplicationFactor: 1, Leader: 1}); err != nil {
			t.Fatalf("CreateTopic(%s): %v", name, err)
		}
	}
	if got := names(s.Topics()); !slices.Equal(got, []string{"audit", "orders", "payments"}) {
		t.Fatalf("Topics() = %v, want sorted", got)
	}
	orders, ok := s.Topic("orders")
	if !ok || orders.ID == ([16]byte{}) || orders.Partitions != 3 || orders.ReplicationFactor != 1 || orders.Leader != 1 ||
		!slices.Equal(orders.LeaderEpochs, []int32{0, 0, 0}) || orders.CreatedMs == 0 || orders.Configs != nil {
		t.Fatalf("Topic(orders) = %+v, %v", orders, ok)
	}
	if orders.ID[6]>>4 != 4 {
		t.Errorf("topic id %x is not a version 4 UUID", orders.ID)
	}
	if byID, ok := s.TopicByID(orders.ID); !ok || !reflect.DeepEqual(byID, orders) {
		t.Errorf("TopicByID = %+v, %v; want %+v", byID, ok, orders)
	}
	if _, ok := s.Topic("nope"); ok {
		t.Error("Topic(nope) found")
	}
	if _, ok := s.TopicByID([16]byte{1}); ok {
		t.Error("TopicByID(unknown) found")
	}

	if err := s.AddPartitions("orders", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTopicConfigs("orders", map[string]string{"retention.ms": "1000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBrokerConfigs(1, map[string]string{"log.retention.hours": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBrokerConfigs(ClusterDefaultNode, map[string]string{"log.segment.bytes": "2097152"}); err != nil {
		t.Fatal(err)
	}
	deleted, err := s.DeleteTopic("audit")
	if err != nil || deleted.Name != "audit" || deleted.Partitions != 3 {
		t.Fatalf("DeleteTopic(audit) = %+v, %v", deleted, err)
	}
	if _, ok := s.TopicByID(deleted.ID); ok {
		t.Error("deleted topic still found by id")
	}
	before := s.Topics()
	clusterID := s.ClusterID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir, 1)
	if s2.ClusterID() != clusterID {
		t.Errorf("cluster id changed across reopen: %s -> %s", clusterID, s2.ClusterID())
	}
	if after := s2.Topics(); !reflect.DeepEqual(after, before) {
		t.Errorf("topics after reopen:\n%+v\nwant\n%+v", after, before)
	}
	orders, _ = s2.Topic("orders")
	if orders.Partitions != 5 || !slices.Equal(orders.LeaderEpochs, []int32{0, 0, 0, 0, 0}) ||
		!maps.Equal(orders.Configs, map[string]string{"retention.ms": "1000"}) {
		t.Errorf("orders after reopen = %+v", orders)
	}
	if got := s2.BrokerConfigs(1); !maps.Equal(got, map[string]string{"log.retention.hours": "1"}) {
		t.Errorf("BrokerConfigs(1) = %v", got)
	}
	if got := s2.BrokerConfigs(-1); !maps.Equal(got, map[string]string{"log.segment.bytes": "2097152"}) {
		t.Errorf("BrokerConfigs(-1) = %v", got)
	}
	if got := s2.BrokerConfigs(2); got != nil {
		t.Errorf("BrokerConfigs(2) = %v, want nil", got)
	}
}

func TestErrors(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	if err := s.CreateTopic(Topic{Name: "a", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Topic("a")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"exists", s.CreateTopic(Topic{Name: "a", Partitions: 1, ReplicationFactor: 1}), ErrTopicExists},
		{"empty name", s.CreateTopic(Topic{Partitions: 1, ReplicationFactor: 1}), ErrInvalidTopic},
		{"zero partitions", s.CreateTopic(Topic{Name: "b", ReplicationFactor: 1}), ErrInvalidPartitions},
		{"zero rf", s.CreateTopic(Topic{Name: "b", Partitions: 1}), ErrInvalidTopic},
		{"epochs", s.CreateTopic(Topic{Name: "b", Partitions: 2, ReplicationFactor: 1, LeaderEpochs: []int32{0}}), ErrInvalidTopic},
		{"id in use", s.CreateTopic(Topic{Name: "b", ID: a.ID, Partitions: 1, ReplicationFactor: 1}), ErrInvalidTopic},
		{"delete unknown", func() error { _, err := s.DeleteTopic("b"); return err }(), ErrUnknownTopic},
		{"add unknown", s.AddPartitions("b", 2), ErrUnknownTopic},
		{"add same", s.AddPartitions("a", 1), ErrInvalidPartitions},
		{"add fewer", s.AddPartitions("a", 0), ErrInvalidPartitions},
		{"configs unknown", s.SetTopicConfigs("b", nil), ErrUnknownTopic},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
		} else if strings.HasPrefix(tt.err.Error(), "metadata:") {
			// Users read these (docs/HACKING.md "Errors users read").
			t.Errorf("%s: err %q has a package prefix", tt.name, tt.err)
		}
	}
	if got := names(s.Topics()); !slices.Equal(got, []string{"a"}) {
		t.Errorf("failed writes changed the topics: %v", got)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(Topic{Name: "c", Partitions: 1, ReplicationFactor: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateTopic after Close = %v", err)
	}
	if _, ok := s.Topic("a"); !ok {
		t.Error("reads after Close should serve the last snapshot")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCreateTopicKeepsGivenFields(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	id := NewUUID()
	in := Topic{Name: "t", ID: id, Partitions: 2, ReplicationFactor: 1, Leader: 7, CreatedMs: 42,
		LeaderEpochs: []int32{3, 4}, Configs: map[string]string{"segment.ms": "1"}}
	if err := s.CreateTopic(in); err != nil {
		t.Fatal(err)
	}
	// The store copies its input and hands out copies.
	in.Configs["segment.ms"] = "2"
	in.LeaderEpochs[0] = 9
	got, _ := s.Topic("t")
	want := Topic{Name: "t", ID: id, Partitions: 2, ReplicationFactor: 1, Leader: 7, CreatedMs: 42,
		LeaderEpochs: []int32{3, 4}, Configs: map[string]string{"segment.ms": "1"},
		ModRevision: 2} // revision 1 created the store
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Topic = %+v, want %+v", got, want)
	}
	got.Configs["segment.ms"] = "3"
	got.LeaderEpochs[1] = 9
	s.Topics()[0].Configs["x"] = "y"
	if again, _ := s.Topic("t"); !reflect.DeepEqual(again, want) {
		t.Errorf("store changed through a returned value: %+v", again)
	}
	bc := map[string]string{"k": "v"}
	if err := s.SetBrokerConfigs(1, bc); err != nil {
		t.Fatal(err)
	}
	bc["k"] = "w"
	s.BrokerConfigs(1)["k"] = "x"
	if got := s.BrokerConfigs(1); got["k"] != "v" {
		t.Errorf("broker configs changed through a shared map: %v", got)
	}
	if err := s.SetBrokerConfigs(1, nil); err != nil || s.BrokerConfigs(1) != nil {
		t.Errorf("clearing broker configs: %v, %v", err, s.BrokerConfigs(1))
	}
	if err := s.SetTopicConfigs("t", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Topic("t"); got.Configs != nil {
		t.Errorf("configs not cleared: %v", got.Configs)
	}
}

func TestClusterIDAndMetaProperties(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 3)
	id := s.ClusterID()
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if len(id) != 22 || err != nil || len(raw) != 16 || raw[6]>>4 != 4 {
		t.Errorf("cluster id %q is not a base64 version 4 UUID", id)
	}
	s.Close()

	f, err := os.Open(filepath.Join(dir, "meta.properties"))
	if err != nil {
		t.Fatal(err)
	}
	props, err := config.ParseProperties(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"version": "1", "cluster.id": id, "node.id": "3"}; !maps.Equal(props, want) {
		t.Errorf("meta.properties = %v, want %v", props, want)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "meta.properties"))
	if !strings.HasPrefix(string(b), "#") {
		t.Errorf("meta.properties has no comment header:\n%s", b)
	}

	// Reopen: same id. A different node id is refused.
	if s := open(t, dir, 3); s.ClusterID() != id {
		t.Errorf("cluster id changed: %s -> %s", id, s.ClusterID())
	} else {
		s.Close()
	}
	if _, err := OpenBolt(dir, 4, nil); !errors.Is(err, ErrMetaProperties) || !strings.Contains(err.Error(), "node.id=3") {
		t.Errorf("OpenBolt with another node id = %v, want ErrMetaProperties naming node.id=3", err)
	}

	// Another directory is another cluster.
	other := open(t, t.TempDir(), 3)
	if other.ClusterID() == id {
		t.Error("two new stores got the same cluster id")
	}
}

func TestMetaPropertiesMismatch(t *testing.T) {
	writeMP := func(dir, content string) {
		if err := os.WriteFile(filepath.Join(dir, "meta.properties"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	newDir := func() (string, string) {
		dir := t.TempDir()
		s := open(t, dir, 1)
		id := s.ClusterID()
		s.Close()
		return dir, id
	}

	dir, _ := newDir()
	writeMP(dir, "version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=1\n")
	if _, err := OpenBolt(dir, 1, nil); !errors.Is(err, ErrMetaProperties) || !strings.Contains(err.Error(), "cluster") {
		t.Errorf("cluster id mismatch: %v", err)
	}

	dir, id := newDir()
	writeMP(dir, "version=0\nbroker.id=1\ncluster.id="+id+"\n")
	if _, err := OpenBolt(dir, 1, nil); !errors.Is(err, ErrMetaProperties) {
		t.Errorf("version 0: %v", err)
	}

	// meta.properties without its database: metadata was lost.
	dir, _ = newDir()
	if err := os.RemoveAll(filepath.Join(dir, metadataDirName)); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(dir, 1, nil); !errors.Is(err, ErrMetaProperties) {
		t.Errorf("missing database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, metadataDirName, metadataDBName)); err == nil {
		t.Error("a refused start created a database")
	}

	// A database without meta.properties (crash during the first start):
	// the file is rewritten.
	dir, id = newDir()
	if err := os.Remove(filepath.Join(dir, "meta.properties")); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, 1)
	if s.ClusterID() != id {
		t.Errorf("cluster id changed: %s -> %s", id, s.ClusterID())
	}
	s.Close()
	if mp, err := readMetaProperties(vfs.Default, dir); err != nil || mp == nil || mp.clusterID != id || mp.nodeID != 1 {
		t.Errorf("rewritten meta.properties = %+v, %v", mp, err)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	old := lockTimeout
	lockTimeout = 50 * time.Millisecond
	defer func() { lockTimeout = old }()
	dir := t.TempDir()
	open(t, dir, 1)
	if s, err := OpenBolt(dir, 1, nil); err == nil {
		s.Close()
		t.Fatal("a second OpenBolt of an open directory succeeded")
	}
}

// recv waits (bounded) for a notification.
func recv(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no notification", what)
	}
}

func noRecv(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: unexpected notification", what)
	default:
	}
}

func TestWatch(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	ch, cancel := s.Watch()
	ch2, cancel2 := s.Watch()
	defer cancel2()
	noRecv(t, ch, "before any change")

	changes := []struct {
		name string
		do   func() error
	}{
		{"create", func() error { return s.CreateTopic(Topic{Name: "a", Partitions: 1, ReplicationFactor: 1}) }},
		{"add partitions", func() error { return s.AddPartitions("a", 2) }},
		{"topic configs", func() error { return s.SetTopicConfigs("a", map[string]string{"retention.ms": "1"}) }},
		{"broker configs", func() error { return s.SetBrokerConfigs(-1, map[string]string{"x": "y"}) }},
		{"delete", func() error { _, err := s.DeleteTopic("a"); return err }},
	}
	for _, c := range changes {
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		recv(t, ch, c.name)
		noRecv(t, ch, c.name+" (one notification)")
	}
	// A failed write changes nothing and notifies no one.
	if err := s.AddPartitions("a", 3); !errors.Is(err, ErrUnknownTopic) {
		t.Fatal(err)
	}
	noRecv(t, ch, "failed write")

	// Notifications coalesce: ch2 was never drained.
	recv(t, ch2, "coalesced")
	noRecv(t, ch2, "coalesced")

	cancel()
	cancel() // idempotent
	if _, ok := <-ch; ok {
		t.Error("channel not closed by cancel")
	}
	if err := s.CreateTopic(Topic{Name: "b", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	recv(t, ch2, "after cancelling another watcher")

	s.Close()
	if _, ok := <-ch2; ok {
		t.Error("channel not closed by Close")
	}
	ch3, cancel3 := s.Watch()
	if _, ok := <-ch3; ok {
		t.Error("Watch after Close returned an open channel")
	}
	cancel3()
}

// TestConcurrentReaders runs readers against a writer; run with -race. Each
// reader checks that every snapshot it sees is internally consistent.
func TestConcurrentReaders(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	const topics = 20
	done := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for r := 0; r < 8; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				ts := s.Topics()
				if !slices.IsSortedFunc(ts, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) }) {
					errc <- fmt.Errorf("Topics() not sorted: %v", names(ts))
					return
				}
				for _, tp := range ts {
					if int(tp.Partitions) != len(tp.LeaderEpochs) {
						errc <- fmt.Errorf("topic %s: %d partitions, %d epochs", tp.Name, tp.Partitions, len(tp.LeaderEpochs))
						return
					}
					tp.LeaderEpochs[0] = -1 // must not affect the store
					if byID, ok := s.TopicByID(tp.ID); ok && byID.Name != tp.Name {
						errc <- fmt.Errorf("TopicByID(%x) = %s, want %s", tp.ID, byID.Name, tp.Name)
						return
					}
				}
				_ = s.BrokerConfigs(-1)
			}
		}()
	}
	for i := 0; i < topics; i++ {
		name := fmt.Sprintf("t%02d", i)
		if err := s.CreateTopic(Topic{Name: name, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddPartitions(name, 4); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBrokerConfigs(-1, map[string]string{"n": name}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := s.DeleteTopic(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if got := len(s.Topics()); got != topics/2 {
		t.Errorf("%d topics, want %d", got, topics/2)
	}
	for _, tp := range s.Topics() {
		if !slices.Equal(tp.LeaderEpochs, []int32{0, 0, 0, 0}) {
			t.Errorf("topic %s epochs %v changed by a reader", tp.Name, tp.LeaderEpochs)
		}
	}
}

func TestUUID(t *testing.T) {
	seen := map[[16]byte]bool{}
	for i := 0; i < 1000; i++ {
		id := NewUUID()
		s := UUIDString(id)
		if len(s) != 22 || s[0] == '-' || id == ([16]byte{}) || id == metadataTopicID || seen[id] {
			t.Fatalf("bad uuid %x (%s)", id, s)
		}
		seen[id] = true
		back, err := ParseUUID(s)
		if err != nil || back != id {
			t.Fatalf("ParseUUID(%s) = %x, %v", s, back, err)
		}
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAA", "!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) succeeded", bad)
		}
	}
}

func TestAllocateProducerIDsDurable(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AllocateProducerIDs(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AllocateProducerIDs(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if a != 0 || b != 1000 {
		t.Fatalf("blocks start at %d and %d, want 0 and 1000", a, b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.AllocateProducerIDs(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c != 1010 {
		t.Fatalf("after reopen the next block starts at %d, want 1010", c)
	}
	if _, err := s.AllocateProducerIDs(0, 0); err == nil {
		t.Fatal("reserving 0 ids succeeded")
	}
	// A floor above the next id skips ahead; one below it changes nothing.
	if d, err := s.AllocateProducerIDs(5000, 10); err != nil || d != 5000 {
		t.Fatalf("reserving from 5000: first %d, %v", d, err)
	}
	if e, err := s.AllocateProducerIDs(3, 1); err != nil || e != 5010 {
		t.Fatalf("reserving from 3 after 5010: first %d, %v; want 5010", e, err)
	}
	if _, err := s.AllocateProducerIDs(math.MaxInt64-5, 10); err == nil {
		t.Fatal("reserving past MaxInt64 succeeded")
	}
}
