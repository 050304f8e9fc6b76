package console

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func snap1(sourceEnd, localEnd int64, learned, fetched time.Time) Snapshot {
	return Snapshot{
		Links: []LinkSnapshot{{Name: "dr", State: "ACTIVE"}},
		Mirrors: []MirrorSnapshot{{Link: "dr", Topic: "orders", State: "ACTIVE", Partitions: []PartitionSnapshot{
			{Partition: 0, SourceEnd: sourceEnd, SourceEndTime: learned, LocalEnd: localEnd, LastFetch: fetched},
			{Partition: 1, SourceEnd: 10, SourceEndTime: learned, LocalEnd: 10, LastFetch: fetched},
		}}},
	}
}

func TestRingKeepsNewestInOrder(t *testing.T) {
	r := newRing(3)
	if got := r.points(); len(got) != 0 {
		t.Fatalf("empty ring: %v", got)
	}
	for i := range 5 {
		r.add(Point{TimeMs: int64(i)})
	}
	got := r.points()
	if len(got) != 3 || got[0].TimeMs != 2 || got[1].TimeMs != 3 || got[2].TimeMs != 4 {
		t.Fatalf("points = %+v, want times 2,3,4", got)
	}
}

func TestHistorySamplesPartitionsAndLinks(t *testing.T) {
	h := NewHistory(4, 0)
	for i := range 6 {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		h.Sample(now, snap1(100, int64(90+i), now.Add(-time.Second), now.Add(-2*time.Second)))
	}
	p := h.PartitionHistory(PartitionKey{"dr", "orders", 0})
	if len(p) != 4 {
		t.Fatalf("partition points = %d, want 4 (the ring size)", len(p))
	}
	if p[0].Lag() != 8 || p[3].Lag() != 5 {
		t.Errorf("lags = %d..%d, want 8..5", p[0].Lag(), p[3].Lag())
	}
	if p[3].LastFetchAgeMs != 2000 || p[3].SourceEndAgeMs != 1000 {
		t.Errorf("ages = fetch %d, source end %d; want 2000, 1000", p[3].LastFetchAgeMs, p[3].SourceEndAgeMs)
	}
	l := h.LinkHistory("dr")
	if len(l) != 4 || l[3].Lag() != 5 || l[3].LastFetchAgeMs != 2000 {
		t.Errorf("link points = %+v, want 4 with lag 5 last", l)
	}
	// The mirror goes away: its series is dropped at the next sample.
	h.Sample(t0.Add(time.Minute), Snapshot{Links: []LinkSnapshot{{Name: "dr"}}})
	if p := h.PartitionHistory(PartitionKey{"dr", "orders", 0}); p != nil {
		t.Errorf("deleted mirror still has %d points", len(p))
	}
	h.Sample(t0.Add(2*time.Minute), Snapshot{})
	if l := h.LinkHistory("dr"); l != nil {
		t.Errorf("deleted link still has %d points", len(l))
	}
}

func TestHistoryBoundsSeries(t *testing.T) {
	h := NewHistory(2, 2)
	h.Sample(t0, snap1(5, 5, t0, t0)) // link "dr" comes after its mirrors
	if !h.Truncated() {
		t.Error("two partitions and a link in a bound of two: want truncated")
	}
	if h.MaxBytes() != 2*2*pointBytes {
		t.Errorf("MaxBytes = %d", h.MaxBytes())
	}
	if got := NewHistory(0, 0).MaxBytes(); got != DefaultPoints*DefaultMaxSeries*pointBytes {
		t.Errorf("default bound = %d", got)
	}
}

func TestUnknownSourceEnd(t *testing.T) {
	h := NewHistory(2, 0)
	h.Sample(t0, snap1(-1, 0, time.Time{}, time.Time{}))
	p := h.PartitionHistory(PartitionKey{"dr", "orders", 0})
	if p[0].Lag() != -1 || p[0].LastFetchAgeMs != -1 {
		t.Errorf("unknown source end: %+v lag %d", p[0], p[0].Lag())
	}
}

func TestSamplerStartsAndStops(t *testing.T) {
	h := NewHistory(10, 0)
	called := make(chan struct{}, 1)
	s := StartSampler(h, time.Hour, func() Snapshot {
		select {
		case called <- struct{}{}:
		default:
		}
		return snap1(1, 1, t0, t0)
	}, func() time.Time { return t0 })
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("sampler did not take its first sample")
	}
	s.Stop()
	if s.Interval() != time.Hour {
		t.Errorf("interval = %v", s.Interval())
	}
	if len(h.LinkHistory("dr")) != 1 {
		t.Errorf("link points = %d, want 1", len(h.LinkHistory("dr")))
	}
}
