package console

import (
	"fmt"
	"time"
)

// Snapshot is the live state the sampler and the readiness view read: the
// links and every mirror partition, as the link manager reports them.
type Snapshot struct {
	Links   []LinkSnapshot
	Mirrors []MirrorSnapshot
}

// LinkSnapshot is one link.
type LinkSnapshot struct {
	Name  string
	State string
}

// MirrorSnapshot is one mirror topic.
type MirrorSnapshot struct {
	Link, Topic, State string
	// Stopped: failed over or promoted (STOPPED, PENDING_STOPPED); the
	// topic no longer mirrors, so nothing is at risk.
	Stopped    bool
	Partitions []PartitionSnapshot
}

// PartitionSnapshot is one mirror partition.
type PartitionSnapshot struct {
	Partition int32
	// SourceEnd is the newest source high watermark known (-1: none),
	// learned at SourceEndTime.
	SourceEnd     int64
	SourceEndTime time.Time
	// LocalStart and LocalEnd are the mirror partition's log start and
	// end offsets, LocalBytes the size of its log.
	LocalStart, LocalEnd int64
	LocalBytes           int64
	LastFetch            time.Time // zero: never fetched
	// FetchedSourceEnd is the source high watermark the last fetch
	// returned (at LastFetch); -1 before the first fetch.
	FetchedSourceEnd int64
	// ConsumerOffsetLag is, over the groups the link's offset sync
	// selects (and that are not active here), the source's committed
	// offsets minus this cluster's, as the last sync found them; nil when
	// the link does not sync consumer offsets.
	ConsumerOffsetLag *int64
}

// Readiness is what a failover would lose right now, for one mirror
// partition, one mirror or one link (docs/console.md defines each field).
type Readiness struct {
	// RecordsAtRisk is the last known source end minus the mirror's log
	// end, summed over partitions; -1 when no source end is known for
	// some partition (RecordsKnown is false then, and the sum covers the
	// partitions that are known).
	RecordsAtRisk int64 `json:"records_at_risk"`
	RecordsKnown  bool  `json:"records_known"`
	// BytesAtRiskEstimate is RecordsAtRisk times the mirror partition's
	// average bytes per record (its log size over its offset span): an
	// estimate, since record sizes vary. -1 when no partition with lag
	// has records to average over.
	BytesAtRiskEstimate int64 `json:"bytes_at_risk_estimate"`
	// SecondsAtRisk is now minus the latest time T such that the mirror
	// holds every record the source held at T (the largest over
	// partitions). T is the time a source end was learned that the mirror
	// has since reached: the current one when the mirror is caught up,
	// else the later of the last fetch's (when the mirror holds what it
	// returned) and the newest sampled one at or below the mirror's end. -1 when
	// no such time is in the history (SecondsAtLeast is then the lower
	// bound the history can prove).
	SecondsAtRisk  float64 `json:"seconds_at_risk"`
	SecondsAtLeast float64 `json:"seconds_at_risk_at_least,omitempty"`
	// ConsumerOffsetLag is what the synced groups would read again after
	// a failover now (their committed offsets on the source minus those
	// here, summed over groups and partitions); null when the link does
	// not sync consumer offsets.
	ConsumerOffsetLag *int64 `json:"consumer_offset_lag"`
	ConsumerOffsets   string `json:"consumer_offsets"`
	// MaxLastFetchAgeMs is the oldest "time since last fetch" (-1: some
	// partition never fetched, or nothing to fetch).
	MaxLastFetchAgeMs int64 `json:"max_last_fetch_age_ms"`
	// Stopped: the mirror is already failed over or promoted.
	Stopped bool `json:"stopped,omitempty"`
}

// ConsumerOffsetsNotSynced is what the consumer-offset fields say when the
// link does not sync consumer offsets.
const ConsumerOffsetsNotSynced = "not synced (consumer.offset.sync.enable is off)"

