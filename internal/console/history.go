package console

import (
	"slices"
	"sync"
	"time"
)

// Sampling defaults: one point every 10 s, 360 points per series, so the
// history covers the last hour (issue #13: "kept in the broker for at least
// the last hour, so the page is useful without Prometheus").
const (
	DefaultInterval = 10 * time.Second
	DefaultPoints   = 360
	// DefaultMaxSeries bounds how many mirror partitions are sampled. A
	// partition point is 32 bytes (pointBytes), so a full series is
	// 360 × 32 B = 11.25 KiB and 4096 series at most 45 MiB; link series
	// are counted against the same bound. Mirror partitions beyond it are
	// not sampled, and the history answer says so (Truncated).
	DefaultMaxSeries = 4096
)

// pointBytes is the size of one Point, for the documented memory bound.
const pointBytes = 32

// Point is one sample of one mirror partition (or, summed, of a link).
// Offsets are -1 when unknown; lag is SourceEnd − LocalEnd, floored at 0,
// or -1 when the source end is unknown.
type Point struct {
	TimeMs int64 `json:"t"`
	// SourceEnd is the newest source high watermark known at TimeMs, and
	// SourceEndAgeMs how old that knowledge was (-1: none yet).
	SourceEnd      int64 `json:"source_end"`
	LocalEnd       int64 `json:"local_end"`
	SourceEndAgeMs int32 `json:"-"`
	// LastFetchAgeMs is the time since the partition's last fetch from the
	// source (-1: never fetched). Capped at ~24 days by the int32.
	LastFetchAgeMs int32 `json:"last_fetch_age_ms"`
}

// Lag is the records the mirror was behind at the sample, -1 if unknown.
func (p Point) Lag() int64 {
	if p.SourceEnd < 0 {
		return -1
	}
	return max(p.SourceEnd-p.LocalEnd, 0)
}

// ring is a fixed-size circular buffer of points, oldest first on read.
type ring struct {
	buf  []Point
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]Point, n)} }

