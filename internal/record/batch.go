// Package record is a zero-copy view of Kafka RecordBatch v2 (magic 2) bytes.
//
// A Batch is exactly one complete batch as it travels on the wire and as it is
// stored on disk: the 12-byte log overhead (baseOffset, length) followed by
// Length bytes. Getters read fields in place; the only mutators are the two a
// leader applies on append (baseOffset, partitionLeaderEpoch), which lie
// outside CRC coverage, and SetLogAppendTime, the one case where Kafka
// recomputes the CRC (DefaultRecordBatch.setMaxTimestamp). Everything else —
// re-compression, record rewriting — is deliberately absent: batches are
// stored exactly as received so that followers and mirrors can copy them
// byte for byte (kafka-protocol.md §2.7).
//
// Layout (DefaultRecordBatch class doc):
//
//	off  size  field
//	  0     8  BaseOffset
//	  8     4  Length                 (bytes after this field)
//	 12     4  PartitionLeaderEpoch   (not covered by the CRC)
//	 16     1  Magic (= 2)
//	 17     4  CRC (CRC-32C of bytes [21:])
//	 21     2  Attributes
//	 23     4  LastOffsetDelta
//	 27     8  BaseTimestamp
//	 35     8  MaxTimestamp
//	 43     8  ProducerId
//	 51     2  ProducerEpoch
//	 53     4  BaseSequence
//	 57     4  RecordsCount
//	 61     …  Records (possibly compressed)
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Field offsets within a batch.
const (
	baseOffsetOff      = 0
	lengthOff          = 8
	leaderEpochOff     = 12
	magicOff           = 16
	crcOff             = 17
	attributesOff      = 21
	lastOffsetDeltaOff = 23
	baseTimestampOff   = 27
	maxTimestampOff    = 35
	producerIDOff      = 43
	producerEpochOff   = 51
	baseSequenceOff    = 53
	recordsCountOff    = 57
)

const (
	// BatchHeaderSize is the size of the fixed v2 header, baseOffset through
	// recordsCount inclusive (Kafka RECORD_BATCH_OVERHEAD).
	BatchHeaderSize = 61
	// LogOverhead is the size of the baseOffset and length fields, which are
	// not counted by Length (Kafka Records.LOG_OVERHEAD).
	LogOverhead = 12
	// MinLength is the smallest legal value of the Length field.
	MinLength = BatchHeaderSize - LogOverhead
	// MagicV2 is the only message format this package handles (KIP-724
	// removed v0/v1 in Kafka 4.0).
	MagicV2 = 2

	// NoProducerID, NoProducerEpoch, NoSequence and NoPartitionLeaderEpoch are
	// Kafka's RecordBatch.NO_* sentinels.
	NoProducerID           int64 = -1
	NoProducerEpoch        int16 = -1
	NoSequence             int32 = -1
	NoPartitionLeaderEpoch int32 = -1
	// NoTimestamp is Kafka's RecordBatch.NO_TIMESTAMP.
	NoTimestamp int64 = -1
)

// Attribute bits (DefaultRecordBatch *_MASK constants).
const (
	compressionMask      = 0x07
	timestampTypeMask    = 0x08
	transactionalMask    = 0x10
	controlMask          = 0x20
	deleteHorizonMask    = 0x40
	minRecordEncodedSize = 7 // length, attributes, tsDelta, offDelta, keyLen, valueLen, headerCount: 1 byte each
)

// Errors. Callers classify with errors.Is; handlers map them to Kafka codes:
// ErrCorrupt → CORRUPT_MESSAGE, ErrUnsupportedMagic / ErrInvalidRecord →
// INVALID_RECORD (Kafka's ProduceRequest.validateRecords rejects non-v2
// batches with InvalidRecordException). Check ErrCorrupt first: a corruption
// error never also matches ErrInvalidRecord, but an unsupported-magic error
// matches both ErrUnsupportedMagic and ErrInvalidRecord.
var (
	// ErrCorrupt marks bytes that are damaged: CRC mismatch, lengths that do
	// not add up, undecodable records or compressed payloads. It is a class
	// (à la pebble base.ErrCorruption): wrap with MarkCorrupt/CorruptErrorf.
	ErrCorrupt = errors.New("corrupt record batch")
	// ErrInvalidRecord marks batches whose bytes are intact (the CRC matches)
	// but whose contents violate the protocol.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrUnsupportedMagic marks a batch whose magic byte is not 2.
	ErrUnsupportedMagic = errors.New("unsupported record batch format")
	// ErrDecompressedTooLarge is returned when a compressed payload inflates
	// beyond the caller's limit (decompression-bomb guard). It also matches
	// ErrInvalidRecord.
	ErrDecompressedTooLarge = errors.New("decompressed size exceeds the limit")
)

