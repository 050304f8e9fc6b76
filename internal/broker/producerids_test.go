package broker

import (
	"errors"
	"math"
	"testing"
)

// fakePIDStore is a metadata store's producer-id counter: max(next,
// atLeast), then next = first+n, as bolt's AllocateProducerIDs.
type fakePIDStore struct {
	next  int64
	calls int
	err   error
}

func (s *fakePIDStore) AllocateProducerIDs(atLeast, n int64) (int64, error) {
	s.calls++
	if s.err != nil {
		return 0, s.err
	}
	first := max(s.next, atLeast)
	s.next = first + n
	return first, nil
}

// The allocator never hands out an id at or below its floor (the largest
// producer id seen in mirrored data): a floor inside the current block
// drops the rest of it and reserves a block above the floor; a floor below
// the ids handed out changes nothing.
func TestProducerIDFloor(t *testing.T) {
	s := &fakePIDStore{}
	p := newProducerIDs(s)
	next := func(want int64) {
		t.Helper()
		id, err := p.next()
		if err != nil || id != want {
			t.Fatalf("next: %d, %v; want %d", id, err, want)
		}
	}
	// A fresh destination that has mirrored source producers 0..6.
	p.observe(6)
	p.observe(2) // lower: no effect
	next(7)
	next(8)
	if s.calls != 1 || s.next != 7+producerIDBlock {
		t.Fatalf("%d reservations, store next %d; want 1, %d", s.calls, s.next, 7+producerIDBlock)
	}
	// Below what is handed out already: the block goes on.
	p.observe(8)
	next(9)
	// Into the block: ids 10..500 may be a source's now; skip past them
	// within the block, which is still this allocator's alone.
	p.observe(500)
	next(501)
	next(502)
	if s.calls != 1 {
		t.Fatalf("%d reservations; want 1", s.calls)
	}
	// Past the block's end: a block at or above the floor is reserved.
	p.observe(10_000)
	next(10_001)
	if s.calls != 2 || s.next != 10_001+producerIDBlock {
		t.Fatalf("%d reservations, store next %d; want 2, %d", s.calls, s.next, 10_001+producerIDBlock)
	}
	// To the block's last id, then a new block from the store's counter.
	p.observe(10_001 + producerIDBlock - 2)
	next(10_001 + producerIDBlock - 1)
	next(10_001 + producerIDBlock)
	if s.calls != 3 {
		t.Fatalf("%d reservations; want 3", s.calls)
	}
	// A floor below the store's counter: the store's counter wins.
	q := newProducerIDs(&fakePIDStore{next: 3000})
	q.observe(1200)
	if id, err := q.next(); err != nil || id != 3000 {
		t.Fatalf("next with floor 1200, store at 3000: %d, %v", id, err)
	}
	// A failed reservation hands out nothing and is retried next time.
	r := newProducerIDs(&fakePIDStore{err: errors.New("store down")})
	r.observe(4)
	if _, err := r.next(); err == nil {
		t.Fatal("next succeeded with the store down")
	}
	r.store.(*fakePIDStore).err = nil
	if id, err := r.next(); err != nil || id != 5 {
		t.Fatalf("next after the store came back: %d, %v; want 5", id, err)
	}
	// The largest id: nothing is left above it.
	r.observe(math.MaxInt64)
	if _, err := r.next(); !errors.Is(err, errProducerIDsExhausted) {
		t.Fatalf("next with the floor at MaxInt64: %v", err)
	}
}
