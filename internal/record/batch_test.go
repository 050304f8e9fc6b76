package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func testBatch(t testing.TB, c Codec, n int) Batch {
	t.Helper()
	b := NewBuilder()
	b.Compression = c
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = 7, 1, 100
	for i := 0; i < n; i++ {
		b.Append(1000+int64(i), []byte(fmt.Sprintf("k%d", i)), bytes.Repeat([]byte{byte(i)}, 40), Header{Key: "h", Value: []byte{byte(i)}})
	}
	return b.Build()
}

func TestRoundTripCodecs(t *testing.T) {
	for _, c := range []Codec{None, Gzip, Snappy, LZ4, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			b := testBatch(t, c, 50)
			if err := b.ValidateHeader(); err != nil {
				t.Fatal(err)
			}
			if b.Compression() != c || b.NumRecords() != 50 || b.LastOffsetDelta() != 49 || b.MaxTimestamp() != 1049 || b.BaseTimestamp() != 1000 {
				t.Fatalf("header: %v", b)
			}
			i := 0
			err := b.Records(func(r Record) error {
				if r.OffsetDelta != int32(i) || r.Timestamp(b) != 1000+int64(i) || string(r.Key) != fmt.Sprintf("k%d", i) ||
					len(r.Value) != 40 || len(r.Headers) != 1 || r.Headers[0].Key != "h" || r.Headers[0].Value[0] != byte(i) {
					return fmt.Errorf("record %d: %+v", i, r)
				}
				i++
				return nil
			})
			if err != nil || i != 50 {
				t.Fatalf("records: %v (%d)", err, i)
			}
			// Interop: kmsg parses what we built, with the same CRC.
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
			if uint32(kb.CRC) != Checksum(b[21:]) || kb.NumRecords != 50 || kb.ProducerID != 7 {
				t.Fatalf("kmsg disagrees: %+v", kb)
			}
		})
	}
}

