package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-streaming/tandem/internal/usererr"
)

// SCRAM credentials (KIP-554): per user and mechanism, the salt, iteration
// count, StoredKey and ServerKey (RFC 5802 §3). Neither the password nor
// the salted password is stored. Each user is one record,
// scram_credentials/<user> in etcd terms, holding all its mechanisms.

// ErrUnknownScramCredential: a deletion of a credential that does not
// exist (Kafka's RESOURCE_NOT_FOUND).
var ErrUnknownScramCredential = errors.New("SCRAM credential does not exist")

// ErrInvalidScramCredential: an empty user or mechanism, or a credential
// without salt or keys.
var ErrInvalidScramCredential = errors.New("invalid SCRAM credential")

// ScramCredential is one user's credential for one mechanism
// ("SCRAM-SHA-256" or "SCRAM-SHA-512").
type ScramCredential struct {
	User       string
	Mechanism  string
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// ScramDeletion names a credential to delete.
type ScramDeletion struct {
	User      string
	Mechanism string
}

var bucketScram = []byte("scram_credentials")

type scramRecord struct {
	User        string                          `json:"user"`
	Credentials map[string]scramCredentialValue `json:"credentials"` // by mechanism
	ModRevision int64                           `json:"mod_revision"`
}

type scramCredentialValue struct {
	Salt       []byte `json:"salt"` // base64 in JSON
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
	Iterations int32  `json:"iterations"`
}

// scramSnapshot is the immutable view of every user's credentials, by user
// then mechanism; replaced under mu after each committed change.
type scramSnapshot map[string]map[string]scramCredentialValue

// loadScram creates the bucket if needed and loads the credentials.
func (s *boltStore) loadScram() error {
	snap := scramSnapshot{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketScram)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r scramRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("%w: SCRAM credentials of %q: %w", errDamagedRecord, k, err)
			}
			snap[r.User] = r.Credentials
			return nil
		})
	})
	if err != nil {
		return err
	}
	s.scram.Store(&snap)
	return nil
}

func (s *boltStore) scramSnap() scramSnapshot {
	if p := s.scram.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *boltStore) ScramCredentials() map[string][]ScramCredential {
	out := map[string][]ScramCredential{}
	for user, creds := range s.scramSnap() {
		for _, mech := range slices.Sorted(maps.Keys(creds)) {
			out[user] = append(out[user], creds[mech].credential(user, mech))
		}
	}
	return out
}

func (s *boltStore) ScramCredential(user, mechanism string) (ScramCredential, bool) {
	v, ok := s.scramSnap()[user][mechanism]
	if !ok {
		return ScramCredential{}, false
	}
	return v.credential(user, mechanism), true
}

func (v scramCredentialValue) credential(user, mech string) ScramCredential {
	return ScramCredential{User: user, Mechanism: mech, Salt: slices.Clone(v.Salt), StoredKey: slices.Clone(v.StoredKey),
		ServerKey: slices.Clone(v.ServerKey), Iterations: v.Iterations}
}

func (s *boltStore) AlterScramCredentials(upserts []ScramCredential, deletions []ScramDeletion) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	cur := s.snapshotScram()
	next := maps.Clone(cur)
	touched := map[string]bool{}
	errs := make([]error, len(deletions)+len(upserts))
	for i, d := range deletions {
		if _, ok := next[d.User][d.Mechanism]; !ok {
			errs[i] = usererr.New(ErrUnknownScramCredential, "Attempt to delete a user credential that does not exist")
			continue
		}
		m := maps.Clone(next[d.User])
		delete(m, d.Mechanism)
		next[d.User] = m
		touched[d.User] = true
	}
	for i, u := range upserts {
		if u.User == "" || u.Mechanism == "" || len(u.Salt) == 0 || len(u.StoredKey) == 0 || len(u.ServerKey) == 0 || u.Iterations < 1 {
			errs[len(deletions)+i] = fmt.Errorf("%w: user '%s' mechanism '%s'", ErrInvalidScramCredential, u.User, u.Mechanism)
			continue
		}
		m := maps.Clone(next[u.User])
		if m == nil {
			m = map[string]scramCredentialValue{}
		}
		m[u.Mechanism] = scramCredentialValue{Salt: slices.Clone(u.Salt), StoredKey: slices.Clone(u.StoredKey),
			ServerKey: slices.Clone(u.ServerKey), Iterations: u.Iterations}
		next[u.User] = m
		touched[u.User] = true
	}
	if len(touched) == 0 {
		return errs, nil
	}
	snap := *s.snap.Load()
	rev := snap.rev + 1
	err := s.commit(nextRev(&snap), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketScram)
		for user := range touched {
			if len(next[user]) == 0 {
				delete(next, user)
				if err := b.Delete([]byte(user)); err != nil {
					return err
				}
				continue
			}
			rec, err := json.Marshal(scramRecord{User: user, Credentials: next[user], ModRevision: rev})
			if err != nil {
				return err
			}
			if err := b.Put([]byte(user), rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.scram.Store(&next)
	return errs, nil
}

// snapshotScram is the current credentials, never nil. mu must be held.
func (s *boltStore) snapshotScram() scramSnapshot {
	if snap := s.scramSnap(); snap != nil {
		return snap
	}
	return scramSnapshot{}
}
