package broker

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"

	"github.com/tandem-streaming/tandem/internal/log"
)

// Files carries the record bytes of a response as file slices, for a
// connection that sends them with sendfile(2). kmsg encodes the response
// with a placeholder in each RecordBatches field; the server finds each
// placeholder (in order, each preceded by its length prefix) and sends the
// slice's bytes in its place, so records go from the page cache to the
// socket without passing through user memory, while every other byte of
// the response is still encoded by kmsg.
type Files struct {
	Refs []FileRef
}

// FileRef is one placeholder and the slice whose bytes replace it.
type FileRef struct {
	Placeholder []byte
	Slice       *log.FileSlice
}

// PlaceholderSize is the length of a placeholder.
const PlaceholderSize = 16

// placeholderKey makes placeholders unique to this process: a response
// byte string (a topic name, say) cannot be mistaken for one unless it
// guesses 64 random bits.
var (
	placeholderKey = func() uint64 {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
		return binary.LittleEndian.Uint64(b[:])
	}()
	placeholderSeq atomic.Uint64
)

// add records s as the bytes behind a fresh placeholder and returns the
// placeholder, which the caller puts where the bytes belong.
func (f *Files) add(s *log.FileSlice) []byte {
	p := make([]byte, PlaceholderSize)
	binary.LittleEndian.PutUint64(p, placeholderKey)
	binary.LittleEndian.PutUint64(p[8:], placeholderSeq.Add(1))
	f.Refs = append(f.Refs, FileRef{Placeholder: p, Slice: s})
	return p
}

// Release unpins every slice. Safe on nil and more than once.
func (f *Files) Release() {
	if f == nil {
		return
	}
	for _, r := range f.Refs {
		r.Slice.Release()
	}
	f.Refs = f.Refs[:0]
}
