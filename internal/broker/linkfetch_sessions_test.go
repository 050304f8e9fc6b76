package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// The session table's bounds: sessions idle longer than
// linkFetchSessionIdle are dropped (on lookup, and when a session is
// created), and a full table drops its least recently used idle session.
// A dropped id used again is a new session: its answers count from 0.
func TestLinkFetchSessionBounds(t *testing.T) {
	var c linkFetchSessions
	p := auth.Principal{Type: auth.UserType, Name: "p"}
	t0 := time.Unix(1000, 0)
	// use serves one request of session id and returns the Sequence its
	// answer would carry.
	use := func(id int64, now time.Time) int32 {
		t.Helper()
		s, err := c.acquire(id, p, now)
		if err != nil {
			t.Fatalf("session %d: %v", id, err)
		}
		seq := s.answers
		s.answers++
		c.release(s, now)
		return seq
	}
	if got := use(1, t0); got != 0 {
		t.Fatalf("first answer %d", got)
	}
	if got := use(1, t0.Add(linkFetchSessionIdle)); got != 1 {
		t.Fatalf("used just within the idle time: answer %d, want 1", got)
	}
	if got := use(1, t0.Add(2*linkFetchSessionIdle+time.Millisecond)); got != 0 {
		t.Fatalf("idle too long: answer %d, want 0 (a new session)", got)
	}
	if c.len() != 1 {
		t.Fatalf("%d sessions", c.len())
	}

	// Fill the table; session 1 is the least recently used.
	c = linkFetchSessions{}
	for id := int64(1); id <= linkFetchMaxSessions; id++ {
		use(id, t0.Add(time.Duration(id)*time.Millisecond))
	}
	use(1, t0.Add(time.Second)) // now 2 is the oldest
	// One session in a Wait is not dropped before an idle one.
	held, err := c.acquire(2, p, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	use(5000, t0.Add(2*time.Second))
	if c.len() != linkFetchMaxSessions {
		t.Fatalf("%d sessions, want %d", c.len(), linkFetchMaxSessions)
	}
	// Session 3 was the oldest idle one when 5000 came: dropped. Named
	// again it is new, and takes the place of 4, now the oldest idle.
	if got := use(3, t0.Add(2*time.Second)); got != 0 {
		t.Fatalf("session 3 (the oldest idle one) was kept: answer %d", got)
	}
	for id, want := range map[int64]int32{1: 2, 5000: 1, 4: 0} {
		if got := use(id, t0.Add(2*time.Second)); got != want {
			t.Fatalf("session %d: answer %d, want %d", id, got, want)
		}
	}
	c.release(held, t0.Add(3*time.Second))

	// Everything idle for long: creating one more drops them all.
	use(6000, t0.Add(time.Hour))
	if c.len() != 1 {
		t.Fatalf("%d sessions after a sweep", c.len())
	}

	// Another principal can neither use nor take over a session.
	if _, err := c.acquire(6000, auth.Principal{Type: auth.UserType, Name: "q"}, t0.Add(time.Hour)); err != kerr.FetchSessionIDNotFound {
		t.Fatalf("another principal's request: %v", err)
	}
}

// A session dropped while a request waited for its lock: the request
// gets a new session under the same id (its answers count from 0).
func TestLinkFetchSessionDroppedWhileWaiting(t *testing.T) {
	var c linkFetchSessions
	p := auth.Principal{Type: auth.UserType, Name: "p"}
	now := time.Unix(1000, 0)
	s, err := c.acquire(9, p, now)
	if err != nil {
		t.Fatal(err)
	}
	s.answers = 5
	got := make(chan *linkFetchSession, 1)
	go func() {
		s, err := c.acquire(9, p, now)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	time.Sleep(50 * time.Millisecond) // it waits for s.mu
	c.mu.Lock()
	c.removeLocked(s)
	c.mu.Unlock()
	c.release(s, now)
	s2 := <-got
	if s2 == s || s2.answers != 0 || len(s2.cursors) != 0 {
		t.Fatalf("the waiting request got the dropped session (or a used one): answers %d", s2.answers)
	}
	c.release(s2, now)
	if c.len() != 1 {
		t.Fatalf("%d sessions", c.len())
	}
}
