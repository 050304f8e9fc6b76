package metadata

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func TestLinksAndMirrorsPersist(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(Link{Name: "dr", SourceClusterID: "src", Configs: map[string]string{"bootstrap.servers": "a:9092"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(Link{Name: "dr"}); !errors.Is(err, ErrLinkExists) {
		t.Fatalf("duplicate link: %v", err)
	}
	if err := s.SetLinkConfigs("dr", map[string]string{"bootstrap.servers": "b:9092", "cluster.link.paused": "true"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinkConfigs("nope", nil); !errors.Is(err, ErrUnknownLink) {
		t.Fatalf("unknown link: %v", err)
	}
	if err := s.CreateTopic(Topic{Name: "m", Partitions: 2, ReplicationFactor: 1,
		Mirror: &Mirror{Link: "dr", SourceTopic: "orders", SourceTopicID: [16]byte{7}, State: "ACTIVE", StateTimeMs: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMirror("m", &Mirror{Link: "dr", SourceTopic: "orders", SourceTopicID: [16]byte{7}, State: "STOPPED", StateTimeMs: 9}); err != nil {
		t.Fatal(err)
	}
	l1, _ := s.Link("dr")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, ok := s.Link("dr")
	if !ok || l.ID != l1.ID || l.ID == ([16]byte{}) || l.SourceClusterID != "src" ||
		l.Configs["bootstrap.servers"] != "b:9092" || l.Configs["cluster.link.paused"] != "true" {
		t.Fatalf("link after reopen: %+v", l)
	}
	m, ok := s.Topic("m")
	if !ok || m.Mirror == nil || m.Mirror.State != "STOPPED" || m.Mirror.SourceTopicID != ([16]byte{7}) || m.Mirror.StateTimeMs != 9 {
		t.Fatalf("mirror after reopen: %+v", m.Mirror)
	}
	// A copy handed out cannot change the store.
	m.Mirror.State = "ACTIVE"
	if again, _ := s.Topic("m"); again.Mirror.State != "STOPPED" {
		t.Fatal("store shares mirror state with callers")
	}
	if _, err := s.DeleteLink("dr"); err != nil {
		t.Fatal(err)
	}
	if len(s.Links()) != 0 {
		t.Fatal("link still listed after delete")
	}
}

// TestLinkSyncedACLsPersist: the ACLs a link's ACL sync created are kept
// with the link (CompareAndSetLink), survive a config change and a
// reopen, and are not shared with callers.
func TestLinkSyncedACLsPersist(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(Link{Name: "dr", Configs: map[string]string{"bootstrap.servers": "a:9092"}}); err != nil {
		t.Fatal(err)
	}
	b := acl.Binding{Pattern: acl.Pattern{Type: kmsg.ACLResourceTypeTopic, Name: "orders", PatternType: kmsg.ACLResourcePatternTypeLiteral},
		Entry: acl.Entry{Principal: "User:alice", Host: "*", Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow}}
	l, _ := s.Link("dr")
	l.SyncedACLs = []acl.Binding{b}
	if _, err := s.CompareAndSetLink(l); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinkConfigs("dr", map[string]string{"bootstrap.servers": "b:9092"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Link("dr")
	got.SyncedACLs[0].Name = "changed"
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, _ = s.Link("dr")
	if len(l.SyncedACLs) != 1 || l.SyncedACLs[0] != b || l.Configs["bootstrap.servers"] != "b:9092" {
		t.Fatalf("after reopen: %+v", l)
	}
}
