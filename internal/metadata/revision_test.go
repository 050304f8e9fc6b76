package metadata

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestRevisions checks that every write raises the store revision by
// exactly one and stamps the record it wrote with it, and that failed
// writes change neither.
func TestRevisions(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	if got := s.Revision(); got != 1 {
		t.Fatalf("new store at revision %d, want 1", got)
	}
	topicRev := func(name string) int64 { tp, _ := s.Topic(name); return tp.ModRevision }
	linkRev := func(name string) int64 { l, _ := s.Link(name); return l.ModRevision }
	steps := []struct {
		name    string
		do      func() error
		wantErr error
		// rev returns the ModRevision of the record the step wrote
		// (nil for records without one).
		rev func() int64
	}{
		{"create topic", func() error { return s.CreateTopic(Topic{Name: "a", Partitions: 1, ReplicationFactor: 1}) }, nil,
			func() int64 { return topicRev("a") }},
		{"create second topic", func() error { return s.CreateTopic(Topic{Name: "b", Partitions: 1, ReplicationFactor: 1}) }, nil,
			func() int64 { return topicRev("b") }},
		{"add partitions", func() error { return s.AddPartitions("a", 3) }, nil, func() int64 { return topicRev("a") }},
		{"add partitions, not more", func() error { return s.AddPartitions("a", 2) }, ErrInvalidPartitions, nil},
		{"topic configs", func() error { return s.SetTopicConfigs("a", map[string]string{"retention.ms": "1"}) }, nil,
			func() int64 { return topicRev("a") }},
		{"leader epochs", func() error { return s.SetLeaderEpochs("a", []int32{1, 0, 2}) }, nil, func() int64 { return topicRev("a") }},
		{"leader epochs down", func() error { return s.SetLeaderEpochs("a", []int32{0, 0, 2}) }, ErrInvalidTopic, nil},
		{"mirror", func() error { return s.SetMirror("b", &Mirror{Link: "l", State: MirrorActive}) }, nil,
			func() int64 { return topicRev("b") }},
		{"broker configs", func() error { return s.SetBrokerConfigs(-1, map[string]string{"x": "y"}) }, nil,
			func() int64 { _, r := s.BrokerConfigsRev(-1); return r }},
		{"create link", func() error { return s.CreateLink(Link{Name: "l"}) }, nil, func() int64 { return linkRev("l") }},
		{"create link again", func() error { return s.CreateLink(Link{Name: "l"}) }, ErrLinkExists, nil},
		{"link configs", func() error { return s.SetLinkConfigs("l", map[string]string{"k": "v"}) }, nil,
			func() int64 { return linkRev("l") }},
		{"producer ids", func() error { _, err := s.AllocateProducerIDs(0, 10); return err }, nil, nil},
		{"delete unknown topic", func() error { _, err := s.DeleteTopic("zz"); return err }, ErrUnknownTopic, nil},
		{"delete topic", func() error { _, err := s.DeleteTopic("b"); return err }, nil, nil},
		{"delete link", func() error { _, err := s.DeleteLink("l"); return err }, nil, nil},
	}
	for _, st := range steps {
		before := s.Revision()
		err := st.do()
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
		want := before + 1
		if st.wantErr != nil {
			want = before
		}
		if got := s.Revision(); got != want {
			t.Fatalf("%s: revision %d -> %d, want %d", st.name, before, got, want)
		}
		if st.rev != nil {
			if got := st.rev(); got != want {
				t.Fatalf("%s: record ModRevision %d, want %d", st.name, got, want)
			}
		}
	}
	// ListTopics is one consistent read.
	ts, rev := s.ListTopics()
	if rev != s.Revision() || len(ts) != 1 || ts[0].Name != "a" {
		t.Fatalf("ListTopics = %v at %d, store at %d", names(ts), rev, s.Revision())
	}
}

