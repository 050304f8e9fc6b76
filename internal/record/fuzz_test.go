package record

import (
	"testing"
)

func seedCorpus(f *testing.F) {
	for _, c := range []Codec{None, Gzip, Snappy, LZ4, Zstd} {
		f.Add([]byte(testBatch(f, c, 3)))
	}
	f.Add([]byte(NewControlBatch(1, 0, true, 2, 3)))
	two := append(append([]byte(nil), testBatch(f, None, 1)...), testBatch(f, None, 2)...)
	f.Add(two)
	f.Add([]byte{})
}

// FuzzIter: arbitrary bytes never panic, and the batches plus Rest always
// tile the input.
func FuzzIter(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		it := NewIter(data)
		total := 0
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			if int64(len(b)) != int64(b.Length())+LogOverhead {
				t.Fatalf("batch length %d vs field %d", len(b), b.Length())
			}
			total += len(b)
			_ = b.ValidateHeader()
		}
		if total+len(it.Rest()) != len(data) || it.Pos() != total {
			t.Fatalf("tiling: %d + %d != %d", total, len(it.Rest()), len(data))
		}
	})
}

// FuzzValidateHeader: never panics; accepted batches have sane getters.
func FuzzValidateHeader(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b := Batch(data)
		if err := b.ValidateHeader(); err != nil {
			return
		}
		if b.NumRecords() < 0 || b.LastOffsetDelta() < 0 || !b.Compression().Valid() {
			t.Fatalf("accepted bad header %v", b)
		}
		_ = b.LastSequence()
		_, _ = b.ControlMarker()
		_ = b.String()
	})
}

// FuzzRecords: decoding arbitrary batches (with a recomputed CRC so the
// fuzzer reaches the decoders) never panics and respects the limit.
func FuzzRecords(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b := Batch(append([]byte(nil), data...))
		if len(b) >= BatchHeaderSize {
			b.updateCRC()
		}
		const limit = 1 << 20
		n := 0
		err := b.RecordsLimit(limit, func(r Record) error {
			n++
			if len(r.Key)+len(r.Value) > limit {
				t.Fatalf("record exceeds limit")
			}
			return nil
		})
		if err == nil && int32(n) != b.NumRecords() {
			t.Fatalf("decoded %d records, header says %d", n, b.NumRecords())
		}
	})
}
