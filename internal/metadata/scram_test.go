package metadata

import (
	"errors"
	"testing"
)

func TestScramCredentials(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1)
	c := func(user, mech string, it int32) ScramCredential {
		return ScramCredential{User: user, Mechanism: mech, Salt: []byte("salt-" + user), StoredKey: []byte("sk"), ServerKey: []byte("svk"), Iterations: it}
	}
	rev := s.Revision()
	errs, err := s.AlterScramCredentials([]ScramCredential{c("alice", "SCRAM-SHA-512", 4096), c("alice", "SCRAM-SHA-256", 8192), c("bob", "SCRAM-SHA-256", 4096)}, nil)
	if err != nil || len(errs) != 3 || errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("upsert: %v %v", errs, err)
	}
	if s.Revision() != rev+1 {
		t.Fatalf("one write should raise the revision by one: %d -> %d", rev, s.Revision())
	}
	before := s.ScramCredentials()
	errs, err = s.AlterScramCredentials([]ScramCredential{{User: "x", Mechanism: "SCRAM-SHA-256"}},
		[]ScramDeletion{{"bob", "SCRAM-SHA-256"}, {"bob", "SCRAM-SHA-512"}, {"carol", "SCRAM-SHA-256"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownScramCredential) || !errors.Is(errs[2], ErrUnknownScramCredential) ||
		!errors.Is(errs[3], ErrInvalidScramCredential) {
		t.Fatalf("delete: %v %v", errs, err)
	}
	if len(before["bob"]) != 1 {
		t.Fatalf("an earlier snapshot changed: %v", before)
	}
	check := func(s Store) {
		t.Helper()
		all := s.ScramCredentials()
		if len(all) != 1 || len(all["alice"]) != 2 || all["alice"][0].Mechanism != "SCRAM-SHA-256" || all["alice"][0].Iterations != 8192 {
			t.Fatalf("credentials %+v", all)
		}
		got, ok := s.ScramCredential("alice", "SCRAM-SHA-512")
		if !ok || string(got.Salt) != "salt-alice" || string(got.StoredKey) != "sk" || string(got.ServerKey) != "svk" || got.Iterations != 4096 {
			t.Fatalf("alice/512: %+v %v", got, ok)
		}
		if _, ok := s.ScramCredential("bob", "SCRAM-SHA-256"); ok {
			t.Fatal("bob's credential survived its deletion")
		}
	}
	check(s)
	s.Close()
	check(open(t, dir, 1))
}
