package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a log-bucketed latency histogram in the spirit of
// HdrHistogram: values below 2^subBits are counted exactly, larger ones in
// 2^subBits buckets per power of two, so every reported value is within
// 1/2^subBits (under 1%) of the true one. Memory is fixed (about 57 KiB)
// whatever the number of samples, and recording is one atomic add, so
// produce callbacks on any goroutine can record concurrently.
type histogram struct {
	counts [histBuckets]atomic.Int64
	total  atomic.Int64
	max    atomic.Int64
}

const (
	subBits     = 7
	subBuckets  = 1 << subBits
	histBuckets = (63 - subBits + 1) * subBuckets // int64 values have at most 63 bits
)

// bucketOf returns the bucket index of v (nanoseconds, >= 0).
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 1 // v's highest set bit, >= subBits
	sub := int(uint64(v)>>(e-subBits)) & (subBuckets - 1)
	return (e-subBits+1)*subBuckets + sub
}

// bucketHigh returns the largest value that falls in bucket i, the value
// the histogram reports for samples in it (as HdrHistogram's "highest
// equivalent value" does), so percentiles are never understated.
func bucketHigh(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := i/subBuckets + subBits - 1
	sub := int64(i % subBuckets)
	low := (subBuckets + sub) << (e - subBits)
	width := int64(1) << (e - subBits)
	if low > math.MaxInt64-width {
		return math.MaxInt64
	}
	return low + width - 1
}

// Record adds one sample.
func (h *histogram) Record(d time.Duration) {
	v := int64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of samples.
func (h *histogram) Count() int64 { return h.total.Load() }

// Max returns the largest sample, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the value at or below which a fraction q of the samples
// fall, 0 if there are none. Call it once recording has stopped.
func (h *histogram) Quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max.Load()))
		}
	}
	return h.Max()
}