func (r *ring) add(p Point) {
	r.buf[r.next] = p
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// points returns a copy, oldest first.
func (r *ring) points() []Point {
	if !r.full {
		return slices.Clone(r.buf[:r.next])
	}
	out := make([]Point, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// PartitionKey names a mirror partition.
type PartitionKey struct {
	Link, Topic string
	Partition   int32
}

// History holds the lag history. The sampler goroutine is its only
// writer (Sample); HTTP handlers read it under the lock.
type History struct {
	points    int
	maxSeries int

	mu        sync.RWMutex
	parts     map[PartitionKey]*ring
	links     map[string]*ring
	truncated bool // some mirror partitions were not sampled (maxSeries)
}

// NewHistory keeps points samples per series and at most maxSeries series
// (mirror partitions plus links). Zero values take the defaults.
func NewHistory(points, maxSeries int) *History {
	if points <= 0 {
		points = DefaultPoints
	}
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	return &History{points: points, maxSeries: maxSeries, parts: map[PartitionKey]*ring{}, links: map[string]*ring{}}
}

// MaxBytes is the bound on the memory the points take.
func (h *History) MaxBytes() int64 { return int64(h.points) * int64(h.maxSeries) * pointBytes }

// LivePoints computes, without storing them, the points Sample would
// record at now: one per mirror partition, and one per link with the
// lags of its mirrors that are not stopped summed (an unknown source end
// counts as 0) and the oldest fetch age. A link point keeps the summed
// lag in SourceEnd with LocalEnd 0, so Lag() reads it back.
func LivePoints(now time.Time, snap Snapshot) (map[PartitionKey]Point, map[string]Point) {
	parts := map[PartitionKey]Point{}
	links := map[string]Point{}
	ms := now.UnixMilli()
	for _, l := range snap.Links {
		links[l.Name] = Point{TimeMs: ms, LastFetchAgeMs: -1}
	}
	for _, m := range snap.Mirrors {
		lp, ok := links[m.Link]
		if !ok {
			lp = Point{TimeMs: ms, LastFetchAgeMs: -1}
		}
		for _, p := range m.Partitions {
			pt := partitionPoint(now, p)
			parts[PartitionKey{m.Link, m.Topic, p.Partition}] = pt
			if m.Stopped {
				continue // not mirroring: no lag to add to the link
			}
			if lag := pt.Lag(); lag > 0 {
				lp.SourceEnd += lag
			}
			lp.LastFetchAgeMs = max(lp.LastFetchAgeMs, pt.LastFetchAgeMs)
		}
		links[m.Link] = lp
	}
	return parts, links
}

// Sample records LivePoints at now. Link series are kept first; mirror
// partitions are added in snapshot order until the series bound, and the
// rest are skipped (Truncated). Series of mirrors and links no longer in
// snap are dropped, so a deleted mirror frees its memory at the next
// sample.
func (h *History) Sample(now time.Time, snap Snapshot) {
	parts, links := LivePoints(now, snap)
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.parts {
		if _, ok := parts[k]; !ok {
			delete(h.parts, k)
		}
	}
	for name := range h.links {
		if _, ok := links[name]; !ok {
			delete(h.links, name)
		}
	}
	for name, lp := range links {
		r := h.links[name]
		if r == nil {
			r = newRing(h.points)
			h.links[name] = r
		}
		r.add(lp)
	}
	h.truncated = false
	for _, m := range snap.Mirrors {
		for _, p := range m.Partitions {
			key := PartitionKey{m.Link, m.Topic, p.Partition}
			r := h.parts[key]
			if r == nil {
				if len(h.parts)+len(h.links) >= h.maxSeries {
					h.truncated = true
					continue
				}
				r = newRing(h.points)
				h.parts[key] = r
			}
			r.add(parts[key])
		}
	}
}

func ageMs(now, t time.Time) int32 {
	if t.IsZero() {
		return -1
	}
	d := now.Sub(t).Milliseconds()
	return int32(min(max(d, 0), 1<<31-1))
}

func partitionPoint(now time.Time, p PartitionSnapshot) Point {
	pt := Point{TimeMs: now.UnixMilli(), SourceEnd: p.SourceEnd, LocalEnd: p.LocalEnd,
		SourceEndAgeMs: -1, LastFetchAgeMs: ageMs(now, p.LastFetch)}
	if p.SourceEnd >= 0 {
		pt.SourceEndAgeMs = ageMs(now, p.SourceEndTime)
	}
	return pt
}

// PartitionHistory returns the points of one mirror partition, oldest
// first (nil if it is not sampled).
func (h *History) PartitionHistory(k PartitionKey) []Point {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if r := h.parts[k]; r != nil {
		return r.points()
	}
	return nil
}

// LinkHistory returns a link's points (lag summed over its mirrors).
func (h *History) LinkHistory(link string) []Point {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if r := h.links[link]; r != nil {
		return r.points()
	}
	return nil
}

// Truncated reports whether the last sample skipped mirror partitions
// because of the series bound.
func (h *History) Truncated() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.truncated
}

// Sampler runs History.Sample every interval on one goroutine until
// Stop.
type Sampler struct {
	h        *History
	snap     func() Snapshot
	now      func() time.Time
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
}

// StartSampler samples now, then every interval (DefaultInterval if 0).
func StartSampler(h *History, interval time.Duration, snap func() Snapshot, now func() time.Time) *Sampler {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if now == nil {
		now = time.Now
	}
	s := &Sampler{h: h, snap: snap, now: now, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *Sampler) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	s.h.Sample(s.now(), s.snap())
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.h.Sample(s.now(), s.snap())
		}
	}
}

// Interval is the sampling period.
func (s *Sampler) Interval() time.Duration { return s.interval }

// Stop ends the goroutine and waits for it (idempotent only once; the
// node calls it once at shutdown).
func (s *Sampler) Stop() {
	close(s.stop)
	<-s.done
}
