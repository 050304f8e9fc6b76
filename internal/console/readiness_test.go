package console

import (
	"testing"
	"time"
)

func TestPartitionReadiness(t *testing.T) {
	now := t0.Add(time.Minute)
	// History: the source end, sampled every 10 s, learned 1 s before
	// each sample.
	var hist []Point
	for i, se := range []int64{100, 200, 300, 400} {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		hist = append(hist, Point{TimeMs: at.UnixMilli(), SourceEnd: se, LocalEnd: 50, SourceEndAgeMs: 1000})
	}
	cases := []struct {
		name        string
		p           PartitionSnapshot
		hist        []Point
		records     int64
		known       bool
		bytes       int64
		secs, least float64
	}{
		{name: "caught up: age of the source end",
			p:       PartitionSnapshot{SourceEnd: 500, SourceEndTime: now.Add(-3 * time.Second), LocalStart: 0, LocalEnd: 500, LocalBytes: 50000},
			records: 0, known: true, bytes: 0, secs: 3},
		{name: "behind: newest sampled source end the mirror has reached",
			p:       PartitionSnapshot{SourceEnd: 500, SourceEndTime: now, LocalStart: 0, LocalEnd: 250, LocalBytes: 25000},
			hist:    hist,
			records: 250, known: true, bytes: 25000,
			// sample 1 (t0+10s, source end 200 ≤ 250), learned at t0+9s.
			secs: 51},
		{name: "paused after catching up: the last fetch's source end is reached",
			p: PartitionSnapshot{SourceEnd: 500, SourceEndTime: now, LocalStart: 0, LocalEnd: 250, LocalBytes: 25000,
				FetchedSourceEnd: 250, LastFetch: now.Add(-4 * time.Second)},
			hist:    hist,
			records: 250, known: true, bytes: 25000, secs: 4},
		{name: "the history knows a later time than the last fetch",
			p: PartitionSnapshot{SourceEnd: 500, SourceEndTime: now, LocalStart: 0, LocalEnd: 250, LocalBytes: 25000,
				FetchedSourceEnd: 100, LastFetch: now.Add(-55 * time.Second)},
			hist:    hist,
			records: 250, known: true, bytes: 25000, secs: 51},
		{name: "behind further than the history reaches",
			p:       PartitionSnapshot{SourceEnd: 500, SourceEndTime: now, LocalStart: 0, LocalEnd: 60, LocalBytes: 600, FetchedSourceEnd: 70, LastFetch: now},
			hist:    hist,
			records: 440, known: true, bytes: 4400, secs: -1, least: 60},
		{name: "empty mirror: bytes cannot be estimated",
			p:       PartitionSnapshot{SourceEnd: 10, SourceEndTime: now, LocalStart: 0, LocalEnd: 0},
			records: 10, known: true, bytes: -1, secs: -1},
		{name: "source end unknown",
			p:       PartitionSnapshot{SourceEnd: -1, LocalEnd: 5},
			hist:    hist,
			records: -1, known: false, bytes: -1, secs: -1, least: 60},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := PartitionReadiness(now, c.p, c.hist)
			if r.RecordsAtRisk != c.records || r.RecordsKnown != c.known || r.BytesAtRiskEstimate != c.bytes ||
				r.SecondsAtRisk != c.secs || r.SecondsAtLeast != c.least {
				t.Errorf("got records %d known %v bytes %d secs %v least %v; want %d %v %d %v %v",
					r.RecordsAtRisk, r.RecordsKnown, r.BytesAtRiskEstimate, r.SecondsAtRisk, r.SecondsAtLeast,
					c.records, c.known, c.bytes, c.secs, c.least)
			}
			if r.ConsumerOffsetLag != nil || r.ConsumerOffsets != ConsumerOffsetsNotSynced {
				t.Errorf("consumer offsets = %v %q, want not synced", r.ConsumerOffsetLag, r.ConsumerOffsets)
			}
		})
	}
}

