package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/auth"
)

// The session table's bounds: sessions idle longer than
// linkFetchSessionIdle are dropped (on lookup, and when a session is
// opened), and a full table drops its least recently used idle session.
func TestLinkFetchSessionBounds(t *testing.T) {
	var c linkFetchSessions
	p := auth.Principal{Type: auth.UserType, Name: "p"}
	t0 := time.Unix(1000, 0)
	use := func(id int64, seq int32, now time.Time) *kerr.Error {
		s, err := c.acquire(id, seq, p, now)
		if err == nil {
			c.release(s, now)
		}
		return err
	}
	if err := use(1, 0, t0); err != nil {
		t.Fatal(err)
	}
	if err := use(1, 1, t0.Add(linkFetchSessionIdle)); err != nil {
		t.Fatalf("used just within the idle time: %v", err)
	}
	if err := use(1, 2, t0.Add(2*linkFetchSessionIdle+time.Millisecond)); err != kerr.FetchSessionIDNotFound {
		t.Fatalf("idle too long: %v", err)
	}
	if c.len() != 0 {
		t.Fatalf("%d sessions left", c.len())
	}

	// Fill the table; session 1 is the least recently used.
	for id := int64(1); id <= linkFetchMaxSessions; id++ {
		if err := use(id, 0, t0.Add(time.Duration(id)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if err := use(1, 1, t0.Add(time.Second)); err != nil { // now 2 is the oldest
		t.Fatal(err)
	}
	// One session in a Wait is not dropped before an idle one.
	held, err := c.acquire(2, 1, p, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := use(5000, 0, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c.len() != linkFetchMaxSessions {
		t.Fatalf("%d sessions, want %d", c.len(), linkFetchMaxSessions)
	}
	if err := use(3, 1, t0.Add(2*time.Second)); err != kerr.FetchSessionIDNotFound {
		t.Fatalf("session 3 (the oldest idle one) was kept: %v", err)
	}
	for id, seq := range map[int64]int32{1: 2, 4: 1, 5000: 1} {
		if err := use(id, seq, t0.Add(2*time.Second)); err != nil {
			t.Fatalf("session %d: %v", id, err)
		}
	}
	c.release(held, t0.Add(3*time.Second))

	// Everything idle for long: opening one more drops them all.
	if err := use(6000, 0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c.len() != 1 {
		t.Fatalf("%d sessions after a sweep", c.len())
	}
}

// A session dropped while a request waited for its lock: a continuation
// finds it gone, a sequence 0 opens a new one.
func TestLinkFetchSessionDroppedWhileWaiting(t *testing.T) {
	var c linkFetchSessions
	p := auth.Principal{Type: auth.UserType, Name: "p"}
	now := time.Unix(1000, 0)
	s, err := c.acquire(9, 0, p, now)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan *kerr.Error, 2)
	for _, seq := range []int32{1, 0} {
		go func() {
			s, err := c.acquire(9, seq, p, now)
			if err == nil {
				c.release(s, now)
			}
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // both wait for s.mu
	c.mu.Lock()
	c.removeLocked(s)
	c.mu.Unlock()
	c.release(s, now)
	got := map[*kerr.Error]int{}
	got[<-errs]++
	got[<-errs]++
	// Whichever runs first, the continuation finds the session gone and
	// the sequence 0 opens a new one.
	if got[nil] != 1 || got[kerr.FetchSessionIDNotFound] != 1 {
		t.Fatalf("results %v", got)
	}
	if c.len() != 1 {
		t.Fatalf("%d sessions", c.len())
	}
}