func TestCompareAndSet(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	if err := s.CreateTopic(Topic{Name: "t", Partitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(Link{Name: "l"}); err != nil {
		t.Fatal(err)
	}
	orig, _ := s.Topic("t")
	cases := []struct {
		name    string
		change  func(t *Topic)
		wantErr error
	}{
		{"stale revision", func(t *Topic) { t.ModRevision--; t.Configs = map[string]string{"a": "b"} }, ErrConflict},
		{"future revision", func(t *Topic) { t.ModRevision += 5 }, ErrConflict},
		{"new id", func(t *Topic) { t.ID[0]++ }, ErrInvalidTopic},
		{"new creation time", func(t *Topic) { t.CreatedMs++ }, ErrInvalidTopic},
		{"fewer partitions", func(t *Topic) { t.Partitions, t.LeaderEpochs = 1, t.LeaderEpochs[:1] }, ErrInvalidPartitions},
		{"epochs not one per partition", func(t *Topic) { t.Partitions = 3 }, ErrInvalidTopic},
		{"epoch down", func(t *Topic) { t.LeaderEpochs = []int32{-1, 0} }, ErrInvalidTopic},
		{"unknown topic", func(t *Topic) { t.Name = "nope" }, ErrUnknownTopic},
		{"grow and raise epochs", func(t *Topic) { t.Partitions, t.LeaderEpochs = 3, []int32{1, 0, 0} }, nil},
	}
	for _, c := range cases {
		cur, _ := s.Topic("t")
		rev := s.Revision()
		in := cur.Clone()
		c.change(&in)
		out, err := s.CompareAndSetTopic(in)
		if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: err %v, want %v", c.name, err, c.wantErr)
		}
		after, _ := s.Topic("t")
		if c.wantErr != nil {
			if s.Revision() != rev || !reflect.DeepEqual(after, cur) {
				t.Fatalf("%s: a refused write changed the store: %+v (revision %d -> %d)", c.name, after, rev, s.Revision())
			}
			continue
		}
		if out.ModRevision != rev+1 || !reflect.DeepEqual(after, out) || after.Partitions != 3 {
			t.Fatalf("%s: wrote %+v, store has %+v at %d", c.name, out, after, s.Revision())
		}
	}
	// The first read is stale now.
	if _, err := s.CompareAndSetTopic(orig); !errors.Is(err, ErrConflict) {
		t.Fatalf("write with the creation revision after a change: %v", err)
	}
	if _, err := s.DeleteTopicIf("t", orig.ModRevision); !errors.Is(err, ErrConflict) {
		t.Fatalf("DeleteTopicIf with a stale revision: %v", err)
	}
	if _, ok := s.Topic("t"); !ok {
		t.Fatal("a refused DeleteTopicIf deleted the topic")
	}
	cur, _ := s.Topic("t")
	if del, err := s.DeleteTopicIf("t", cur.ModRevision); err != nil || del.Name != "t" {
		t.Fatalf("DeleteTopicIf with the current revision: %v", err)
	}

	// Broker configs: none set is revision 0, as a missing etcd key.
	if c, r := s.BrokerConfigsRev(1); c != nil || r != 0 {
		t.Fatalf("unset broker configs: %v at %d", c, r)
	}
	r1, err := s.CompareAndSetBrokerConfigs(1, map[string]string{"a": "1"}, 0)
	if err != nil || r1 != s.Revision() {
		t.Fatalf("first broker configs: %d, %v", r1, err)
	}
	if _, err := s.CompareAndSetBrokerConfigs(1, map[string]string{"a": "2"}, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("broker configs from a stale empty read: %v", err)
	}
	if _, err := s.CompareAndSetBrokerConfigs(1, nil, r1-1); !errors.Is(err, ErrConflict) {
		t.Fatalf("broker configs with a stale revision: %v", err)
	}
	if c, r := s.BrokerConfigsRev(1); c["a"] != "1" || r != r1 {
		t.Fatalf("refused writes changed broker configs: %v at %d", c, r)
	}
	if r, err := s.CompareAndSetBrokerConfigs(1, nil, r1); err != nil || r != 0 || s.BrokerConfigs(1) != nil {
		t.Fatalf("clearing broker configs: %d, %v, %v", r, err, s.BrokerConfigs(1))
	}

	l, _ := s.Link("l")
	stale := l.Clone()
	l.Configs = map[string]string{"k": "v"}
	nl, err := s.CompareAndSetLink(l)
	if err != nil || nl.ModRevision != s.Revision() || nl.Configs["k"] != "v" {
		t.Fatalf("CompareAndSetLink = %+v, %v", nl, err)
	}
	if _, err := s.CompareAndSetLink(stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale link write: %v", err)
	}
	if _, err := s.CompareAndSetLink(Link{Name: "nope"}); !errors.Is(err, ErrUnknownLink) {
		t.Fatalf("unknown link: %v", err)
	}
}

// TestUpdateTopicRetriesOnConflict makes another write land between
// UpdateTopic's read and its compare-and-set: the update must re-read and
// apply its change on top, losing neither write.
func TestUpdateTopicRetriesOnConflict(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	if err := s.CreateTopic(Topic{Name: "t", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	out, err := UpdateTopic(s, "t", func(tp *Topic) error {
		calls++
		if calls == 1 { // a concurrent writer
			if err := s.SetTopicConfigs("t", map[string]string{"retention.ms": "5"}); err != nil {
				t.Fatal(err)
			}
		}
		tp.LeaderEpochs[0] = 7
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("UpdateTopic: %v after %d calls, want success after 2", err, calls)
	}
	got, _ := s.Topic("t")
	if got.LeaderEpochs[0] != 7 || got.Configs["retention.ms"] != "5" || !reflect.DeepEqual(got, out) {
		t.Fatalf("after the retried update: %+v (returned %+v)", got, out)
	}
	// A change that fails ends the update.
	boom := errors.New("boom")
	if _, err := UpdateTopic(s, "t", func(*Topic) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing change: %v", err)
	}
	// A writer that always wins exhausts the retries.
	_, err = UpdateTopic(s, "t", func(tp *Topic) error {
		_ = s.SetTopicConfigs("t", map[string]string{"retention.ms": tp.Configs["retention.ms"] + "0"})
		return nil
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("update that always loses: %v", err)
	}

	if err := s.CreateLink(Link{Name: "l"}); err != nil {
		t.Fatal(err)
	}
	calls = 0
	_, err = UpdateLink(s, "l", func(l *Link) error {
		calls++
		if calls == 1 {
			_ = s.SetLinkConfigs("l", map[string]string{"a": "1"})
		}
		l.SourceClusterID = "src"
		return nil
	})
	if l, _ := s.Link("l"); err != nil || calls != 2 || l.SourceClusterID != "src" || l.Configs["a"] != "1" {
		t.Fatalf("UpdateLink: %v after %d calls: %+v", err, calls, l)
	}
}

func TestRevisionSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := s.CreateTopic(Topic{Name: n, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateLink(Link{Name: "l"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBrokerConfigs(1, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	bcRev := s.Revision()
	if _, err := s.DeleteTopic("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AllocateProducerIDs(0, 1); err != nil {
		t.Fatal(err)
	}
	topics, rev := s.ListTopics()
	links := s.Links()
	s.Close()

	s = open(t, dir, 1)
	if got := s.Revision(); got != rev {
		t.Fatalf("revision after reopen %d, want %d", got, rev)
	}
	if got, gotRev := s.ListTopics(); !reflect.DeepEqual(got, topics) || gotRev != rev {
		t.Fatalf("topics after reopen %+v at %d, want %+v at %d", got, gotRev, topics, rev)
	}
	if got := s.Links(); !reflect.DeepEqual(got, links) {
		t.Fatalf("links after reopen %+v, want %+v", got, links)
	}
	if c, r := s.BrokerConfigsRev(1); c["k"] != "v" || r != bcRev {
		t.Fatalf("broker configs after reopen %v at %d, want at %d", c, r, bcRev)
	}
	// Revisions are never reused.
	if err := s.CreateTopic(Topic{Name: "b", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Topic("b"); b.ModRevision != rev+1 || s.Revision() != rev+1 {
		t.Fatalf("first write after reopen: topic at %d, store at %d, want %d", b.ModRevision, s.Revision(), rev+1)
	}
}

// TestMigrateFormat1 opens a database written before revisions existed
// (format 1: no meta/revision, records without mod_revision).
func TestMigrateFormat1(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(Topic{Name: "a", Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"x": "y"},
		Mirror: &Mirror{Link: "l", SourceTopic: "src", State: MirrorActive}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(Link{Name: "l", Configs: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	wantTopic, _ := s.Topic("a")
	bc := map[string]string{"log.retention.ms": "5"}
	wantLink, _ := s.Link("l")
	s.Close()

	// Rewrite it as format 1 had it.
	db, err := bolt.Open(filepath.Join(dir, metadataDirName, metadataDBName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, bk := range [][]byte{bucketTopics, bucketLinks} {
			b := tx.Bucket(bk)
			var keys, vals [][]byte
			_ = b.ForEach(func(k, v []byte) error {
				var m map[string]any
				if err := json.Unmarshal(v, &m); err != nil {
					return err
				}
				delete(m, "mod_revision")
				nv, _ := json.Marshal(m)
				keys, vals = append(keys, append([]byte(nil), k...)), append(vals, nv)
				return nil
			})
			for i := range keys {
				if err := b.Put(keys[i], vals[i]); err != nil {
					return err
				}
			}
		}
		v1, _ := json.Marshal(bc) // format 1: the bare map
		if err := tx.Bucket(bucketBrokerConfigs).Put([]byte("-1"), v1); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyRevision); err != nil {
			return err
		}
		return meta.Put(keyFormatVersion, []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = open(t, dir, 1)
	if s.Revision() != 1 {
		t.Fatalf("migrated store at revision %d, want 1", s.Revision())
	}
	wantTopic.ModRevision, wantLink.ModRevision = 1, 1
	if got, _ := s.Topic("a"); !reflect.DeepEqual(got, wantTopic) {
		t.Fatalf("migrated topic %+v, want %+v", got, wantTopic)
	}
	if got, _ := s.Link("l"); !reflect.DeepEqual(got, wantLink) {
		t.Fatalf("migrated link %+v, want %+v", got, wantLink)
	}
	if got, r := s.BrokerConfigsRev(-1); !reflect.DeepEqual(got, bc) || r != 1 {
		t.Fatalf("migrated broker configs %v at %d, want %v at 1", got, r, bc)
	}
	if _, err := UpdateTopic(s, "a", func(tp *Topic) error { tp.LeaderEpochs[1] = 3; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Topic("a"); got.ModRevision != 2 {
		t.Fatalf("first write after migration at %d, want 2", got.ModRevision)
	}
	s.Close()
	// The migration was persisted: format 2 from now on.
	s = open(t, dir, 1)
	if got, _ := s.Topic("a"); s.Revision() != 2 || got.ModRevision != 2 || got.LeaderEpochs[1] != 3 {
		t.Fatalf("after reopen: store at %d, topic %+v", s.Revision(), got)
	}
}

func TestWatchRevision(t *testing.T) {
	s := open(t, t.TempDir(), 1)
	ch, cancel := s.WatchRevision()
	defer cancel()
	select {
	case r := <-ch:
		t.Fatalf("revision %d before any change", r)
	default:
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := s.CreateTopic(Topic{Name: n, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Three writes, one pending value: the newest.
	select {
	case r := <-ch:
		if r != s.Revision() || r != 4 {
			t.Fatalf("got revision %d, store at %d, want 4", r, s.Revision())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no revision")
	}
	select {
	case r := <-ch:
		t.Fatalf("second value %d for coalesced writes", r)
	default:
	}
	// Failed writes send nothing.
	if err := s.CreateTopic(Topic{Name: "a", Partitions: 1, ReplicationFactor: 1}); !errors.Is(err, ErrTopicExists) {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		t.Fatalf("revision %d after a failed write", r)
	default:
	}
	s.Close()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after Close")
	}
	ch2, cancel2 := s.WatchRevision()
	if _, ok := <-ch2; ok {
		t.Fatal("WatchRevision after Close returned an open channel")
	}
	cancel2()
}
