package server

import (
	"math/bits"
	"sync"
)

// Buffers for large request frames and responses are recycled through
// size-classed pools (powers of two from 64 KiB to 64 MiB). Allocating
// them fresh costs more than the GC: every new page of heap is zeroed by
// the kernel on first touch, and on a VM whose memory the hypervisor takes
// back when freed (balloon free-page reporting) each such page is a host
// fault too — a produce stream of 100 MB/s allocated that much heap per
// second. A recycled buffer is memory already touched.
const (
	minPoolClass = 16 // 64 KiB
	maxPoolClass = 26 // 64 MiB
)

var bufPools [maxPoolClass + 1]sync.Pool

// poolClass returns the size class for a buffer of at least n bytes, and
// false when n is outside the pooled range.
func poolClass(n int) (int, bool) {
	if n <= 0 {
		return 0, false
	}
	c := max(bits.Len(uint(n-1)), minPoolClass)
	return c, c <= maxPoolClass
}

// getBuf returns a buffer with capacity >= n and length 0; pooled buffers
// come back with putBuf.
func getBuf(n int) *[]byte {
	c, ok := poolClass(n)
	if !ok {
		b := make([]byte, 0, n)
		return &b
	}
	if b, ok := bufPools[c].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 1<<c)
	return &b
}

// putBuf recycles b. Buffers whose capacity is not exactly a size class
// (grown by append, or too large) are left to the GC.
func putBuf(b *[]byte) {
	c, ok := poolClass(cap(*b))
	if !ok || cap(*b) != 1<<c {
		return
	}
	*b = (*b)[:0]
	bufPools[c].Put(b)
}
