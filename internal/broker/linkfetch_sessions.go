package broker

// LinkFetch sessions (32004_link_fetch.go): each holds the cursors of one
// link fetcher's partitions, so that a pipelined request continues where
// the request before it stopped.
//
// Bounds: at most linkFetchMaxSessions sessions on the broker; opening one
// more first drops the sessions idle longer than linkFetchSessionIdle,
// then, if the table is still full, the least recently used session (an
// idle one before one with a request in its Wait). A session idle longer
// than linkFetchSessionIdle is also dropped when it is next looked up. A
// dropped session's id, used again, names a new session without cursors,
// whose answers count from 0 again: the fetcher sees the sequence go back
// and starts over with a new id and explicit offsets.
//
// Locking (docs/lock-order.md): linkFetchSessions.mu guards the table and
// each session's bookkeeping (lastUsed, active, dead); it is a leaf, held
// only for map operations and a scan of at most linkFetchMaxSessions
// entries, never while reading a log or waiting. A session's own mu is
// held for the whole Wait of one of its requests (the sequence check, the
// reads, the long poll, the cursor updates): requests of one session on
// one connection are already serialized by the connection's writer, and
// the mutex serializes a session used from two connections. The table's
// mu may be taken under a session's mu, never the other way round.

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/auth"
)

const (
	// linkFetchMaxSessions bounds the sessions of the broker. A fetcher
	// keeps one session per source broker connection, so this is far
	// above what the links of a cluster need; a session with N cursors
	// costs about 48 bytes per cursor.
	linkFetchMaxSessions = 1000
	// linkFetchSessionIdle drops a session that saw no request for this
	// long (a fetcher that went away). A live fetcher sends a request at
	// least every max wait.
	linkFetchSessionIdle = 2 * time.Minute
)

// linkFetchKey names a partition's cursor.
type linkFetchKey struct {
	topicID   [16]byte
	partition int32
}

// linkFetchCursor is where a partition's next continuation reads from,
// and the leader epoch of the last batch returned before it (the
// continuation's LastFetchedEpoch, KIP-595).
type linkFetchCursor struct {
	offset    int64
	lastEpoch int32
}

type linkFetchSession struct {
	id        int64
	principal auth.Principal

	// mu is held for the whole Wait of one of the session's requests.
	mu sync.Mutex
	// answers counts the requests answered (guarded by mu): the next
	// answer's Sequence.
	answers int32
	// cursors (guarded by mu).
	cursors map[linkFetchKey]linkFetchCursor
	// answered is when the session's previous request was answered
	// (guarded by mu; zero before the first): the linger counts from it.
	answered time.Time

	// Guarded by linkFetchSessions.mu:
	lastUsed time.Time
	active   int  // requests between acquire and release
	dead     bool // dropped from the table
}

// linkFetchSessions is the broker's table of LinkFetch sessions. The zero
// value is ready to use.
type linkFetchSessions struct {
	mu sync.Mutex
	m  map[int64]*linkFetchSession
}

// acquire returns session id for a request from principal p, locked
// (release it with release), creating it when the id is unknown (first
// use, or dropped since: the new session's answers count from 0 again,
// which tells the fetcher). A session of another principal is
// FETCH_SESSION_ID_NOT_FOUND (it may neither read nor reset it).
func (c *linkFetchSessions) acquire(id int64, p auth.Principal, now time.Time) (*linkFetchSession, *kerr.Error) {
	for {
		s, err := c.lookup(id, p, now)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		c.mu.Lock()
		dead := s.dead
		if dead {
			s.active--
		}
		c.mu.Unlock()
		if !dead {
			return s, nil
		}
		// Dropped while we waited for its lock (evicted): use a new one.
		s.mu.Unlock()
	}
}

// lookup finds or creates session id and counts the request as active in
// it.
func (c *linkFetchSessions) lookup(id int64, p auth.Principal, now time.Time) (*linkFetchSession, *kerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.m[id]
	if s != nil && s.active == 0 && now.Sub(s.lastUsed) > linkFetchSessionIdle {
		c.removeLocked(s)
		s = nil
	}
	if s != nil && s.principal != p {
		return nil, kerr.FetchSessionIDNotFound
	}
	if s == nil {
		c.makeRoomLocked(now)
		s = &linkFetchSession{id: id, principal: p, cursors: map[linkFetchKey]linkFetchCursor{}}
		if c.m == nil {
			c.m = map[int64]*linkFetchSession{}
		}
		c.m[id] = s
	}
	s.active++
	s.lastUsed = now
	return s, nil
}

// release ends a request's use of s (acquired) and unlocks it.
func (c *linkFetchSessions) release(s *linkFetchSession, now time.Time) {
	c.mu.Lock()
	s.active--
	s.lastUsed = now
	c.mu.Unlock()
	s.mu.Unlock()
}

// removeLocked drops s from the table.
func (c *linkFetchSessions) removeLocked(s *linkFetchSession) {
	if c.m[s.id] == s {
		delete(c.m, s.id)
	}
	s.dead = true
}

// makeRoomLocked drops the idle sessions and, if the table is still full,
// the least recently used one (an idle one first).
func (c *linkFetchSessions) makeRoomLocked(now time.Time) {
	var victim *linkFetchSession
	for _, s := range c.m {
		if s.active == 0 && now.Sub(s.lastUsed) > linkFetchSessionIdle {
			c.removeLocked(s)
			continue
		}
		if victim == nil || evictBefore(s, victim) {
			victim = s
		}
	}
	if len(c.m) >= linkFetchMaxSessions && victim != nil {
		c.removeLocked(victim)
	}
}

// evictBefore: a is dropped before b to make room (idle first, then the
// least recently used).
func evictBefore(a, b *linkFetchSession) bool {
	if (a.active == 0) != (b.active == 0) {
		return a.active == 0
	}
	return a.lastUsed.Before(b.lastUsed)
}

// len is the number of sessions (tests).
func (c *linkFetchSessions) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// DropLinkFetchSessions drops every LinkFetch session, as eviction would
// (a request in its Wait finishes on the dropped session; the next
// request naming its id starts a new one at Sequence 0, without cursors).
// It returns how many were dropped. Tests of the fetchers' recovery
// (internal/fetcher, which cannot reach the broker's unexported state)
// call it on a running broker; eviction itself needs 1000 sessions or two
// idle minutes.
func (b *Broker) DropLinkFetchSessions() int {
	c := &b.linkFetches
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.m)
	for _, s := range c.m {
		c.removeLocked(s)
	}
	return n
}

// linkFetchConn is the LinkFetch session a connection named last, and a
// channel closed when a request names another one. A fetcher starting a
// new session (linkFetchConn is per connection: its old session's
// requests are ahead of the new one's) does not need the old session's
// parked long polls answered at max wait: they answer at once
// (32004_link_fetch.go). mu is a leaf.
type linkFetchConn struct {
	mu      sync.Mutex
	session int64
	changed chan struct{}
}

// name records that a request of session id arrived (request goroutine).
func (c *linkFetchConn) name(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == id {
		return
	}
	c.session = id
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

// superseded reports whether a request named another session after id,
// and returns a channel closed when one does.
func (c *linkFetchConn) superseded(id int64) (bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != id {
		return true, nil
	}
	return false, c.changed
}
