package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lands in a bucket whose high end is at or above it and
	// within 1/128 of it, and bucket indexes never decrease with the value.
	prev := 0
	check := func(v int64) {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d < bucketOf of a smaller value (%d)", v, i, prev)
		}
		prev = i
		hi := bucketHigh(i)
		if hi < v || float64(hi-v) > float64(v)/subBuckets {
			t.Fatalf("value %d in bucket %d reported as %d", v, i, hi)
		}
	}
	for v := int64(0); v < 1<<16; v++ {
		check(v)
	}
	for v := int64(1 << 16); v > 0 && v < math.MaxInt64/3; v = v*3/2 + 1 {
		check(v)
	}
	if i := bucketOf(math.MaxInt64); i != histBuckets-1 || bucketHigh(i) != math.MaxInt64 {
		t.Errorf("max value: bucket %d high %d", i, bucketHigh(i))
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatalf("empty histogram: %v", h.Quantile(0.5))
	}
	// 100,000 samples from four goroutines, compared with exact quantiles.
	samples := make([]time.Duration, 100_000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range samples {
		samples[i] = time.Duration(r.ExpFloat64() * float64(time.Millisecond))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(samples); i += 4 {
				h.Record(samples[i])
			}
		})
	}
	wg.Wait()
	slices.Sort(samples)
	if h.Count() != int64(len(samples)) || h.Max() != samples[len(samples)-1] {
		t.Errorf("count %d max %v, want %d and %v", h.Count(), h.Max(), len(samples), samples[len(samples)-1])
	}
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := samples[max(int(math.Ceil(q*float64(len(samples))))-1, 0)]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/subBuckets+1 {
			t.Errorf("quantile %v = %v, exact %v", q, got, exact)
		}
	}
	h.Record(-time.Second) // clamps to 0 rather than corrupting a bucket
	if h.Quantile(0) != 0 {
		t.Errorf("negative sample: quantile 0 = %v", h.Quantile(0))
	}
}
