package log

import (
	"bytes"
	"testing"

	"github.com/tandem-streaming/tandem/internal/record"
)

// TestPlanTruncation: the plan counts records, not offsets (a transaction
// marker is not a record; a batch the offset falls inside goes whole), it
// changes nothing, and TruncateTo then leaves exactly TruncatedTo with the
// kept prefix byte for byte.
func TestPlanTruncation(t *testing.T) {
	const ts = 1_700_000_000_000
	var s *Syncer
	build := func() *Log {
		var l *Log
		l, s, _ = openTestLog(t, DefaultConfig())
		if _, err := l.AppendAsLeader(simpleBatch(3, ts), 0); err != nil { // 0-2
			t.Fatal(err)
		}
		b := record.NewBuilder()
		b.ProducerID, b.ProducerEpoch, b.BaseSequence, b.Transactional = 7, 0, 0, true
		b.Append(ts, nil, []byte("t1")).Append(ts, nil, []byte("t2"))
		if _, err := l.AppendAsLeader(b.Build(), 0); err != nil { // 3-4
			t.Fatal(err)
		}
		if _, err := l.AppendControl(7, 0, false, 0, 0); err != nil { // 5: abort marker
			t.Fatal(err)
		}
		if _, err := l.AppendAsLeader(simpleBatch(4, ts), 1); err != nil { // 6-9
			t.Fatal(err)
		}
		s.runPending() // the high watermark is the durable end
		return l
	}
	cases := []struct {
		offset, to, records, first, last int64
	}{
		{offset: 10, to: 10, records: 0, first: -1, last: -1},
		{offset: 99, to: 10, records: 0, first: -1, last: -1},
		{offset: 6, to: 6, records: 4, first: 6, last: 9},
		{offset: 8, to: 6, records: 4, first: 6, last: 9}, // inside a batch
		{offset: 5, to: 5, records: 4, first: 5, last: 9}, // the marker is not a record
		{offset: 3, to: 3, records: 6, first: 3, last: 9}, // aborted records are
		{offset: 0, to: 0, records: 9, first: 0, last: 9},
	}
	for _, c := range cases {
		l := build()
		before, err := l.Read(0, 1<<20, ReadUncommitted, true)
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.PlanTruncation(c.offset)
		if err != nil {
			t.Fatal(err)
		}
		if p.TruncatedTo != c.to || p.Records != c.records || p.FirstOffset != c.first || p.LastOffset != c.last || p.LogEndOffset != 10 {
			t.Fatalf("PlanTruncation(%d) = %+v, want to=%d records=%d range=[%d,%d]", c.offset, p, c.to, c.records, c.first, c.last)
		}
		if l.LogEndOffset() != 10 {
			t.Fatalf("the plan changed the log: end %d", l.LogEndOffset())
		}
		if err := l.TruncateTo(c.offset); err != nil {
			t.Fatal(err)
		}
		if l.LogEndOffset() != p.TruncatedTo {
			t.Fatalf("TruncateTo(%d) left end %d, plan said %d", c.offset, l.LogEndOffset(), p.TruncatedTo)
		}
		s.runPending()
		if p.TruncatedTo > 0 {
			// The kept batches are the old ones' prefix, byte for byte.
			var kept []byte
			it := record.NewIter(before.Records)
			for b, ok := it.Next(); ok && b.BaseOffset() < p.TruncatedTo; b, ok = it.Next() {
				kept = append(kept, b...)
			}
			var got []byte
			for off := int64(0); off < p.TruncatedTo; {
				r, err := l.Read(off, 1<<20, ReadUncommitted, true)
				if err != nil || len(r.Records) == 0 {
					t.Fatalf("read at %d: %v", off, err)
				}
				got = append(got, r.Records...)
				it := record.NewIter(r.Records)
				for b, ok := it.Next(); ok; b, ok = it.Next() {
					off = b.NextOffset()
				}
			}
			if !bytes.Equal(got, kept) {
				t.Fatalf("offset %d: kept bytes differ", c.offset)
			}
		}
	}
}
