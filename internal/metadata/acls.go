package metadata

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// ACLs are kept one record per binding: the key is the binding's canonical
// JSON encoding (aclKey), so a binding exists at most once and creating it
// again changes nothing, as Kafka's AclControlManager.createAcls does with
// its existingAcls set. The value is the aclRecord with the revision it was
// created at.

var bucketACLs = []byte("acls")

// aclRecord is a binding as stored. The enums are Kafka's wire codes, which
// never change meaning.
type aclRecord struct {
	ResourceType int8   `json:"resource_type"`
	Name         string `json:"name"`
	PatternType  int8   `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    int8   `json:"operation"`
	Permission   int8   `json:"permission"`
	ModRevision  int64  `json:"mod_revision,omitempty"`
}

func recordOf(b acl.Binding) aclRecord {
	return aclRecord{ResourceType: int8(b.Type), Name: b.Name, PatternType: int8(b.PatternType),
		Principal: b.Principal, Host: b.Host, Operation: int8(b.Operation), Permission: int8(b.Permission)}
}

func (r aclRecord) binding() acl.Binding {
	return acl.Binding{
		Pattern: acl.Pattern{Type: acl.ResourceType(r.ResourceType), Name: r.Name, PatternType: acl.PatternType(r.PatternType)},
		Entry: acl.Entry{Principal: r.Principal, Host: r.Host, Operation: acl.Operation(r.Operation),
			Permission: acl.Permission(r.Permission)},
	}
}

// aclKey is the binding's key: its record without revision, as JSON.
func aclKey(b acl.Binding) []byte {
	k, _ := json.Marshal(recordOf(b)) // a struct of strings and ints always encodes
	return k
}

// aclSet is the snapshot's ACL state: the bindings, sorted (compareBindings),
// and the revision of their last change (0 when never changed).
type aclSet struct {
	bindings []acl.Binding
	rev      int64
}

func compareBindings(a, b acl.Binding) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), strings.Compare(a.Name, b.Name), cmp.Compare(a.PatternType, b.PatternType),
		strings.Compare(a.Principal, b.Principal), strings.Compare(a.Host, b.Host),
		cmp.Compare(a.Operation, b.Operation), cmp.Compare(a.Permission, b.Permission))
}

// loadACLs reads the ACL bucket when the store opens.
func loadACLs(tx *bolt.Tx) (*aclSet, error) {
	set := &aclSet{}
	err := tx.Bucket(bucketACLs).ForEach(func(k, v []byte) error {
		var r aclRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: ACL %q: %w", errDamagedRecord, k, err)
		}
		set.bindings = append(set.bindings, r.binding())
		set.rev = max(set.rev, r.ModRevision)
		return nil
	})
	slices.SortFunc(set.bindings, compareBindings)
	return set, err
}

func (s *snapshot) aclBindings() []acl.Binding {
	if s.acls == nil {
		return nil
	}
	return s.acls.bindings
}

func (s *boltStore) ACLs() []acl.Binding {
	return slices.Clone(s.snap.Load().aclBindings())
}

func (s *boltStore) ACLRevision() int64 {
	if a := s.snap.Load().acls; a != nil {
		return a.rev
	}
	return 0
}

func (s *boltStore) CreateACLs(bindings []acl.Binding) error {
	for _, b := range bindings {
		if err := b.Validate(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	cur := s.snap.Load()
	have := cur.aclBindings()
	var add []acl.Binding
	seen := make(map[acl.Binding]bool, len(bindings))
	for _, b := range bindings {
		if seen[b] {
			continue
		}
		seen[b] = true
		if _, found := slices.BinarySearchFunc(have, b, compareBindings); !found {
			add = append(add, b)
		}
	}
	if len(add) == 0 {
		return nil // all exist already: nothing to write (Kafka writes no record)
	}
	rev := cur.rev + 1
	next := append(slices.Clone(have), add...)
	slices.SortFunc(next, compareBindings)
	snap := *cur
	snap.acls = &aclSet{bindings: next, rev: rev}
	return s.commit(nextRev(&snap), func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketACLs)
		for _, b := range add {
			r := recordOf(b)
			r.ModRevision = rev
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := bk.Put(aclKey(b), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) DeleteACLs(filters []acl.Filter) ([][]acl.Binding, error) {
	for _, f := range filters {
		if err := f.Validate(); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	cur := s.snap.Load()
	have := cur.aclBindings()
	// Every filter is matched against the ACLs as they were before the
	// request, so a binding two filters match is reported by both, and
	// all deletions commit together (AclControlManager.deleteAcls:
	// ControllerResult.atomicOf).
	out := make([][]acl.Binding, len(filters))
	gone := make([]bool, len(have))
	n := 0
	for i, f := range filters {
		for j, b := range have {
			if f.Matches(b) {
				out[i] = append(out[i], b)
				if !gone[j] {
					gone[j] = true
					n++
				}
			}
		}
	}
	if n == 0 {
		return out, nil
	}
	keep := make([]acl.Binding, 0, len(have)-n)
	for j, b := range have {
		if !gone[j] {
			keep = append(keep, b)
		}
	}
	snap := *cur
	snap.acls = &aclSet{bindings: keep, rev: cur.rev + 1}
	err := s.commit(nextRev(&snap), func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketACLs)
		for j, b := range have {
			if gone[j] {
				if err := bk.Delete(aclKey(b)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
