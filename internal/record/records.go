package record

import (
	"encoding/binary"
	"math"
)

// DefaultMaxDecompressedBytes bounds how far Records inflates a compressed
// payload. Kafka's own limits on a batch (max.message.bytes, default ~1 MiB,
// and the fetch/produce size caps) apply to compressed bytes; a well-formed
// batch rarely inflates by more than ~50x, so 256 MiB leaves ample room while
// stopping decompression bombs. Use RecordsLimit for a tighter bound.
const DefaultMaxDecompressedBytes = 256 << 20

// Header is one record header. Kafka header keys are non-null strings;
// values are nullable.
type Header struct {
	Key   string
	Value []byte // nil for null
}

// Record is one decoded v2 record.
//
// Key, Value and header values alias either the batch bytes (uncompressed
// batches) or a decompression buffer private to the Records call; they are
// valid until the callback returns and must not be modified. Copy to retain.
type Record struct {
	Attributes     int8 // unused by Kafka today; kept for byte-faithful rewriting
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte // nil for null
	Headers        []Header
}

// Offset returns the record's absolute offset within batch b.
func (r *Record) Offset(b Batch) int64 { return b.BaseOffset() + int64(r.OffsetDelta) }

// Timestamp returns the record's absolute timestamp within batch b. For
// LogAppendTime batches every record takes the batch's MaxTimestamp
// (DefaultRecordBatch.DefaultRecord readFrom with logAppendTime).
func (r *Record) Timestamp(b Batch) int64 {
	if b.TimestampType() == LogAppendTime {
		return b.MaxTimestamp()
	}
	return b.BaseTimestamp() + r.TimestampDelta
}

// Records decodes every record of b, decompressing if needed, and calls fn
// for each in order. Decompressed output is capped at
// DefaultMaxDecompressedBytes. It checks that exactly NumRecords records are
// present, that each record consumes exactly its declared length and that no
// bytes trail the last record; failures match ErrCorrupt. An error from fn is
// returned unchanged. Records does not verify the CRC (ValidateHeader does).
func (b Batch) Records(fn func(r Record) error) error {
	return b.RecordsLimit(DefaultMaxDecompressedBytes, fn)
}

// RecordsLimit is Records with an explicit cap on the decompressed size.
func (b Batch) RecordsLimit(maxDecompressed int, fn func(r Record) error) error {
	if len(b) < BatchHeaderSize {
		return CorruptErrorf("batch of %d bytes is shorter than the %d-byte header", len(b), BatchHeaderSize)
	}
	if m := b.Magic(); m != MagicV2 {
		return unsupportedMagic(m)
	}
	n := b.NumRecords()
	if n < 0 {
		return CorruptErrorf("negative record count %d", n)
	}
	data := b.Payload()
	if c := b.Compression(); c != None {
		var err error
		if data, err = Decompress(c, data, maxDecompressed); err != nil {
			return err
		}
	}
	if int64(n)*minRecordEncodedSize > int64(len(data)) {
		return CorruptErrorf("record count %d cannot fit in %d bytes of records", n, len(data))
	}
	d := decoder{buf: data}
	var hdrs []Header
	for i := int32(0); i < n; i++ {
		r, err := d.record(hdrs[:0])
		if err != nil {
			return CorruptErrorf("record %d of %d at base offset %d: %w", i, n, b.BaseOffset(), err)
		}
		if r.Headers != nil {
			hdrs = r.Headers // reuse the backing array for the next record
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if len(d.buf) != 0 {
		return CorruptErrorf("%d bytes trail the %d records of batch at base offset %d", len(d.buf), n, b.BaseOffset())
	}
	return nil
}

// decoder reads the v2 record encoding: zig-zag varints as in
// DefaultRecord.readFrom.
type decoder struct{ buf []byte }

type decodeError string

func (e decodeError) Error() string { return string(e) }

const (
	errShortVarint  = decodeError("truncated or overlong varint")
	errVarintRange  = decodeError("varint out of int32 range")
	errNegativeLen  = decodeError("negative length")
	errShortField   = decodeError("field runs past record end")
	errRecordLength = decodeError("record length disagrees with its fields")
)

func (d *decoder) varlong() (int64, error) {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		return 0, errShortVarint
	}
	d.buf = d.buf[n:]
	return v, nil
}

func (d *decoder) varint() (int32, error) {
	v, err := d.varlong()
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, errVarintRange
	}
	return int32(v), nil
}

// bytes reads a varint length followed by that many bytes; -1 means null.
func (d *decoder) bytes() ([]byte, error) {
	l, err := d.varint()
	if err != nil {
		return nil, err
	}
	if l < 0 {
		if l == -1 {
			return nil, nil
		}
		return nil, errNegativeLen
	}
	if int(l) > len(d.buf) {
		return nil, errShortField
	}
	v := d.buf[:l:l]
	d.buf = d.buf[l:]
	return v, nil
}

func (d *decoder) record(hdrs []Header) (Record, error) {
	var r Record
	length, err := d.varint()
	if err != nil {
		return r, err
	}
	if length < 0 || int(length) > len(d.buf) {
		return r, errShortField
	}
	rd := decoder{buf: d.buf[:length]}
	d.buf = d.buf[length:]
	if len(rd.buf) < 1 {
		return r, errShortField
	}
	r.Attributes = int8(rd.buf[0])
	rd.buf = rd.buf[1:]
	if r.TimestampDelta, err = rd.varlong(); err != nil {
		return r, err
	}
	if r.OffsetDelta, err = rd.varint(); err != nil {
		return r, err
	}
	if r.Key, err = rd.bytes(); err != nil {
		return r, err
	}
	if r.Value, err = rd.bytes(); err != nil {
		return r, err
	}
	nh, err := rd.varint()
	if err != nil {
		return r, err
	}
	if nh < 0 || int64(nh)*2 > int64(len(rd.buf)) { // each header needs >= 2 bytes
		return r, decodeError("bad header count")
	}
	for i := int32(0); i < nh; i++ {
		k, err := rd.bytes()
		if err != nil {
			return r, err
		}
		if k == nil {
			return r, decodeError("null header key")
		}
		v, err := rd.bytes()
		if err != nil {
			return r, err
		}
		hdrs = append(hdrs, Header{Key: string(k), Value: v})
	}
	if nh > 0 {
		r.Headers = hdrs
	}
	if len(rd.buf) != 0 {
		return r, errRecordLength
	}
	return r, nil
}

// appendRecord encodes r (DefaultRecord.writeTo).
func appendRecord(dst []byte, r *Record) []byte {
	var body []byte
	body = append(body, byte(r.Attributes))
	body = binary.AppendVarint(body, r.TimestampDelta)
	body = binary.AppendVarint(body, int64(r.OffsetDelta))
	body = appendNullableBytes(body, r.Key)
	body = appendNullableBytes(body, r.Value)
	body = binary.AppendVarint(body, int64(len(r.Headers)))
	for _, h := range r.Headers {
		body = binary.AppendVarint(body, int64(len(h.Key)))
		body = append(body, h.Key...)
		body = appendNullableBytes(body, h.Value)
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

func appendNullableBytes(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}