func TestKmsgBuiltBatch(t *testing.T) {
	// A batch encoded by franz-go's kmsg (raw snappy, as franz-go and
	// librdkafka produce) must decode here.
	var rec []byte
	rec = appendRecord(rec, &Record{OffsetDelta: 0, Key: nil, Value: []byte("v0")})
	rec = appendRecord(rec, &Record{OffsetDelta: 1, TimestampDelta: 5, Key: []byte("k"), Value: nil})
	kb := kmsg.RecordBatch{FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(Snappy),
		LastOffsetDelta: 1, FirstTimestamp: 10, MaxTimestamp: 15, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: 2, Records: s2.EncodeSnappy(nil, rec)}
	raw := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], Checksum(raw[21:]))
	b := Batch(raw)
	if err := b.ValidateHeader(); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := b.Records(func(r Record) error {
		got = append(got, fmt.Sprintf("%d@%d k=%v v=%q", r.OffsetDelta, r.Timestamp(b), r.Key == nil, r.Value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := `[0@10 k=true v="v0" 1@15 k=false v=""]`; fmt.Sprint(got) != want {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestSettersAndCRC(t *testing.T) {
	b := testBatch(t, None, 3)
	crc := b.CRC()
	b.SetBaseOffset(12345)
	b.SetPartitionLeaderEpoch(9)
	if b.CRC() != crc || b.VerifyCRC() != nil || b.BaseOffset() != 12345 || b.PartitionLeaderEpoch() != 9 || b.LastOffset() != 12347 {
		t.Fatalf("setters touched CRC or failed: %v", b)
	}
	b.SetLogAppendTime(99999)
	if b.TimestampType() != LogAppendTime || b.MaxTimestamp() != 99999 || b.CRC() == crc {
		t.Fatalf("SetLogAppendTime: %v", b)
	}
	if err := b.VerifyCRC(); err != nil {
		t.Fatal(err)
	}
	if err := b.Records(func(r Record) error {
		if r.Timestamp(b) != 99999 {
			return fmt.Errorf("record ts %d", r.Timestamp(b))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b[70] ^= 1
	if err := b.VerifyCRC(); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("want corrupt, got %v", err)
	}
}

func TestLastSequenceWrap(t *testing.T) {
	tests := []struct {
		base, delta, want int32
	}{
		{0, 0, 0},
		{0, 4, 4},
		{math.MaxInt32, 0, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32 - 2, 4, 1},
		{NoSequence, 5, NoSequence},
	}
	for _, tt := range tests {
		b := NewBuilder()
		b.ProducerID, b.ProducerEpoch, b.BaseSequence = 1, 0, tt.base
		for i := int32(0); i <= tt.delta; i++ {
			b.Append(0, nil, nil)
		}
		if got := b.Build().LastSequence(); got != tt.want {
			t.Errorf("base %d delta %d: got %d want %d", tt.base, tt.delta, got, tt.want)
		}
		if tt.base != NoSequence && DecrementSequence(tt.want, tt.delta) != tt.base {
			t.Errorf("DecrementSequence(%d,%d) != %d", tt.want, tt.delta, tt.base)
		}
	}
}

// mutate returns a copy of b after f, with the CRC recomputed if fixCRC.
func mutate(b Batch, fixCRC bool, f func(Batch) Batch) Batch {
	c := f(append(Batch(nil), b...))
	if fixCRC && len(c) >= BatchHeaderSize {
		c.updateCRC()
	}
	return c
}

func TestValidateHeader(t *testing.T) {
	good := testBatch(t, None, 3)
	put32 := func(off int, v int32) func(Batch) Batch {
		return func(b Batch) Batch { binary.BigEndian.PutUint32(b[off:], uint32(v)); return b }
	}
	setAttr := func(bits int16) func(Batch) Batch {
		return func(b Batch) Batch {
			binary.BigEndian.PutUint16(b[attributesOff:], uint16(b.Attributes()|bits))
			return b
		}
	}
	tests := []struct {
		name string
		b    Batch
		want error // nil, ErrCorrupt, ErrInvalidRecord, ErrUnsupportedMagic
	}{
		{"good", good, nil},
		{"control txn marker", NewControlBatch(5, 0, true, 3, 100), nil},
		{"short", good[:40], ErrCorrupt},
		{"magic 1", mutate(good, false, func(b Batch) Batch { b[magicOff] = 1; return b }), ErrUnsupportedMagic},
		{"length too big", mutate(good, false, put32(lengthOff, int32(len(good)))), ErrCorrupt},
		{"length too small", mutate(good, false, put32(lengthOff, 10)), ErrCorrupt},
		{"trailing byte", append(append(Batch(nil), good...), 0), ErrCorrupt},
		{"crc", mutate(good, false, func(b Batch) Batch { b[len(b)-1] ^= 0xff; return b }), ErrCorrupt},
		{"codec 5", mutate(good, true, setAttr(5)), ErrInvalidRecord},
		{"negative count", mutate(good, true, put32(recordsCountOff, -1)), ErrInvalidRecord},
		{"negative lastOffsetDelta", mutate(good, true, put32(lastOffsetDeltaOff, -1)), ErrInvalidRecord},
		{"count > delta+1", mutate(good, true, put32(lastOffsetDeltaOff, 1)), ErrInvalidRecord},
		{"count < delta+1 (compacted)", mutate(good, true, put32(lastOffsetDeltaOff, 10)), nil},
		{"count cannot fit", mutate(good, true, func(b Batch) Batch {
			binary.BigEndian.PutUint32(b[recordsCountOff:], 1000)
			binary.BigEndian.PutUint32(b[lastOffsetDeltaOff:], 1000)
			return b
		}), ErrInvalidRecord},
		{"pid without seq", mutate(good, true, put32(baseSequenceOff, -1)), ErrInvalidRecord},
		{"txn without pid", func() Batch {
			b := NewBuilder()
			b.Transactional = true
			return b.Append(0, nil, nil).Build()
		}(), ErrInvalidRecord},
		{"no pid no seq", NewBuilder().Append(0, nil, []byte("x")).Build(), nil},
		{"empty compacted batch", func() Batch {
			b := NewBuilder()
			b.LastOffsetDelta = 4
			return b.Build()
		}(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.ValidateHeader()
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("got %v, want %v", err, tt.want)
			case tt.want == ErrInvalidRecord && errors.Is(err, ErrCorrupt):
				t.Fatalf("invalid-record error also matches corrupt: %v", err)
			}
		})
	}
}

func TestIter(t *testing.T) {
	a, b := testBatch(t, None, 2), testBatch(t, Zstd, 3)
	buf := append(append(append([]byte(nil), a...), b...), a[:30]...)
	it := NewIter(buf)
	var n int
	for batch, ok := it.Next(); ok; batch, ok = it.Next() {
		if err := batch.ValidateHeader(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 || it.Err() != nil || len(it.Rest()) != 30 || it.Pos() != len(a)+len(b) {
		t.Fatalf("n=%d err=%v rest=%d pos=%d", n, it.Err(), len(it.Rest()), it.Pos())
	}
	// Partial shorter than the length field.
	it = NewIter(append(append([]byte(nil), a...), 1, 2, 3))
	if _, ok := it.Next(); !ok {
		t.Fatal("first")
	}
	if _, ok := it.Next(); ok || it.Err() != nil || len(it.Rest()) != 3 {
		t.Fatal("partial")
	}
	// Malformed: length below minimum.
	bad := append([]byte(nil), a...)
	binary.BigEndian.PutUint32(bad[lengthOff:], 3)
	it = NewIter(bad)
	if _, ok := it.Next(); ok || !errors.Is(it.Err(), ErrCorrupt) {
		t.Fatalf("want corrupt, got %v", it.Err())
	}
	// Malformed: magic.
	bad = append([]byte(nil), a...)
	bad[magicOff] = 0
	it = NewIter(bad)
	if _, ok := it.Next(); ok || !errors.Is(it.Err(), ErrUnsupportedMagic) || !errors.Is(it.Err(), ErrInvalidRecord) {
		t.Fatalf("want magic, got %v", it.Err())
	}
	// Empty.
	if _, ok := NewIter(nil).Next(); ok {
		t.Fatal("empty")
	}
}

func TestControl(t *testing.T) {
	for _, commit := range []bool{false, true} {
		b := NewControlBatch(42, 3, commit, 17, 5000)
		if !b.IsControl() || !b.IsTransactional() || b.ProducerID() != 42 || b.ProducerEpoch() != 3 || b.BaseSequence() != NoSequence || b.NumRecords() != 1 {
			t.Fatalf("header %v", b)
		}
		m, err := b.ControlMarker()
		if err != nil {
			t.Fatal(err)
		}
		want := ControlAbort
		if commit {
			want = ControlCommit
		}
		if m.Type != want || m.CoordinatorEpoch != 17 {
			t.Fatalf("got %+v", m)
		}
		if ct, err := b.ControlType(); ct != want || err != nil {
			t.Fatal(ct, err)
		}
	}
	// A non-control batch, a control batch with a short key, a compressed control batch.
	if _, err := testBatch(t, None, 1).ControlType(); !errors.Is(err, ErrInvalidRecord) {
		t.Fatal(err)
	}
	bld := NewBuilder()
	bld.Control, bld.Transactional, bld.ProducerID, bld.ProducerEpoch = true, true, 1, 0
	if _, err := bld.Append(0, []byte{0}, nil).Build().ControlType(); !errors.Is(err, ErrInvalidRecord) {
		t.Fatal(err)
	}
	bld = NewBuilder()
	bld.Control, bld.Transactional, bld.ProducerID, bld.ProducerEpoch, bld.Compression = true, true, 1, 0, Gzip
	key := (&kmsg.ControlRecordKey{Type: kmsg.ControlRecordKeyTypeCommit}).AppendTo(nil)
	val := (&kmsg.EndTxnMarker{CoordinatorEpoch: 4}).AppendTo(nil)
	if m, err := bld.Append(0, key, val).Build().ControlMarker(); err != nil || m.Type != ControlCommit || m.CoordinatorEpoch != 4 {
		t.Fatal(m, err)
	}
}

func TestDecompressionBomb(t *testing.T) {
	b := NewBuilder()
	b.Compression = Zstd
	b.Append(0, nil, make([]byte, 4<<20)) // 4 MiB of zeros compresses to almost nothing
	batch := b.Build()
	if len(batch) > 64<<10 {
		t.Fatalf("unexpectedly poor compression: %d", len(batch))
	}
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		b.Compression = c
		batch := b.Build()
		err := batch.RecordsLimit(1<<20, func(Record) error { return nil })
		if !errors.Is(err, ErrDecompressedTooLarge) || !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("%s: got %v", c, err)
		}
		if err := batch.RecordsLimit(8<<20, func(Record) error { return nil }); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
	}
}

func TestRecordsCorrupt(t *testing.T) {
	good := testBatch(t, None, 3)
	tests := []struct {
		name string
		f    func(Batch) Batch
	}{
		{"count too high", func(b Batch) Batch { binary.BigEndian.PutUint32(b[recordsCountOff:], 4); return b }},
		{"count too low (trailing)", func(b Batch) Batch { binary.BigEndian.PutUint32(b[recordsCountOff:], 2); return b }},
		{"truncated", func(b Batch) Batch { return b[:len(b)-5] }},
		{"bad varint", func(b Batch) Batch { b[BatchHeaderSize] = 0xff; return b }},
		{"garbage compressed", func(b Batch) Batch {
			binary.BigEndian.PutUint16(b[attributesOff:], uint16(Zstd))
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mutate(good, true, tt.f)
			if err := b.Records(func(Record) error { return nil }); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v", err)
			}
		})
	}
	sentinel := errors.New("stop")
	if err := good.Records(func(Record) error { return sentinel }); err != sentinel {
		t.Fatalf("callback error not returned unchanged: %v", err)
	}
}

func TestRawSnappyAndMultiChunkXerial(t *testing.T) {
	src := bytes.Repeat([]byte("abcdefgh"), 20000) // 160 KB → several 32 KB xerial chunks
	enc, err := Compress(Snappy, src)
	if err != nil || !bytes.HasPrefix(enc, xerialHeader) {
		t.Fatal(err)
	}
	for _, in := range [][]byte{enc, s2.EncodeSnappy(nil, src)} {
		out, err := Decompress(Snappy, in, len(src))
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("err=%v equal=%v", err, bytes.Equal(out, src))
		}
		if _, err := Decompress(Snappy, in, len(src)-1); !errors.Is(err, ErrDecompressedTooLarge) {
			t.Fatalf("limit: %v", err)
		}
	}
}