// consumerOffsets fills the consumer-offset fields from a lag (nil: not
// synced).
func (r *Readiness) consumerOffsets(lag *int64) {
	r.ConsumerOffsetLag, r.ConsumerOffsets = nil, ConsumerOffsetsNotSynced
	if lag != nil {
		l := *lag
		r.ConsumerOffsetLag, r.ConsumerOffsets = &l, fmt.Sprintf("synced, offset lag %d", l)
	}
}

// PartitionReadiness computes one partition's readiness at now, using
// hist (the partition's sampled points, oldest first) to find when the
// source last stood at or below the mirror's end.
func PartitionReadiness(now time.Time, p PartitionSnapshot, hist []Point) Readiness {
	r := Readiness{ConsumerOffsets: ConsumerOffsetsNotSynced, RecordsAtRisk: -1, BytesAtRiskEstimate: -1,
		SecondsAtRisk: -1, MaxLastFetchAgeMs: -1}
	r.consumerOffsets(p.ConsumerOffsetLag)
	if !p.LastFetch.IsZero() {
		r.MaxLastFetchAgeMs = max(now.Sub(p.LastFetch).Milliseconds(), 0)
	}
	if p.SourceEnd < 0 {
		// Nothing known about the source: no number is honest.
		if len(hist) > 0 {
			r.SecondsAtLeast = secs(now.Sub(time.UnixMilli(hist[0].TimeMs)))
		}
		return r
	}
	r.RecordsKnown = true
	r.RecordsAtRisk = max(p.SourceEnd-p.LocalEnd, 0)
	if r.RecordsAtRisk == 0 {
		r.BytesAtRiskEstimate = 0
	} else if span := p.LocalEnd - p.LocalStart; span > 0 && p.LocalBytes > 0 {
		r.BytesAtRiskEstimate = r.RecordsAtRisk * p.LocalBytes / span
	}
	if r.RecordsAtRisk == 0 {
		// Caught up with what was known at SourceEndTime; anything the
		// source took since may be missing.
		if !p.SourceEndTime.IsZero() {
			r.SecondsAtRisk = secs(now.Sub(p.SourceEndTime))
		}
		return r
	}
	// T is the latest time a source end the mirror has reached was
	// learned: at the last fetch (a paused mirror holds everything the
	// source had then), or at a sample in the history.
	var t time.Time
	if p.FetchedSourceEnd >= 0 && p.FetchedSourceEnd <= p.LocalEnd && !p.LastFetch.IsZero() {
		t = p.LastFetch
	}
	for i := len(hist) - 1; i >= 0; i-- {
		pt := hist[i]
		if pt.SourceEnd >= 0 && pt.SourceEnd <= p.LocalEnd {
			learned := time.UnixMilli(pt.TimeMs)
			if pt.SourceEndAgeMs > 0 {
				learned = learned.Add(-time.Duration(pt.SourceEndAgeMs) * time.Millisecond)
			}
			if learned.After(t) {
				t = learned
			}
			break
		}
	}
	if !t.IsZero() {
		r.SecondsAtRisk = secs(now.Sub(t))
		return r
	}
	if len(hist) > 0 {
		r.SecondsAtLeast = secs(now.Sub(time.UnixMilli(hist[0].TimeMs)))
	}
	return r
}

func secs(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Milliseconds()) / 1000
}

