package server

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPoolClasses(t *testing.T) {
	tests := []struct {
		n     int
		class int
		ok    bool
	}{
		{0, 0, false},
		{1, 16, true},
		{64 << 10, 16, true},
		{64<<10 + 1, 17, true},
		{1 << 20, 20, true},
		{64 << 20, 26, true},
		{64<<20 + 1, 27, false},
	}
	for _, tt := range tests {
		c, ok := poolClass(tt.n)
		if ok != tt.ok || (ok && c != tt.class) {
			t.Errorf("poolClass(%d) = %d, %v; want %d, %v", tt.n, c, ok, tt.class, tt.ok)
		}
	}
	for _, n := range []int{1, 100 << 10, 3 << 20, 100 << 20} {
		b := getBuf(n)
		if cap(*b) < n || len(*b) != 0 {
			t.Fatalf("getBuf(%d): len %d cap %d", n, len(*b), cap(*b))
		}
		putBuf(b) // never panics; oversized buffers are dropped
	}
	grown := make([]byte, 0, 100<<10) // not a class size: dropped
	putBuf(&grown)
}

// TestFrameAlloc: only large Produce frames are pooled; every other
// request keeps a buffer of its own, since handlers may retain its bytes.
func TestFrameAlloc(t *testing.T) {
	var pooled *[]byte
	alloc := frameAlloc(&pooled)
	tests := []struct {
		size int32
		key  int16
		pool bool
	}{
		{minPooledFrame, int16(kmsg.Produce), true},
		{1 << 20, int16(kmsg.Produce), true},
		{minPooledFrame - 1, int16(kmsg.Produce), false},
		{1 << 20, int16(kmsg.JoinGroup), false},
		{1 << 20, int16(kmsg.SyncGroup), false},
		{1 << 20, -1, false},
	}
	for _, tt := range tests {
		pooled = nil
		b := alloc(tt.size, tt.key)
		if len(b) != int(tt.size) {
			t.Fatalf("alloc(%d, %d) returned %d bytes", tt.size, tt.key, len(b))
		}
		if (pooled != nil) != tt.pool {
			t.Errorf("alloc(%d, key %d): pooled %v, want %v", tt.size, tt.key, pooled != nil, tt.pool)
		}
		if pooled != nil {
			if &(*pooled)[:1][0] != &b[0] {
				t.Error("pooled buffer is not the one returned")
			}
			putBuf(pooled)
		}
	}
}
