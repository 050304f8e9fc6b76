package record

import (
	"encoding/binary"
	"fmt"
)

// Builder assembles one v2 batch with a correct CRC, for tests, tools and
// the broker's own control batches. Start from NewBuilder (the zero value
// means producer id 0, which is a real producer), set fields, Append
// records and Build.
//
//	b := record.NewBuilder()
//	b.Compression = record.Zstd
//	b.Append(ts, []byte("k"), []byte("v"))
//	batch := b.Build()
type Builder struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Compression          Codec
	LogAppendTime        bool // sets the timestamp-type bit; MaxTimestamp stays the largest record timestamp
	Transactional        bool
	Control              bool
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	// LastOffsetDelta, when greater than the last record's offset delta,
	// overrides it (models compacted batches whose tail records are gone).
	LastOffsetDelta int32

	recs []pending
}

type pending struct {
	ts  int64
	rec Record
}

// NewBuilder returns a Builder with Kafka's "none" sentinels: no producer id,
// epoch or sequence, partition leader epoch -1, no compression.
func NewBuilder() *Builder {
	return &Builder{
		PartitionLeaderEpoch: NoPartitionLeaderEpoch,
		ProducerID:           NoProducerID,
		ProducerEpoch:        NoProducerEpoch,
		BaseSequence:         NoSequence,
	}
}

// Append adds a record with the next offset delta and absolute timestamp ts.
func (b *Builder) Append(ts int64, key, value []byte, headers ...Header) *Builder {
	delta := int32(0)
	if n := len(b.recs); n > 0 {
		delta = b.recs[n-1].rec.OffsetDelta + 1
	}
	return b.AppendAt(delta, ts, key, value, headers...)
}

// AppendAt adds a record with an explicit offset delta (to model gaps left
// by compaction). Deltas should increase; Build does not check.
func (b *Builder) AppendAt(offsetDelta int32, ts int64, key, value []byte, headers ...Header) *Builder {
	b.recs = append(b.recs, pending{ts: ts, rec: Record{OffsetDelta: offsetDelta, Key: key, Value: value, Headers: headers}})
	return b
}

// Len is the number of records appended so far.
func (b *Builder) Len() int { return len(b.recs) }

// Build encodes the batch. It panics on an unknown codec (a programming
// error); compression of in-memory bytes cannot otherwise fail.
func (b *Builder) Build() Batch {
	baseTS, maxTS := NoTimestamp, NoTimestamp
	lastDelta := int32(0)
	for i, p := range b.recs {
		if i == 0 {
			baseTS, maxTS = p.ts, p.ts
		}
		maxTS = max(maxTS, p.ts)
		lastDelta = p.rec.OffsetDelta
	}
	lastDelta = max(lastDelta, b.LastOffsetDelta)
	var payload []byte
	for i := range b.recs {
		r := b.recs[i].rec
		r.TimestampDelta = b.recs[i].ts - baseTS
		payload = appendRecord(payload, &r)
	}
	if b.Compression != None {
		var err error
		if payload, err = Compress(b.Compression, payload); err != nil {
			panic(fmt.Sprintf("record: compress: %v", err))
		}
	}
	attrs := int16(b.Compression) & compressionMask
	if b.LogAppendTime {
		attrs |= timestampTypeMask
	}
	if b.Transactional {
		attrs |= transactionalMask
	}
	if b.Control {
		attrs |= controlMask
	}
	out := make(Batch, BatchHeaderSize, BatchHeaderSize+len(payload))
	be := binary.BigEndian
	be.PutUint64(out[baseOffsetOff:], uint64(b.BaseOffset))
	be.PutUint32(out[lengthOff:], uint32(BatchHeaderSize-LogOverhead+len(payload)))
	be.PutUint32(out[leaderEpochOff:], uint32(b.PartitionLeaderEpoch))
	out[magicOff] = MagicV2
	be.PutUint16(out[attributesOff:], uint16(attrs))
	be.PutUint32(out[lastOffsetDeltaOff:], uint32(lastDelta))
	be.PutUint64(out[baseTimestampOff:], uint64(baseTS))
	be.PutUint64(out[maxTimestampOff:], uint64(maxTS))
	be.PutUint64(out[producerIDOff:], uint64(b.ProducerID))
	be.PutUint16(out[producerEpochOff:], uint16(b.ProducerEpoch))
	be.PutUint32(out[baseSequenceOff:], uint32(b.BaseSequence))
	be.PutUint32(out[recordsCountOff:], uint32(len(b.recs)))
	out = append(out, payload...)
	out.updateCRC()
	return out
}
