package record

import "encoding/binary"

// Iter walks concatenated batches (a produce request's records, a fetch
// response's RecordBatches, a segment file) without copying. It checks only
// framing: enough bytes for the length field, Length >= MinLength, magic 2.
// CRC and header semantics are left to Batch.ValidateHeader so that a fetch
// path can walk cheaply.
//
// A trailing partial batch is legal at the end of a fetch response (KIP-74
// and kmsg FetchResponseTopicPartition.RecordBatches: "the final element …
// may be partial"); Iter stops before it with Err() == nil and reports the
// bytes through Rest, leaving the caller to decide (a produce request treats
// them as garbage, a mirror trims them as Kafka's trimInvalidBytes does).
type Iter struct {
	buf []byte
	pos int
	err error
}

// NewIter returns an iterator over buf.
func NewIter(buf []byte) *Iter { return &Iter{buf: buf} }

// Next returns the next complete batch. It returns false at the end of the
// buffer, before a trailing partial batch, or on malformed framing (Err).
// The returned Batch aliases the input buffer.
func (it *Iter) Next() (Batch, bool) {
	if it.err != nil {
		return nil, false
	}
	rem := it.buf[it.pos:]
	if len(rem) < LogOverhead {
		return nil, false
	}
	length := int32(binary.BigEndian.Uint32(rem[lengthOff:]))
	if length < MinLength {
		it.err = CorruptErrorf("batch at position %d has length %d, below the minimum %d", it.pos, length, MinLength)
		return nil, false
	}
	if len(rem) > magicOff {
		if m := int8(rem[magicOff]); m != MagicV2 {
			it.err = unsupportedMagic(m)
			return nil, false
		}
	}
	total := int64(LogOverhead) + int64(length)
	if total > int64(len(rem)) {
		return nil, false // partial trailing batch
	}
	b := Batch(rem[:total:total])
	it.pos += int(total)
	return b, true
}

// Err reports malformed framing; nil at a clean end or before a partial batch.
func (it *Iter) Err() error { return it.err }

// Rest returns the bytes not yet returned as batches: after Next returns
// false with Err() == nil, an empty slice or a trailing partial batch;
// after an error, the malformed remainder.
func (it *Iter) Rest() []byte { return it.buf[it.pos:] }

// Pos is the number of bytes consumed by the batches returned so far, i.e.
// the position of the next batch within the buffer.
func (it *Iter) Pos() int { return it.pos }
