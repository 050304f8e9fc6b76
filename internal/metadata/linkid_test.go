package metadata

import (
	"errors"
	"testing"
)

// TestSetLinkID: a link's id changes only from the id it has, is fixed,
// survives a reopen, and the mirrors bound to the old id move with it
// (those of another incarnation do not).
func TestSetLinkID(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(Link{Name: "L"}); err != nil {
		t.Fatal(err)
	}
	l, _ := s.Link("L")
	other := NewUUID()
	for _, tp := range []Topic{
		{Name: "bound", Partitions: 1, ReplicationFactor: 1, Mirror: &Mirror{Link: "L", LinkID: l.ID, SourceTopic: "x", State: MirrorActive}},
		{Name: "stale", Partitions: 1, ReplicationFactor: 1, Mirror: &Mirror{Link: "L", LinkID: other, SourceTopic: "y", State: MirrorActive}},
	} {
		if err := s.CreateTopic(tp); err != nil {
			t.Fatal(err)
		}
	}
	to := NewUUID()
	if _, err := s.SetLinkID("L", other, to); !errors.Is(err, ErrConflict) {
		t.Fatalf("SetLinkID from a wrong id: %v, want ErrConflict", err)
	}
	if _, err := s.SetLinkID("L", l.ID, to); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenBolt(dir, 1, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l, _ := s.Link("L"); l.ID != to || !l.IDFixed {
		t.Errorf("link after reopen: id %x fixed %v, want %x fixed", l.ID, l.IDFixed, to)
	}
	if tp, _ := s.Topic("bound"); tp.Mirror.LinkID != to {
		t.Errorf("bound mirror's link id %x, want %x", tp.Mirror.LinkID, to)
	}
	if tp, _ := s.Topic("stale"); tp.Mirror.LinkID != other {
		t.Errorf("stale mirror's link id changed to %x", tp.Mirror.LinkID)
	}
}
