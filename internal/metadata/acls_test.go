package metadata

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func testBinding(name string, pt acl.PatternType, principal string, op acl.Operation, perm acl.Permission) acl.Binding {
	return acl.Binding{
		Pattern: acl.Pattern{Type: kmsg.ACLResourceTypeTopic, Name: name, PatternType: pt},
		Entry:   acl.Entry{Principal: principal, Host: "*", Operation: op, Permission: perm},
	}
}

func TestACLsPersistAndDelete(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1)
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	read, write := kmsg.ACLOperationRead, kmsg.ACLOperationWrite
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	a := testBinding("orders", lit, "User:alice", read, allow)
	b := testBinding("orders", lit, "User:bob", write, deny)
	c := testBinding("ord", pre, "User:carol", read, allow)
	g := acl.Binding{Pattern: acl.Pattern{Type: kmsg.ACLResourceTypeGroup, Name: "*", PatternType: lit},
		Entry: acl.Entry{Principal: "User:*", Host: "10.0.0.1", Operation: read, Permission: allow}}

	if s.ACLRevision() != 0 || len(s.ACLs()) != 0 {
		t.Fatalf("new store has ACLs: %v at %d", s.ACLs(), s.ACLRevision())
	}
	if err := s.CreateACLs([]acl.Binding{a, b, c, g, a}); err != nil {
		t.Fatal(err)
	}
	rev := s.Revision()
	if s.ACLRevision() != rev {
		t.Fatalf("ACLRevision %d, store revision %d", s.ACLRevision(), rev)
	}
	// Creating existing bindings again is a no-op: no write, no revision.
	if err := s.CreateACLs([]acl.Binding{a, c}); err != nil || s.Revision() != rev {
		t.Fatalf("idempotent create: %v, revision %d -> %d", err, rev, s.Revision())
	}
	// An invalid binding fails the whole call before any write.
	bad := testBinding("", lit, "User:x", read, allow)
	d := testBinding("new", lit, "User:dave", read, allow)
	if err := s.CreateACLs([]acl.Binding{d, bad}); !errors.Is(err, acl.ErrInvalidBinding) || s.Revision() != rev {
		t.Fatalf("invalid create: %v, revision %d", err, s.Revision())
	}
	want := []acl.Binding{c, a, b, g} // sorted: topic "ord" < "orders"; group after topic
	if got := s.ACLs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ACLs() = %v\nwant %v", got, want)
	}
	// A topic change keeps the ACLs in the snapshot.
	if err := s.CreateTopic(Topic{Name: "t", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if got := s.ACLs(); !reflect.DeepEqual(got, want) || s.ACLRevision() != rev {
		t.Fatalf("after CreateTopic: %v at %d", got, s.ACLRevision())
	}
	s.Close()

	s = open(t, dir, 1)
	if got := s.ACLs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen ACLs() = %v", got)
	}
	if s.ACLRevision() != rev {
		t.Fatalf("after reopen ACLRevision %d, want %d", s.ACLRevision(), rev)
	}

	// Each filter sees the ACLs before the call; both report "orders/alice".
	name := "orders"
	alice := "User:alice"
	f1 := acl.AnyFilter
	f1.Name, f1.PatternType = &name, kmsg.ACLResourcePatternTypeMatch
	f1.Principal = &alice
	f2 := acl.AnyFilter
	f2.Operation = read
	f2.ResourceType = kmsg.ACLResourceTypeTopic
	f3 := acl.AnyFilter
	f3.Principal = &name // matches nothing
	got, err := s.DeleteACLs([]acl.Filter{f1, f2, f3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, [][]acl.Binding{{a}, {c, a}, nil}) {
		t.Fatalf("DeleteACLs = %v", got)
	}
	if got := s.ACLs(); !slices.Equal(got, []acl.Binding{b, g}) {
		t.Fatalf("after delete: %v", got)
	}
	// An invalid filter deletes nothing.
	bf := acl.AnyFilter
	bf.Operation = kmsg.ACLOperationUnknown
	if _, err := s.DeleteACLs([]acl.Filter{acl.AnyFilter, bf}); !errors.Is(err, acl.ErrInvalidBinding) || len(s.ACLs()) != 2 {
		t.Fatalf("invalid filter: %v, %d left", err, len(s.ACLs()))
	}
	s.Close()
	s = open(t, dir, 1)
	if got := s.ACLs(); !slices.Equal(got, []acl.Binding{b, g}) {
		t.Fatalf("after delete and reopen: %v", got)
	}
	if _, err := s.DeleteACLs([]acl.Filter{acl.AnyFilter}); err != nil || len(s.ACLs()) != 0 {
		t.Fatalf("delete all: %v, %v", err, s.ACLs())
	}
	// Callers cannot change the store through what it returns.
	_ = s.CreateACLs([]acl.Binding{a})
	got1 := s.ACLs()
	got1[0].Name = "changed"
	if s.ACLs()[0].Name != "orders" {
		t.Fatal("ACLs() shares its slice")
	}
}
