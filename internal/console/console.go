// Package console serves Tandem's web console: a single page (plain HTML,
// CSS and JavaScript embedded in the binary, nothing fetched from outside,
// so it works air-gapped) at "/" on the HTTP listeners, and the few JSON
// endpoints under /console/api/ that the REST v3 API has no equivalent
// for: overview, topic sizes, consumer groups with lag, lag history and
// failover readiness. Everything else the page reads and does goes
// through REST v3 (/kafka/v3/...). docs/console.md describes the views and
// the definitions of the numbers.
package console

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tandem-streaming/tandem/internal/rest"
)

//go:embed static
var static embed.FS

// Source is what the console reads from the broker. It is read-only.
type Source interface {
	Overview(ctx context.Context) Overview
	Topics(ctx context.Context) ([]Topic, error)
	Groups(ctx context.Context) ([]Group, error)
	// Snapshot is the links and mirror partitions now (empty when cluster
	// linking is disabled).
	Snapshot() Snapshot
}

// Overview is the cluster and broker at a glance.
type Overview struct {
	ClusterID       string   `json:"cluster_id"`
	NodeID          int32    `json:"node_id"`
	Version         string   `json:"version"`
	KafkaListeners  []string `json:"kafka_listeners"`
	Advertised      string   `json:"advertised"`
	HTTPListeners   []string `json:"http_listeners"`
	StartedMs       int64    `json:"started_ms"`
	LogDir          string   `json:"log_dir"`
	ClusterLinking  bool     `json:"cluster_linking_enabled"`
	Topics          int      `json:"topics"`
	Partitions      int      `json:"partitions"`
	LogBytes        int64    `json:"log_bytes"`
	Links           int      `json:"links"`
	Mirrors         int      `json:"mirrors"`
	SampleInterval  float64  `json:"history_interval_seconds"`
	HistoryPoints   int      `json:"history_points"`
	HistoryMaxBytes int64    `json:"history_max_bytes"`
}

// Topic is one topic with its partitions' offsets and sizes.
type Topic struct {
	Name              string      `json:"topic_name"`
	Internal          bool        `json:"is_internal"`
	ReplicationFactor int16       `json:"replication_factor"`
	MirrorLink        string      `json:"mirror_link,omitempty"`
	MirrorState       string      `json:"mirror_status,omitempty"`
	Bytes             int64       `json:"size_bytes"`
	Records           int64       `json:"records"` // sum of HWM − log start (offsets, so an upper bound with compaction)
	Partitions        []Partition `json:"partitions"`
}

// Partition is one partition of a topic.
type Partition struct {
	Partition      int32 `json:"partition_id"`
	Leader         int32 `json:"leader"`
	LeaderEpoch    int32 `json:"leader_epoch"`
	LogStartOffset int64 `json:"log_start_offset"`
	HighWatermark  int64 `json:"high_watermark"`
	LogEndOffset   int64 `json:"log_end_offset"`
	Bytes          int64 `json:"size_bytes"`
	Segments       int   `json:"segments"`
}

// Group is one consumer group with its committed offsets and lag.
type Group struct {
	GroupID      string        `json:"group_id"`
	State        string        `json:"state"`
	ProtocolType string        `json:"protocol_type"`
	Protocol     string        `json:"protocol"`
	Members      int           `json:"members"`
	Lag          int64         `json:"lag"` // sum over partitions with a committed offset
	Offsets      []GroupOffset `json:"offsets"`
	Error        string        `json:"error,omitempty"`
}

// GroupOffset is a committed offset and the lag behind the high watermark.
type GroupOffset struct {
	Topic         string `json:"topic_name"`
	Partition     int32  `json:"partition_id"`
	Committed     int64  `json:"committed_offset"`
	HighWatermark int64  `json:"high_watermark"` // -1: partition unknown here
	Lag           int64  `json:"lag"`            // -1: unknown
}

// Handler serves the console page and /console/api/.
type Handler struct {
	src   Source
	hist  *History
	now   func() time.Time
	every time.Duration
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns the console handler. hist is the sampler's history; every
// its sampling interval (shown on the page).
func New(src Source, hist *History, every time.Duration, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{src: src, hist: hist, now: time.Now, every: every, log: logger, mux: http.NewServeMux()}
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	h.mux.Handle("GET /{$}", files)
	h.mux.Handle("GET /console/static/", http.StripPrefix("/console/static", files))
	h.mux.HandleFunc("GET /console/api/overview", h.overview)
	h.mux.HandleFunc("GET /console/api/topics", h.topics)
	h.mux.HandleFunc("GET /console/api/groups", h.groups)
	h.mux.HandleFunc("GET /console/api/readiness", h.readiness)
	h.mux.HandleFunc("GET /console/api/history", h.history)
	h.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		rest.WriteJSON(w, http.StatusNotFound, map[string]any{"error_code": 404, "message": "HTTP 404 Not Found"})
	})
	return h
}