// Combine aggregates partition (or mirror) readiness: records and bytes
// add, seconds and fetch age take the worst.
func Combine(rs []Readiness) Readiness {
	out := Readiness{ConsumerOffsets: ConsumerOffsetsNotSynced, RecordsKnown: true, MaxLastFetchAgeMs: -1}
	bytesKnown, secsKnown := true, true
	neverFetched := false
	var offsetLag *int64
	for _, r := range rs {
		if r.Stopped {
			continue
		}
		if r.ConsumerOffsetLag != nil {
			if offsetLag == nil {
				offsetLag = new(int64)
			}
			*offsetLag += *r.ConsumerOffsetLag
		}
		if r.RecordsKnown {
			out.RecordsAtRisk += r.RecordsAtRisk
		} else {
			out.RecordsKnown = false
		}
		if r.BytesAtRiskEstimate >= 0 {
			out.BytesAtRiskEstimate += r.BytesAtRiskEstimate
		} else {
			bytesKnown = false
		}
		if r.SecondsAtRisk >= 0 {
			out.SecondsAtRisk = max(out.SecondsAtRisk, r.SecondsAtRisk)
		} else {
			secsKnown = false
			out.SecondsAtLeast = max(out.SecondsAtLeast, r.SecondsAtLeast)
		}
		if r.MaxLastFetchAgeMs < 0 {
			neverFetched = true
		}
		out.MaxLastFetchAgeMs = max(out.MaxLastFetchAgeMs, r.MaxLastFetchAgeMs)
	}
	if !out.RecordsKnown && out.RecordsAtRisk == 0 {
		out.RecordsAtRisk = -1
	}
	if !bytesKnown {
		out.BytesAtRiskEstimate = -1
	}
	if !secsKnown {
		out.SecondsAtLeast = max(out.SecondsAtLeast, out.SecondsAtRisk)
		out.SecondsAtRisk = -1
	}
	if neverFetched {
		out.MaxLastFetchAgeMs = -1
	}
	out.consumerOffsets(offsetLag)
	return out
}

// MirrorReadiness is a mirror's readiness with its partitions'.
type MirrorReadiness struct {
	Link       string           `json:"link_name"`
	Topic      string           `json:"mirror_topic_name"`
	State      string           `json:"mirror_status"`
	Readiness                   // the mirror as a whole
	Partitions []PartitionReady `json:"partitions"`
}

// PartitionReady is one partition's line in MirrorReadiness.
type PartitionReady struct {
	Partition int32 `json:"partition"`
	Readiness
}

// LinkReadiness is a link's readiness (over its mirrors that are not
// stopped).
type LinkReadiness struct {
	Link  string `json:"link_name"`
	State string `json:"link_state"`
	Readiness
	Mirrors int `json:"mirrors"`
}

// ComputeReadiness computes readiness for every mirror and link in snap.
// hist returns a partition's sampled points (nil: none).
func ComputeReadiness(now time.Time, snap Snapshot, hist func(PartitionKey) []Point) ([]LinkReadiness, []MirrorReadiness) {
	var mirrors []MirrorReadiness
	byLink := map[string][]Readiness{}
	count := map[string]int{}
	for _, m := range snap.Mirrors {
		mr := MirrorReadiness{Link: m.Link, Topic: m.Topic, State: m.State, Partitions: []PartitionReady{}}
		var rs []Readiness
		for _, p := range m.Partitions {
			r := PartitionReadiness(now, p, hist(PartitionKey{m.Link, m.Topic, p.Partition}))
			if m.Stopped {
				r = Readiness{Stopped: true, ConsumerOffsets: ConsumerOffsetsNotSynced, RecordsKnown: true,
					BytesAtRiskEstimate: 0, MaxLastFetchAgeMs: -1}
			}
			rs = append(rs, r)
			mr.Partitions = append(mr.Partitions, PartitionReady{Partition: p.Partition, Readiness: r})
		}
		if m.Stopped {
			mr.Readiness = Readiness{Stopped: true, ConsumerOffsets: ConsumerOffsetsNotSynced, RecordsKnown: true, MaxLastFetchAgeMs: -1}
		} else {
			mr.Readiness = Combine(rs)
			byLink[m.Link] = append(byLink[m.Link], mr.Readiness)
			count[m.Link]++
		}
		mirrors = append(mirrors, mr)
	}
	links := make([]LinkReadiness, 0, len(snap.Links))
	for _, l := range snap.Links {
		links = append(links, LinkReadiness{Link: l.Name, State: l.State, Readiness: Combine(byLink[l.Name]), Mirrors: count[l.Name]})
	}
	return links, mirrors
}