func TestComputeReadinessAggregates(t *testing.T) {
	now := t0.Add(time.Minute)
	snap := Snapshot{
		Links: []LinkSnapshot{{Name: "dr", State: "ACTIVE"}, {Name: "idle", State: "ACTIVE"}},
		Mirrors: []MirrorSnapshot{
			{Link: "dr", Topic: "a", State: "ACTIVE", Partitions: []PartitionSnapshot{
				{Partition: 0, SourceEnd: 10, SourceEndTime: now.Add(-2 * time.Second), LocalEnd: 10, LocalBytes: 100, LastFetch: now.Add(-time.Second)},
				{Partition: 1, SourceEnd: 30, SourceEndTime: now, LocalEnd: 20, LocalBytes: 200, LastFetch: now.Add(-4 * time.Second), FetchedSourceEnd: 25},
			}},
			{Link: "dr", Topic: "b", State: "STOPPED", Stopped: true, Partitions: []PartitionSnapshot{
				{Partition: 0, SourceEnd: 99, LocalEnd: 1},
			}},
		},
	}
	hist := func(k PartitionKey) []Point {
		if k.Partition == 1 {
			return []Point{{TimeMs: t0.Add(30 * time.Second).UnixMilli(), SourceEnd: 20, SourceEndAgeMs: 0}}
		}
		return nil
	}
	links, mirrors := ComputeReadiness(now, snap, hist)
	if len(mirrors) != 2 || len(links) != 2 {
		t.Fatalf("got %d links, %d mirrors", len(links), len(mirrors))
	}
	a := mirrors[0]
	if a.RecordsAtRisk != 10 || a.BytesAtRiskEstimate != 100 || a.SecondsAtRisk != 30 || a.MaxLastFetchAgeMs != 4000 {
		t.Errorf("mirror a = %+v", a.Readiness)
	}
	if len(a.Partitions) != 2 || a.Partitions[0].SecondsAtRisk != 2 {
		t.Errorf("mirror a partitions = %+v", a.Partitions)
	}
	if b := mirrors[1]; !b.Stopped || b.RecordsAtRisk != 0 {
		t.Errorf("stopped mirror = %+v, want stopped with nothing at risk", b.Readiness)
	}
	dr := links[0]
	if dr.Mirrors != 1 || dr.RecordsAtRisk != 10 || dr.SecondsAtRisk != 30 {
		t.Errorf("link dr = %+v (the stopped mirror must not count)", dr)
	}
	if idle := links[1]; idle.Mirrors != 0 || idle.RecordsAtRisk != 0 || !idle.RecordsKnown {
		t.Errorf("link idle = %+v", idle)
	}
	// One partition without a known source end makes the sum a lower bound.
	c := Combine([]Readiness{{RecordsAtRisk: 5, RecordsKnown: true, SecondsAtRisk: 1, BytesAtRiskEstimate: 5},
		{RecordsAtRisk: -1, SecondsAtRisk: -1, SecondsAtLeast: 7, BytesAtRiskEstimate: -1, MaxLastFetchAgeMs: -1}})
	if c.RecordsKnown || c.RecordsAtRisk != 5 || c.SecondsAtRisk != -1 || c.SecondsAtLeast != 7 || c.BytesAtRiskEstimate != -1 {
		t.Errorf("combine with an unknown partition = %+v", c)
	}
}

// TestConsumerOffsetLagReadiness: with offset sync on, a partition's
// consumer-offset lag is shown and the mirror and link add them up;
// without it, "not synced" and null.
func TestConsumerOffsetLagReadiness(t *testing.T) {
	now := t0.Add(time.Minute)
	lag := func(n int64) *int64 { return &n }
	part := func(p int32, l *int64) PartitionSnapshot {
		return PartitionSnapshot{Partition: p, SourceEnd: 10, SourceEndTime: t0, LocalEnd: 10, FetchedSourceEnd: 10,
			LastFetch: t0, ConsumerOffsetLag: l}
	}
	snap := Snapshot{
		Links: []LinkSnapshot{{Name: "on", State: "ACTIVE"}, {Name: "off", State: "ACTIVE"}},
		Mirrors: []MirrorSnapshot{
			{Link: "on", Topic: "a", State: "ACTIVE", Partitions: []PartitionSnapshot{part(0, lag(3)), part(1, lag(0))}},
			{Link: "on", Topic: "b", State: "ACTIVE", Partitions: []PartitionSnapshot{part(0, lag(4))}},
			{Link: "off", Topic: "c", State: "ACTIVE", Partitions: []PartitionSnapshot{part(0, nil)}},
		},
	}
	links, mirrors := ComputeReadiness(now, snap, func(PartitionKey) []Point { return nil })
	check := func(what string, r Readiness, want *int64, text string) {
		t.Helper()
		if (r.ConsumerOffsetLag == nil) != (want == nil) || want != nil && *r.ConsumerOffsetLag != *want || r.ConsumerOffsets != text {
			t.Errorf("%s: consumer offsets %v %q, want %v %q", what, r.ConsumerOffsetLag, r.ConsumerOffsets, want, text)
		}
	}
	check("a/0", mirrors[0].Partitions[0].Readiness, lag(3), "synced, offset lag 3")
	check("a", mirrors[0].Readiness, lag(3), "synced, offset lag 3")
	check("b", mirrors[1].Readiness, lag(4), "synced, offset lag 4")
	check("c", mirrors[2].Readiness, nil, ConsumerOffsetsNotSynced)
	check("link on", links[0].Readiness, lag(7), "synced, offset lag 7")
	check("link off", links[1].Readiness, nil, ConsumerOffsetsNotSynced)
}
