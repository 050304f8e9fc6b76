package fetcher

import (
	"encoding/binary"
	"testing"
)

// batchBytes is a v2-shaped batch header (only the fields nextOffset
// reads) of total size bytes holding offsets base..base+n-1.
func batchBytes(base int64, n int32, size int) []byte {
	if size < 27 {
		return nil
	}
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(size-12))
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	return b
}

func TestNextOffset(t *testing.T) {
	two := append(batchBytes(10, 5, 100), batchBytes(15, 3, 60)...)
	for _, tc := range []struct {
		name string
		b    []byte
		want int64
	}{
		{"empty", nil, -1},
		{"one", batchBytes(10, 5, 100), 15},
		{"two", two, 18},
		{"partial trailing batch", two[:130], 15},
		{"header only partial", two[:20], -1},
	} {
		if got := nextOffset(tc.b); got != tc.want {
			t.Errorf("%s: nextOffset = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFetchSizer(t *testing.T) {
	tp := TopicPartition{"t", 0}
	other := TopicPartition{"t", 1}
	const min, max = 1 << 20, 8 << 20
	z := newFetchSizer(min, max)
	req := func() *FetchRequest {
		r := &FetchRequest{Partitions: []FetchPartition{{TopicPartition: tp}, {TopicPartition: other}}}
		z.apply(r)
		return r
	}
	size := func() int32 { return req().Partitions[0].PartitionMaxBytes }
	// answer: tp returned n bytes ending at offset next-1, source HW hw.
	answer := func(n int, next, hw int64, err error) {
		r := req()
		z.observe(r, &FetchResponse{Partitions: map[TopicPartition]FetchData{
			tp: {Records: batchBytes(next-10, 10, n), HighWatermark: hw, Err: err},
		}})
	}
	// Two partitions share the response: each starts at half of it.
	if s := size(); s != max/2 {
		t.Fatalf("initial size %d, want %d", s, max/2)
	}
	// Full answers with more behind: doubles up to max.
	for _, want := range []int32{8 << 20, 8 << 20} {
		answer(int(size())-100, 1000, 5000, nil)
		if s := size(); s != want {
			t.Fatalf("after a full answer: size %d, want %d", s, want)
		}
	}
	if s := req().Partitions[1].PartitionMaxBytes; s != max/2 {
		t.Fatalf("the other partition (not in the answers) moved to %d", s)
	}
	// A caught-up, empty partition falls to the floor.
	r := req()
	z.observe(r, &FetchResponse{Partitions: map[TopicPartition]FetchData{other: {HighWatermark: 0}}})
	z.observe(req(), &FetchResponse{Partitions: map[TopicPartition]FetchData{other: {HighWatermark: 0}}})
	if s := req().Partitions[1].PartitionMaxBytes; s != min {
		t.Fatalf("caught-up empty partition at %d, want %d", s, min)
	}
	// Caught up (next == HW) with a full-sized answer: kept.
	answer(int(size())-100, 5000, 5000, nil)
	if s := size(); s != max {
		t.Fatalf("caught up with a large answer: size %d, want %d", s, max)
	}
	// Caught up with a small answer: halves, not below min.
	for _, want := range []int32{4 << 20, 2 << 20, 1 << 20, 1 << 20} {
		answer(1000, 6000, 6000, nil)
		if s := size(); s != want {
			t.Fatalf("after a small caught-up answer: size %d, want %d", s, want)
		}
	}
	// Half-full answer behind the HW: grows; an error resets.
	answer(min/2, 7000, 9000, nil)
	if s := size(); s != 2<<20 {
		t.Fatalf("half-full answer: size %d", s)
	}
	answer(0, 0, 0, ErrLeaderNotAvailable)
	if s := size(); s != min {
		t.Fatalf("after an error: size %d, want %d", s, min)
	}
	// A failed request (nil answer) changes nothing; forget resets.
	answer(min, 8000, 9000, nil)
	z.observe(req(), nil)
	if s := size(); s != 2<<20 {
		t.Fatalf("after a failed request: size %d", s)
	}
	z.forget(tp)
	if s := size(); s != max/2 {
		t.Fatalf("after forget: size %d", s)
	}
	// Many partitions: the share is never below the floor.
	many := &FetchRequest{Partitions: make([]FetchPartition, 100)}
	z.apply(many)
	if s := many.Partitions[0].PartitionMaxBytes; s != min {
		t.Fatalf("share of 100 partitions %d, want the floor %d", s, min)
	}
	// The ceiling is never below the floor.
	if z := newFetchSizer(4<<20, 1<<20); z.max != 4<<20 {
		t.Fatalf("max %d below min", z.max)
	}
}
