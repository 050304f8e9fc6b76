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
		Configs: l.Configs, CreatedMs: l.CreatedMs, ModRevision: l.ModRevision}
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
		ModRevision: r.ModRevision}
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

func (s *boltStore) DeleteLink(name string) (Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Link{}, ErrClosed
	}
	cur := s.snap.Load()
	l, ok := cur.links[name]
	if !ok {
		return Link{}, errUnknownLink(name)
	}
	err := s.commit(nextRev(cur.withLink(l, true)), func(tx *bolt.Tx) error {
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
