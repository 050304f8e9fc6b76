package fetcher

import "encoding/binary"

// fetchSizer adapts each partition's fetch size (the PartitionMaxBytes of
// its requests) to how far behind the partition is: a partition whose
// answer was cut by its size while the source holds more data (its high
// watermark is past the answer) asks for twice as much next time, up to
// the response limit (replica.fetch.response.max.bytes); a partition that
// is caught up falls back, halving, towards replica.fetch.max.bytes.
//
// Why: a fetch costs a round trip. With Kafka's fixed 1 MiB per partition,
// a link across a 100 ms path moves at most 1 MiB per partition per round
// trip, whatever the bandwidth, so a few partitions catching up stay far
// below the path's capacity (docs/benchmarks.md, "WAN mirroring"). KIP-74
// makes growing safe: the source fills a response in request order up to
// its response limit, returning a first oversized batch whole, so a large
// size on one partition never exceeds the response limit and the fetch
// order's rotation (moveToEnd) keeps the others served. replica.fetch.max.bytes
// stays the size of partitions that are caught up, which is what keeps
// many small partitions fair.
//
// The sizer is owned by its worker's goroutine, like the engine.
type fetchSizer struct {
	min, max int32
	size     map[TopicPartition]int32
}

func newFetchSizer(min, max int32) *fetchSizer {
	max = maxInt32(max, min)
	return &fetchSizer{min: min, max: max, size: make(map[TopicPartition]int32)}
}

func maxInt32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

// apply sets each partition's size in req. A partition without history
// starts at its fair share of the response, never below the floor: one
// that a fetcher serves alone starts at the response limit instead of
// spending round trips growing to it.
func (z *fetchSizer) apply(req *FetchRequest) {
	share := z.min
	if n := int32(len(req.Partitions)); n > 0 {
		share = maxInt32(z.min, z.max/n)
	}
	for i := range req.Partitions {
		p := &req.Partitions[i]
		if s, ok := z.size[p.TopicPartition]; ok {
			p.PartitionMaxBytes = s
		} else {
			p.PartitionMaxBytes = share
		}
	}
}

// observe adapts the sizes from the answer to req (nil: the request
// failed, sizes are kept).
func (z *fetchSizer) observe(req *FetchRequest, resp *FetchResponse) {
	if resp == nil {
		return
	}
	for _, p := range req.Partitions {
		d, ok := resp.Partitions[p.TopicPartition]
		if !ok {
			continue
		}
		cur := p.PartitionMaxBytes
		switch next, n := nextOffset(d.Records), int32(min(len(d.Records), 1<<31-1)); {
		case d.Err != nil || d.DivergingEpoch != nil:
			z.set(p.TopicPartition, z.min)
		case next >= 0 && next < d.HighWatermark && n >= cur/2:
			// Cut by our size with more to come: grow.
			z.set(p.TopicPartition, int32(min(int64(z.max), 2*int64(cur))))
		case (next < 0 || next >= d.HighWatermark) && n < cur/4:
			// Caught up with room to spare: shrink.
			z.set(p.TopicPartition, cur/2)
		}
	}
}

func (z *fetchSizer) set(tp TopicPartition, s int32) {
	z.size[tp] = min(maxInt32(s, z.min), z.max)
}

func (z *fetchSizer) forget(tp TopicPartition) { delete(z.size, tp) }

// nextOffset is the offset after the last complete record batch in b (v2
// batch header: baseOffset int64, batchLength int32, ..., lastOffsetDelta
// int32 at byte 23); -1 when b holds no complete batch.
func nextOffset(b []byte) int64 {
	next := int64(-1)
	for len(b) >= 27 {
		size := 12 + int64(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < 27 || size > int64(len(b)) {
			break
		}
		base := int64(binary.BigEndian.Uint64(b[0:8]))
		next = base + int64(int32(binary.BigEndian.Uint32(b[23:27]))) + 1
		b = b[size:]
	}
	return next
}
