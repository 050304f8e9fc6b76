// Package metrics holds the broker's Prometheus instrumentation.
//
// Everything is registered on a private *prometheus.Registry (never the
// global default) so that several in-process brokers — as the test harness
// runs them — do not collide, and so the REST layer can serve exactly this
// node's metrics at /metrics.
//
// The request and data-path methods sit on the broker's hot path. They never
// call WithLabelValues per event: label children are resolved once and kept
// in fixed arrays (request metrics, keyed by API key and version) or in a
// sync.Map (per-topic metrics), so a steady-state call is a couple of atomic
// loads plus the counter add. See BenchmarkObserveRequest and BenchmarkBytesIn.
//
// All observation methods are safe to call on a nil *Metrics (they do
// nothing), so packages can be constructed without instrumentation in tests.
package metrics

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const namespace = "tandem"

// maxTrackedVersion bounds the version label. Requests arrive from untrusted
// clients and the broker may observe a request before rejecting its version,
// so an unbounded label would let a client mint series at will. No Kafka API
// is anywhere near this many versions (Fetch is at 17 in Kafka 4.x).
const maxTrackedVersion = 63

// invalidVersionLabel is the version label used for versions outside
// [0, maxTrackedVersion].
const invalidVersionLabel = "invalid"

// requestBuckets cover 50µs (an in-memory metadata answer) up to 30s (a
// long-poll Fetch or a slow CreateTopics), roughly 2.5x apart.
var requestBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// fsyncBuckets cover a fast NVMe flush (tens of µs) up to a stalled disk.
var fsyncBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// httpBuckets are for the admin REST API, which is never latency-critical.
var httpBuckets = []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30}

// Metrics is one node's set of Prometheus metrics. Create it with New.
type Metrics struct {
	reg        *prometheus.Registry
	collectors []prometheus.Collector // every one registered, for Names
	nodeID     int32

	// Request metrics.
	requests   *prometheus.CounterVec   // api, version
	reqErrors  *prometheus.CounterVec   // api, error
	reqDur     *prometheus.HistogramVec // api
	reqBytes   *prometheus.CounterVec   // api
	respBytes  *prometheus.CounterVec   // api
	inFlight   prometheus.Gauge
	conns      prometheus.Gauge
	connsTotal prometheus.Counter
	connLimits connMetrics // connections.go

	// auth counts authentications: listener, mechanism, result (auth.go).
	auth *prometheus.CounterVec
	// authz: authorizer decisions and the ACL count (authz.go).
	authz *authzMetrics

	// apis[key] caches the children for a known API key; unknownAPI is
	// shared by every key kmsg does not know.
	apis       [kmsg.MaxKey + 1]atomic.Pointer[apiMetrics]
	unknownAPI atomic.Pointer[apiMetrics]

	// Data metrics, by topic.
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	msgsIn   *prometheus.CounterVec
	topics   sync.Map // string -> *topicMetrics
	// topicMu serialises child creation with DeleteTopic so that a
	// deletion cannot interleave with a half-built topicMetrics.
	topicMu sync.Mutex

	// Storage.
	fsyncDur prometheus.Histogram
	fsyncs   prometheus.Counter

	// Admin HTTP API.
	httpRequests *prometheus.CounterVec   // route, method, code
	httpDur      *prometheus.HistogramVec // route, method

	partitions *partitionCollector
	links      *linkCollector
	groups     *groupCollector
}

// apiMetrics is the resolved label children for one API key.
type apiMetrics struct {
	name      string
	dur       prometheus.Observer
	reqBytes  prometheus.Counter
	respBytes prometheus.Counter
	// versions[v] is the requests_total child for version v, created
	// lazily; invalidVersion is the child for out-of-range versions.
	versions       [maxTrackedVersion + 1]atomic.Pointer[counterBox]
	invalidVersion atomic.Pointer[counterBox]
	errors         sync.Map // int16 code -> prometheus.Counter
}

// counterBox lets an interface value live behind an atomic.Pointer.
type counterBox struct{ c prometheus.Counter }

// New builds the metrics for node nodeID on a fresh registry that also
// carries the standard Go runtime and process collectors.
func New(nodeID int32) *Metrics {
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		nodeID: nodeID,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Kafka protocol requests handled, by API name and version.",
		}, []string{"api", "version"}),
		reqErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "request_errors_total",
			Help: "Kafka error codes returned, by API name and Kafka error name.",
		}, []string{"api", "error"}),
		reqDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help:    "Time from a request being read to its response being queued, by API name.",
			Buckets: requestBuckets,
		}, []string{"api"}),
		reqBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "request_bytes_total",
			Help: "Bytes of Kafka requests received, by API name.",
		}, []string{"api"}),
		respBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "response_bytes_total",
			Help: "Bytes of Kafka responses sent, by API name.",
		}, []string{"api"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "requests_in_flight",
			Help: "Kafka requests currently being processed.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "connections",
			Help: "Open client connections.",
		}),
		connsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "connections_total",
			Help: "Client connections accepted.",
		}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "bytes_in_total",
			Help: "Record-batch bytes appended by producers, by topic.",
		}, []string{"topic"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "bytes_out_total",
			Help: "Record-batch bytes returned to fetchers, by topic.",
		}, []string{"topic"}),
		msgsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_in_total",
			Help: "Records appended by producers, by topic.",
		}, []string{"topic"}),
		fsyncDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "fsync_duration_seconds",
			Help:    "Duration of log fsync calls.",
			Buckets: fsyncBuckets,
		}),
		fsyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "fsyncs_total",
			Help: "Log fsync calls.",
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "Admin HTTP API requests, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Admin HTTP API request latency, by route pattern and method.",
			Buckets: httpBuckets,
		}, []string{"route", "method"}),
		partitions: newPartitionCollector(),
		links:      newLinkCollector(),
		groups:     newGroupCollector(),
	}
	nodeInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "node_info",
		Help:        "Always 1; carries this node's id as a label for joins.",
		ConstLabels: prometheus.Labels{"node_id": strconv.FormatInt(int64(nodeID), 10)},
	})
	nodeInfo.Set(1)
	m.connLimits = newConnMetrics()
	m.register(m.connLimits.collectors()...)
	m.auth = newAuthMetrics()
	m.register(m.auth)
	m.authz = newAuthzMetrics()
	m.register(m.authz.decisions, m.authz.acls)

	m.register(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		nodeInfo,
		m.requests, m.reqErrors, m.reqDur, m.reqBytes, m.respBytes,
		m.inFlight, m.conns, m.connsTotal,
		m.bytesIn, m.bytesOut, m.msgsIn,
		m.fsyncDur, m.fsyncs,
		m.httpRequests, m.httpDur,
		m.partitions, m.links, m.groups,
	)
	return m
}

