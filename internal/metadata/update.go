package metadata

import (
	"errors"
	"fmt"
)

// maxCASAttempts bounds the retries of UpdateTopic and UpdateLink. Each
// conflict means another write committed in between, so running out takes
// a writer that keeps winning; the caller then gets ErrConflict.
const maxCASAttempts = 16

// UpdateTopic reads topic name, applies change to a copy and writes it
// back with CompareAndSetTopic, re-reading and re-applying change when
// another write got in between (ErrConflict). change may run more than
// once and must depend only on the topic it is given; an error from it
// ends the update unchanged. It returns the topic as written.
//
// It is written against the Store interface so that every implementation
// (bbolt, etcd) gets the same read-modify-write loop, the shape of etcd's
// concurrency.STM retry.
func UpdateTopic(s Store, name string, change func(t *Topic) error) (Topic, error) {
	return update(name, "topic", s.Topic, ErrUnknownTopic, s.CompareAndSetTopic, change)
}

// UpdateLink is UpdateTopic for cluster links.
func UpdateLink(s Store, name string, change func(l *Link) error) (Link, error) {
	return update(name, "link", s.Link, ErrUnknownLink, s.CompareAndSetLink, change)
}

// update is the read, change, compare-and-set loop of one record kind.
func update[R any](name, kind string, get func(string) (R, bool), unknown error,
	cas func(R) (R, error), change func(*R) error) (R, error) {
	var zero R
	for range maxCASAttempts {
		r, ok := get(name)
		if !ok {
			return zero, fmt.Errorf("%w: %s", unknown, name)
		}
		if err := change(&r); err != nil {
			return zero, err
		}
		out, err := cas(r)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return out, err
	}
	return zero, fmt.Errorf("%w: %s %s: gave up after %d attempts", ErrConflict, kind, name, maxCASAttempts)
}