// CorruptErrorf formats an error that matches ErrCorrupt.
func CorruptErrorf(format string, args ...any) error {
	return &corruptError{err: fmt.Errorf(format, args...)}
}

// MarkCorrupt returns err marked as corruption (errors.Is(x, ErrCorrupt)),
// keeping err in the chain. It returns nil for nil.
func MarkCorrupt(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return &corruptError{err: err}
}

// IsCorrupt reports whether err is in the corruption class.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }

type corruptError struct{ err error }

func (e *corruptError) Error() string        { return "corrupt record batch: " + e.err.Error() }
func (e *corruptError) Unwrap() error        { return e.err }
func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRecord}, args...)...)
}

func unsupportedMagic(m int8) error {
	return usererr.New(errors.Join(ErrUnsupportedMagic, ErrInvalidRecord), "unsupported record batch format: magic %d (only magic 2 is supported)", m)
}

// Codec is the compression codec in the low three attribute bits.
type Codec int8

// Compression codecs (Kafka CompressionType ids).
const (
	None   Codec = 0
	Gzip   Codec = 1
	Snappy Codec = 2
	LZ4    Codec = 3
	Zstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Valid reports whether c is a codec Kafka defines.
func (c Codec) Valid() bool { return c >= None && c <= Zstd }

// ParseCodec maps a topic-config style name ("none", "gzip", ...) to a Codec.
func ParseCodec(s string) (Codec, bool) {
	for c := None; c <= Zstd; c++ {
		if c.String() == s {
			return c, true
		}
	}
	return 0, false
}

// TimestampType is attribute bit 3.
type TimestampType int8

// Timestamp types (Kafka TimestampType ids).
const (
	CreateTime    TimestampType = 0
	LogAppendTime TimestampType = 1
)

func (t TimestampType) String() string {
	if t == LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C Kafka stores in a v2 batch for the given
// bytes (which must start at the attributes field).
func Checksum(p []byte) uint32 { return crc32.Checksum(p, crc32c) }

// Batch is exactly one complete v2 batch: LogOverhead + Length bytes. Getters
// assume len(b) >= BatchHeaderSize; obtain Batches from Iter or check with
// ValidateHeader before trusting any field.
type Batch []byte

func (b Batch) u16(off int) uint16 { return binary.BigEndian.Uint16(b[off:]) }
func (b Batch) u32(off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }
func (b Batch) u64(off int) uint64 { return binary.BigEndian.Uint64(b[off:]) }

// BaseOffset is the offset of the first record (offset delta 0).
func (b Batch) BaseOffset() int64 { return int64(b.u64(baseOffsetOff)) }

// Length is the number of bytes following the length field.
func (b Batch) Length() int32 { return int32(b.u32(lengthOff)) }

// PartitionLeaderEpoch is the leader epoch the batch was appended under.
func (b Batch) PartitionLeaderEpoch() int32 { return int32(b.u32(leaderEpochOff)) }

// Magic is the format version; 2 for every batch this package accepts.
func (b Batch) Magic() int8 { return int8(b[magicOff]) }

// CRC is the stored CRC-32C of bytes [21:].
func (b Batch) CRC() uint32 { return b.u32(crcOff) }

// Attributes is the raw attributes field.
func (b Batch) Attributes() int16 { return int16(b.u16(attributesOff)) }

// LastOffsetDelta is LastOffset - BaseOffset. It is kept across compaction,
// so it may exceed NumRecords-1.
func (b Batch) LastOffsetDelta() int32 { return int32(b.u32(lastOffsetDeltaOff)) }

// LastOffset is the offset of the last record the batch covered when it was
// written (compaction never changes it).
func (b Batch) LastOffset() int64 { return b.BaseOffset() + int64(b.LastOffsetDelta()) }

// NextOffset is LastOffset+1, the offset a follower or mirror fetches next.
func (b Batch) NextOffset() int64 { return b.LastOffset() + 1 }

// BaseTimestamp is the timestamp of the first record, or the delete horizon
// when HasDeleteHorizon (KIP-534).
func (b Batch) BaseTimestamp() int64 { return int64(b.u64(baseTimestampOff)) }

// MaxTimestamp is the largest record timestamp, or the broker's append time
// for LogAppendTime batches.
func (b Batch) MaxTimestamp() int64 { return int64(b.u64(maxTimestampOff)) }

// ProducerID is the idempotent/transactional producer id, or NoProducerID.
func (b Batch) ProducerID() int64 { return int64(b.u64(producerIDOff)) }

// ProducerEpoch is the producer epoch.
func (b Batch) ProducerEpoch() int16 { return int16(b.u16(producerEpochOff)) }

// BaseSequence is the sequence number of the first record, or NoSequence.
func (b Batch) BaseSequence() int32 { return int32(b.u32(baseSequenceOff)) }

// LastSequence is the sequence number of the last record, wrapping at
// MaxInt32 as Kafka's DefaultRecordBatch.incrementSequence does; NoSequence
// when the batch has no sequence.
func (b Batch) LastSequence() int32 {
	base := b.BaseSequence()
	if base == NoSequence {
		return NoSequence
	}
	return IncrementSequence(base, b.LastOffsetDelta())
}

// IncrementSequence adds increment to seq with Kafka's wrap-around: sequences
// run 0..MaxInt32 and then continue from 0 (DefaultRecordBatch.incrementSequence).
func IncrementSequence(seq, increment int32) int32 {
	if seq > math.MaxInt32-increment {
		return increment - (math.MaxInt32 - seq) - 1
	}
	return seq + increment
}

// DecrementSequence is the inverse of IncrementSequence
// (DefaultRecordBatch.decrementSequence).
func DecrementSequence(seq, decrement int32) int32 {
	if seq < decrement {
		return math.MaxInt32 - (decrement - seq) + 1
	}
	return seq - decrement
}

// NumRecords is the recordsCount field.
func (b Batch) NumRecords() int32 { return int32(b.u32(recordsCountOff)) }

// Compression is the codec of the records section.
func (b Batch) Compression() Codec { return Codec(b.Attributes() & compressionMask) }

// TimestampType is CreateTime or LogAppendTime.
func (b Batch) TimestampType() TimestampType {
	if b.Attributes()&timestampTypeMask != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// IsTransactional reports attribute bit 4.
func (b Batch) IsTransactional() bool { return b.Attributes()&transactionalMask != 0 }

// IsControl reports attribute bit 5 (KIP-98 control batch).
func (b Batch) IsControl() bool { return b.Attributes()&controlMask != 0 }

// HasDeleteHorizon reports attribute bit 6 (KIP-534): BaseTimestamp then
// holds the time after which tombstones and markers may be removed.
func (b Batch) HasDeleteHorizon() bool { return b.Attributes()&deleteHorizonMask != 0 }

// HasProducerID mirrors Kafka's hasProducerId: producerId > NO_PRODUCER_ID.
func (b Batch) HasProducerID() bool { return b.ProducerID() > NoProducerID }

// Payload returns the records section (possibly compressed).
func (b Batch) Payload() []byte { return b[BatchHeaderSize:] }

// SetBaseOffset writes baseOffset. The field is outside CRC coverage, so the
// CRC stays valid (LogValidator.assignOffsetsNonCompressed → setLastOffset).
func (b Batch) SetBaseOffset(offset int64) {
	binary.BigEndian.PutUint64(b[baseOffsetOff:], uint64(offset))
}

// SetPartitionLeaderEpoch writes partitionLeaderEpoch; outside CRC coverage.
func (b Batch) SetPartitionLeaderEpoch(epoch int32) {
	binary.BigEndian.PutUint32(b[leaderEpochOff:], uint32(epoch))
}

// SetLogAppendTime marks the batch LogAppendTime with MaxTimestamp = ts and
// recomputes the CRC, as DefaultRecordBatch.setMaxTimestamp does for topics
// with message.timestamp.type=LogAppendTime. It is a no-op when nothing
// changes, so the CRC is untouched for an already-stamped batch.
func (b Batch) SetLogAppendTime(ts int64) {
	if b.TimestampType() == LogAppendTime && b.MaxTimestamp() == ts {
		return
	}
	binary.BigEndian.PutUint16(b[attributesOff:], uint16(b.Attributes()|timestampTypeMask))
	binary.BigEndian.PutUint64(b[maxTimestampOff:], uint64(ts))
	b.updateCRC()
}

func (b Batch) updateCRC() {
	binary.BigEndian.PutUint32(b[crcOff:], Checksum(b[attributesOff:]))
}

// VerifyCRC checks the stored CRC-32C against bytes [21:]. The result matches
// ErrCorrupt on mismatch or when the batch is too short to hold a header.
func (b Batch) VerifyCRC() error {
	if len(b) < BatchHeaderSize {
		return CorruptErrorf("batch of %d bytes is shorter than the %d-byte header", len(b), BatchHeaderSize)
	}
	if got, want := Checksum(b[attributesOff:]), b.CRC(); got != want {
		return CorruptErrorf("CRC mismatch at base offset %d: stored %#08x, computed %#08x", b.BaseOffset(), want, got)
	}
	return nil
}

// ValidateHeader performs the header-level checks shared by the produce path
// and the follower/mirror path. It never decodes records. In order:
//
//   - the buffer holds a full header and Length matches len(b)-LogOverhead
//     (ErrCorrupt), magic is 2 (ErrUnsupportedMagic), the CRC matches
//     (ErrCorrupt);
//   - the codec is known, recordsCount >= 0, lastOffsetDelta >= 0 and
//     recordsCount <= lastOffsetDelta+1 (offset deltas are distinct; fewer
//     records than the delta range is legal after compaction);
//   - an uncompressed payload can hold recordsCount records;
//   - a transactional batch carries a producer id, and a non-control batch
//     with a producer id carries a sequence (LogValidator.validateBatch).
//
// Checks specific to the leader path (recordsCount == lastOffsetDelta+1, no
// control batches from clients, size and timestamp limits) belong to the log.
func (b Batch) ValidateHeader() error {
	if len(b) < BatchHeaderSize {
		return CorruptErrorf("batch of %d bytes is shorter than the %d-byte header", len(b), BatchHeaderSize)
	}
	if m := b.Magic(); m != MagicV2 {
		return unsupportedMagic(m)
	}
	if l := b.Length(); l < MinLength || int64(l) != int64(len(b)-LogOverhead) {
		return CorruptErrorf("batch length field %d does not match %d bytes present", l, len(b)-LogOverhead)
	}
	if err := b.VerifyCRC(); err != nil {
		return err
	}
	if c := b.Compression(); !c.Valid() {
		return invalidf("unknown compression codec id %d", int8(c))
	}
	n, lod := b.NumRecords(), b.LastOffsetDelta()
	if n < 0 {
		return invalidf("negative record count %d", n)
	}
	if lod < 0 {
		return invalidf("negative lastOffsetDelta %d", lod)
	}
	if int64(n) > int64(lod)+1 {
		return invalidf("record count %d exceeds lastOffsetDelta+1 = %d", n, int64(lod)+1)
	}
	if b.Compression() == None && int64(n)*minRecordEncodedSize > int64(len(b)-BatchHeaderSize) {
		return invalidf("record count %d cannot fit in %d payload bytes", n, len(b)-BatchHeaderSize)
	}
	if b.IsTransactional() && !b.HasProducerID() {
		return invalidf("transactional batch without a producer id")
	}
	if b.HasProducerID() && b.BaseSequence() < 0 && !b.IsControl() {
		return invalidf("invalid sequence number %d in batch with producer id %d", b.BaseSequence(), b.ProducerID())
	}
	return nil
}

// String renders the header for logs and test output.
func (b Batch) String() string {
	if len(b) < BatchHeaderSize {
		return fmt.Sprintf("batch(short, %d bytes)", len(b))
	}
	return fmt.Sprintf("batch{offsets=%d..%d epoch=%d records=%d codec=%s ts=%s/%d pid=%d/%d seq=%d txn=%t control=%t size=%d}",
		b.BaseOffset(), b.LastOffset(), b.PartitionLeaderEpoch(), b.NumRecords(), b.Compression(),
		b.TimestampType(), b.MaxTimestamp(), b.ProducerID(), b.ProducerEpoch(), b.BaseSequence(),
		b.IsTransactional(), b.IsControl(), len(b))
}
