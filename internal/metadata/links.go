package metadata

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-streaming/tandem/internal/usererr"
)

func encodeLink(l Link) ([]byte, error) {
	r := linkRecord{Name: l.Name, ID: UUIDString(l.ID), SourceClusterID: l.SourceClusterID,
		Configs: l.Configs, CreatedMs: l.CreatedMs, ModRevision: l.ModRevision, IDFixed: l.IDFixed}
	for _, b := range l.SyncedACLs {
		r.SyncedACLs = append(r.SyncedACLs, recordOf(b))
	}
	return json.Marshal(r)
}

func decodeLink(b []byte) (Link, error) {
	var r linkRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Link{}, err
	}
	id, err := ParseUUID(r.ID)
	if err != nil {
		return Link{}, err
	}
	l := Link{Name: r.Name, ID: id, SourceClusterID: r.SourceClusterID, Configs: r.Configs, CreatedMs: r.CreatedMs,
		ModRevision: r.ModRevision, IDFixed: r.IDFixed}
	for _, a := range r.SyncedACLs {
		l.SyncedACLs = append(l.SyncedACLs, a.binding())
	}
	return l, nil
}

func (s *boltStore) Links() []Link {
	snap := s.snap.Load()
	out := make([]Link, 0, len(snap.links))
	for _, l := range snap.links {
		out = append(out, l.Clone())
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *boltStore) Link(name string) (Link, bool) {
	l, ok := s.snap.Load().links[name]
	return l.Clone(), ok
}

// putLink commits l under mu, at the next revision.
func (s *boltStore) putLink(cur *snapshot, l Link) error {
	l.ModRevision = cur.rev + 1
	rec, err := encodeLink(l)
	if err != nil {
		return fmt.Errorf("cluster metadata: %w", err)
	}
	return s.commit(nextRev(cur.withLink(l, false)), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLinks).Put([]byte(l.Name), rec)
	})
}

func (s *boltStore) CreateLink(l Link) error {
	l = l.Clone()
	if l.Name == "" {
		return fmt.Errorf("cluster metadata: empty link name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	cur := s.snap.Load()
	if _, ok := cur.links[l.Name]; ok {
		return usererr.New(ErrLinkExists, "cluster link '%s' already exists", l.Name)
	}
	if l.ID == ([16]byte{}) {
		l.ID = NewUUID()
	}
	if l.CreatedMs == 0 {
		l.CreatedMs = time.Now().UnixMilli()
	}
	return s.putLink(cur, l)
}

func (s *boltStore) SetLinkConfigs(name string, configs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	cur := s.snap.Load()
	l, ok := cur.links[name]
	if !ok {
		return errUnknownLink(name)
	}
	l = l.Clone()
	l.Configs = maps.Clone(configs)
	return s.putLink(cur, l)
}

func (s *boltStore) CompareAndSetLink(l Link) (Link, error) {
	l = l.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Link{}, ErrClosed
	}
	cur := s.snap.Load()
	old, ok := cur.links[l.Name]
	switch {
	case !ok:
		return Link{}, errUnknownLink(l.Name)
	case old.ModRevision != l.ModRevision:
		return Link{}, fmt.Errorf("%w: link %s is at revision %d, not %d", ErrConflict, l.Name, old.ModRevision, l.ModRevision)
	case old.ID != l.ID || old.CreatedMs != l.CreatedMs:
		return Link{}, fmt.Errorf("cluster metadata: link %s: id and creation time cannot change", l.Name)
	}
	if err := s.putLink(cur, l); err != nil {
		return Link{}, err
	}
	out, _ := s.snap.Load().links[l.Name]
	return out.Clone(), nil
}

// lockedLink takes mu (the caller unlocks it, even on error) and returns
// the current snapshot and link name in it.
func (s *boltStore) lockedLink(name string) (*snapshot, Link, error) {
	s.mu.Lock()
	if s.closed {
		return nil, Link{}, ErrClosed
	}
	cur := s.snap.Load()
	l, ok := cur.links[name]
	if !ok {
		return nil, Link{}, errUnknownLink(name)
	}
	return cur, l, nil
}

func (s *boltStore) SetLinkID(name string, from, to [16]byte) (Link, error) {
	cur, l, err := s.lockedLink(name)
	defer s.mu.Unlock()
	if err != nil {
		return Link{}, err
	}
	if l.ID != from {
		return Link{}, fmt.Errorf("%w: link %s has id %s, not %s", ErrConflict, name, UUIDString(l.ID), UUIDString(from))
	}
	if to == ([16]byte{}) {
		return Link{}, fmt.Errorf("cluster metadata: link %s: zero id", name)
	}
	l = l.Clone()
	l.ID, l.IDFixed, l.ModRevision = to, true, cur.rev+1
	rec, err := encodeLink(l)
	if err != nil {
		return Link{}, fmt.Errorf("cluster metadata: %w", err)
	}
	next := cur.withLink(l, false)
	recs := map[string][]byte{}
	if from != to {
		for _, t := range cur.topics {
			if t.Mirror == nil || t.Mirror.Link != name || t.Mirror.LinkID != from {
				continue
			}
			t = t.Clone()
			m := *t.Mirror
			m.LinkID = to
			t.Mirror, t.ModRevision = &m, cur.rev+1
			b, err := encodeTopic(t)
			if err != nil {
				return Link{}, fmt.Errorf("cluster metadata: %w", err)
			}
			recs[t.Name] = b
			next = next.withTopic(t)
		}
	}
	err = s.commit(nextRev(next), func(tx *bolt.Tx) error {
		for n, b := range recs {
			if err := tx.Bucket(bucketTopics).Put([]byte(n), b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketLinks).Put([]byte(name), rec)
	})
	if err != nil {
		return Link{}, err
	}
	return l.Clone(), nil
}

func (s *boltStore) DeleteLink(name string) (Link, error) {
	cur, l, err := s.lockedLink(name)
	defer s.mu.Unlock()
	if err != nil {
		return Link{}, err
	}
	err = s.commit(nextRev(cur.withLink(l, true)), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLinks).Delete([]byte(name))
	})
	return l.Clone(), err
}

func (s *boltStore) SetMirror(topic string, m *Mirror) error {
	if m != nil {
		c := *m
		m = &c
	}
	return s.updateTopic(topic, func(t *Topic) error {
		t.Mirror = m
		return nil
	})
}

func (s *boltStore) SetLeaderEpochs(topic string, epochs []int32) error {
	epochs = slices.Clone(epochs)
	return s.updateTopic(topic, func(t *Topic) error {
		if len(epochs) != len(t.LeaderEpochs) {
			return fmt.Errorf("%w: topic %s: %d leader epochs for %d partitions", ErrInvalidTopic, topic, len(epochs), len(t.LeaderEpochs))
		}
		for i, e := range epochs {
			if e < t.LeaderEpochs[i] {
				return fmt.Errorf("%w: topic %s partition %d: leader epoch %d below %d", ErrInvalidTopic, topic, i, e, t.LeaderEpochs[i])
			}
		}
		t.LeaderEpochs = epochs
		return nil
	})
}

// errUnknownLink is ErrUnknownLink naming the link.
func errUnknownLink(name string) error {
	return usererr.New(ErrUnknownLink, "cluster link '%s' does not exist", name)
}