// ServeHTTP serves the page and the console API. Every answer carries a
// Content-Security-Policy that lets the page load and call nothing but
// this origin, so a stray external reference fails loudly in testing
// rather than leaking in production.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	rest.WriteJSON(w, status, map[string]any{"error_code": status, "message": msg})
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	o := h.src.Overview(r.Context())
	o.SampleInterval = h.every.Seconds()
	o.HistoryPoints = h.hist.points
	o.HistoryMaxBytes = h.hist.MaxBytes()
	rest.WriteJSON(w, http.StatusOK, o)
}

func (h *Handler) topics(w http.ResponseWriter, r *http.Request) {
	ts, err := h.src.Topics(r.Context())
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if ts == nil {
		ts = []Topic{}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"data": ts})
}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request) {
	gs, err := h.src.Groups(r.Context())
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if gs == nil {
		gs = []Group{}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"data": gs})
}

// readinessDoc is shown beside the numbers on the page.
var readinessDoc = map[string]string{
	"records_at_risk":          "Last known source end offset minus the mirror's log end offset, summed over partitions: records a failover now would leave behind, as of when the source end was learned.",
	"bytes_at_risk_estimate":   "An estimate: records at risk times the mirror partition's average record size (its log bytes over its offset span).",
	"seconds_at_risk":          "Now minus the latest time T at which the source held nothing the mirror does not hold now: T is when a source end the mirror has reached was learned (the current one, the last fetch's, or one in the sampled history, which is up to one sampling interval conservative). The worst partition counts.",
	"seconds_at_risk_at_least": "Shown when the history is too short to find T: the mirror has been behind for at least this long.",
	"consumer_offset_lag":      "With consumer offset sync on: the synced groups' committed offsets on the source minus those on this cluster, as the last sync found them, summed over groups and partitions: records those groups would read again after a failover now. Groups active on this cluster are left out. Otherwise " + ConsumerOffsetsNotSynced + ": consumers that fail over start from whatever offsets they have on this cluster.",
	"max_last_fetch_age_ms":    "Time since the oldest partition's last fetch from the source.",
}

func (h *Handler) readiness(w http.ResponseWriter, r *http.Request) {
	snap := h.src.Snapshot()
	links, mirrors := ComputeReadiness(h.now(), snap, h.hist.PartitionHistory)
	if mirrors == nil {
		mirrors = []MirrorReadiness{}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"links": links, "mirrors": mirrors, "definitions": readinessDoc})
}

// historyPoint is a Point as the page plots it.
type historyPoint struct {
	TimeMs         int64 `json:"t"`
	Live           bool  `json:"live,omitempty"` // computed for this answer, not stored
	Lag            int64 `json:"lag"`
	SourceEnd      int64 `json:"source_end,omitempty"`
	LocalEnd       int64 `json:"local_end,omitempty"`
	LastFetchAgeMs int32 `json:"last_fetch_age_ms"`
}

// history answers ?link=L (the link's summed lag), ?link=L&mirror=T (one
// series per partition) or with &partition=P, one partition.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	link, topic := q.Get("link"), q.Get("mirror")
	if link == "" {
		writeErr(w, http.StatusBadRequest, "link is required")
		return
	}
	out := map[string]any{"link_name": link, "interval_seconds": h.every.Seconds(), "truncated": h.hist.Truncated()}
	// The stored points end with the present, computed now, so a plot
	// reaches the current value between samples.
	snap := h.src.Snapshot()
	liveParts, liveLinks := LivePoints(h.now(), snap)
	conv := func(pts []Point, live Point, haveLive, link bool) []historyPoint {
		if haveLive {
			pts = append(pts, live)
		}
		hp := make([]historyPoint, len(pts))
		for i, p := range pts {
			hp[i] = historyPoint{TimeMs: p.TimeMs, Lag: p.Lag(), LastFetchAgeMs: p.LastFetchAgeMs, Live: haveLive && i == len(pts)-1}
			if !link {
				hp[i].SourceEnd, hp[i].LocalEnd = p.SourceEnd, p.LocalEnd
			}
		}
		return hp
	}
	if topic == "" {
		lp, ok := liveLinks[link]
		out["points"] = conv(h.hist.LinkHistory(link), lp, ok, true)
		rest.WriteJSON(w, http.StatusOK, out)
		return
	}
	out["mirror_topic_name"] = topic
	var parts []int32
	if ps := q.Get("partition"); ps != "" {
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || p < 0 {
			writeErr(w, http.StatusBadRequest, "partition must be a non-negative integer")
			return
		}
		parts = []int32{int32(p)}
	} else {
		for _, m := range snap.Mirrors {
			if m.Link == link && m.Topic == topic {
				for _, p := range m.Partitions {
					parts = append(parts, p.Partition)
				}
			}
		}
	}
	series := []map[string]any{}
	for _, p := range parts {
		key := PartitionKey{link, topic, p}
		lp, ok := liveParts[key]
		series = append(series, map[string]any{"partition": p,
			"points": conv(h.hist.PartitionHistory(key), lp, ok, false)})
	}
	out["partitions"] = series
	rest.WriteJSON(w, http.StatusOK, out)
}