func (m *Metrics) register(cs ...prometheus.Collector) {
	m.reg.MustRegister(cs...)
	m.collectors = append(m.collectors, cs...)
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names returns the name of every metric family this node can export,
// including those with no series yet (a counter vector nothing has
// incremented is absent from a scrape), so that documentation can be
// checked against all of them (test/docs).
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	seen := map[string]bool{}
	for d := range ch {
		if s := descName.FindStringSubmatch(d.String()); s != nil {
			seen[s[1]] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Registry returns the registry holding every metric of this node.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// NodeID returns the node id the metrics were created for.
func (m *Metrics) NodeID() int32 { return m.nodeID }

// api returns the cached children for an API key, creating them on first use.
func (m *Metrics) api(key int16) *apiMetrics {
	slot := &m.unknownAPI
	if key >= 0 && int(key) < len(m.apis) {
		slot = &m.apis[key]
	}
	if a := slot.Load(); a != nil {
		return a
	}
	name := kmsg.NameForKey(key) // "Unknown" for keys kmsg does not know
	a := &apiMetrics{
		name:      name,
		dur:       m.reqDur.WithLabelValues(name),
		reqBytes:  m.reqBytes.WithLabelValues(name),
		respBytes: m.respBytes.WithLabelValues(name),
	}
	// WithLabelValues is idempotent, so losing this race only wastes the
	// allocation; every winner points at the same children.
	if slot.CompareAndSwap(nil, a) {
		return a
	}
	return slot.Load()
}

func (a *apiMetrics) version(vec *prometheus.CounterVec, v int16) prometheus.Counter {
	slot := &a.invalidVersion
	label := invalidVersionLabel
	if v >= 0 && int(v) < len(a.versions) {
		slot = &a.versions[v]
		label = strconv.Itoa(int(v))
	}
	if b := slot.Load(); b != nil {
		return b.c
	}
	b := &counterBox{vec.WithLabelValues(a.name, label)}
	if slot.CompareAndSwap(nil, b) {
		return b.c
	}
	return slot.Load().c
}

// ObserveRequest records one handled Kafka request: its API key and
// version, the time taken, and the request and response sizes in bytes.
func (m *Metrics) ObserveRequest(key, version int16, dur time.Duration, reqBytes, respBytes int) {
	if m == nil {
		return
	}
	a := m.api(key)
	a.version(m.requests, version).Inc()
	a.dur.Observe(dur.Seconds())
	if reqBytes > 0 {
		a.reqBytes.Add(float64(reqBytes))
	}
	if respBytes > 0 {
		a.respBytes.Add(float64(respBytes))
	}
}

// ObserveError records a Kafka error code returned for API key. Code 0
// (NONE) is ignored. Codes kerr does not know are counted as
// UNKNOWN_SERVER_ERROR, which also keeps the label set bounded.
func (m *Metrics) ObserveError(key, code int16) {
	if m == nil || code == 0 {
		return
	}
	a := m.api(key)
	if c, ok := a.errors.Load(code); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	name := kerr.UnknownServerError.Message
	if ke := kerr.TypedErrorForCode(code); ke != nil {
		name = ke.Message
	}
	c, _ := a.errors.LoadOrStore(code, m.reqErrors.WithLabelValues(a.name, name))
	c.(prometheus.Counter).Inc()
}

// ConnOpened records an accepted client connection.
func (m *Metrics) ConnOpened() {
	if m == nil {
		return
	}
	m.connsTotal.Inc()
	m.conns.Inc()
}

// ConnClosed records a client connection going away.
func (m *Metrics) ConnClosed() {
	if m == nil {
		return
	}
	m.conns.Dec()
}

// InFlight adjusts the in-flight request gauge by delta (+1 when a request
// is read, -1 when its response is written).
func (m *Metrics) InFlight(delta int) {
	if m == nil {
		return
	}
	m.inFlight.Add(float64(delta))
}

// ObserveFsync records one log fsync and how long it took.
func (m *Metrics) ObserveFsync(d time.Duration) {
	if m == nil {
		return
	}
	m.fsyncs.Inc()
	m.fsyncDur.Observe(d.Seconds())
}

// ObserveHTTP records one admin HTTP API request. route must come from a
// bounded set (the mux pattern, or a fixed placeholder for unmatched paths);
// method should already be normalised by the caller.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDur.WithLabelValues(route, method).Observe(d.Seconds())
}
