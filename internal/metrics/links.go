package metrics

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// linkFetchBuckets cover a long-poll fetch answered at once (a busy
// source, ~1ms) up to replica.fetch.wait.max.ms plus request.timeout.ms.
var linkFetchBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// LinkStat is a point-in-time view of one cluster link, as reported by the
// link source at scrape time.
type LinkStat struct {
	Link  string
	State string
	// MirrorsByState counts the link's mirror topics by reported state.
	MirrorsByState map[string]int
	// FetchedBytes and FetchedRecords are the link fetcher's cumulative
	// counters (appended to mirror logs); zero before the fetcher exists.
	FetchedBytes, FetchedRecords int64
	// FetchErrors counts fetch requests that failed whole (connection,
	// timeout, undecodable answer); CorruptResponses partition answers
	// dropped because their records failed validation (CRC).
	FetchErrors, CorruptResponses int64
	// FetchRequests counts the fetch requests sent to the source, and
	// LinkFetchRequests those of them that were LinkFetch (pipelined,
	// from a Tandem source).
	FetchRequests, LinkFetchRequests int64
	Partitions                       []MirrorPartitionStat
	// Tasks are the link's periodic tasks (internal/link).
	Tasks []LinkTaskStat
	// OffsetSync is the link's consumer offset sync as its last run saw
	// it; nil while consumer.offset.sync.enable is off (series omitted).
	OffsetSync *OffsetSyncStat
	// ACLSync is the link's ACL sync; nil while acl.sync.enable is off
	// (series omitted).
	ACLSync *ACLSyncStat
	// RemoteStateTime is when a paired half last heard of its peer half
	// (its remote link state's update time); zero for a link that does
	// not pair or has not heard yet (series omitted).
	RemoteStateTime time.Time
}

// ACLSyncStat is a link's ACL sync: the ACL bindings of this cluster it
// created and keeps in sync with the source.
type ACLSyncStat struct {
	Synced int
}

// OffsetSyncStat sums a link's synced consumer offsets: per group and
// mirror partition, the source's committed offset minus this cluster's.
// Per link, not per group, so the series stay bounded by the links.
type OffsetSyncStat struct {
	Groups   int   // distinct groups synced
	TotalLag int64 // sum over groups and partitions
	MaxLag   int64 // largest single group-partition lag
}

// LinkTaskStat is one task of a link.
type LinkTaskStat struct {
	Name, State string
	Failures    int64
	LastRun     time.Time // zero before the first run (series omitted)
}

// MirrorPartitionStat is one mirror partition of a link.
type MirrorPartitionStat struct {
	Topic     string
	Partition int32
	// Lag is the source HighWatermark minus the mirror's log end offset;
	// negative before the first fetch response (the series is omitted).
	Lag int64
	// LastFetch is when the partition was last fetched; zero if never
	// (the series is omitted).
	LastFetch time.Time
	// SourceEndTime is when the source end offset the lag counts from
	// was learned; zero if never (the series is omitted).
	SourceEndTime time.Time
}

// SetLinkSource registers the callback that lists this node's cluster
// links. Like SetPartitionSource it is called once per scrape and must be
// safe for concurrent use. linkStates and mirrorStates are every state a
// link or a mirror topic can be in: tandem_link_state and
// tandem_link_mirrors export each of them (0 when not current), so a
// state change flips values instead of leaving a stale series behind.
// Passing a nil fn removes the source; the link series then disappear.
func (m *Metrics) SetLinkSource(fn func() []LinkStat, linkStates, mirrorStates []string) {
	m.SetLinkSourceWithTasks(fn, linkStates, mirrorStates, nil)
}

// SetLinkSourceWithTasks is SetLinkSource with the task states that
// tandem_link_task_state exports for every task (0 when not current).
func (m *Metrics) SetLinkSourceWithTasks(fn func() []LinkStat, linkStates, mirrorStates, taskStates []string) {
	if m == nil {
		return
	}
	if fn == nil {
		m.links.src.Store(nil)
		return
	}
	m.links.src.Store(&linkSource{fn: fn, linkStates: linkStates, mirrorStates: mirrorStates, taskStates: taskStates})
}

// ObserveLinkFetch records the latency of one fetch request a link's
// fetcher sent to its source (the fetcher's ObserveFetch hook). Failed
// fetches are not observed: their latency is that of a timeout or a
// refused connection, not of the source, and the error counts already say
// that they happened.
func (m *Metrics) ObserveLinkFetch(link string, d time.Duration, failed bool) {
	if m == nil || failed {
		return
	}
	m.links.fetchObserver(link).Observe(d.Seconds())
}

type linkSource struct {
	fn                                   func() []LinkStat
	linkStates, mirrorStates, taskStates []string
}

// linkCollector computes the cluster-link series on scrape from the link
// manager and the mirror data path, which already hold every number; the
// only state it keeps is the fetch-latency histogram, pruned on scrape to
// the links the source still lists so a deleted link's series go away.
type linkCollector struct {
	src atomic.Pointer[linkSource]
	now func() time.Time

	lag       *prometheus.Desc
	age       *prometheus.Desc
	maxLag    *prometheus.Desc
	state     *prometheus.Desc
	mirrors   *prometheus.Desc
	bytes     *prometheus.Desc
	records   *prometheus.Desc
	fetchErr  *prometheus.Desc
	fetchReqs *prometheus.Desc
	corrupt   *prometheus.Desc
	endAge    *prometheus.Desc
	task      *prometheus.Desc
	taskFail  *prometheus.Desc
	taskRun   *prometheus.Desc
	offGroups *prometheus.Desc
	offTotal  *prometheus.Desc
	aclSynced *prometheus.Desc
	offMax    *prometheus.Desc
	remoteAge *prometheus.Desc
	fetchDur  *prometheus.HistogramVec

	// mu serialises child creation with pruning, so that fetchObs holds
	// an entry exactly when fetchDur holds the series.
	mu       sync.Mutex
	fetchObs sync.Map // link name -> prometheus.Observer
}

func newLinkCollector() *linkCollector {
	d := func(name, help string, l ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, l, nil)
	}
	return &linkCollector{
		now: time.Now,
		lag: d("mirror_partition_lag",
			"Source HighWatermark minus the mirror partition's log end offset, in records.", "link", "topic", "partition"),
		age: d("mirror_last_fetch_age_seconds",
			"Seconds since the mirror partition was last fetched from the source.", "link", "topic", "partition"),
		maxLag: d("link_max_lag",
			"Largest mirror partition lag of the link, in records (Kafka's ClusterLinkFetcherManager MaxLag).", "link"),
		state:    d("link_state", "1 for the link's current state, 0 for the others.", "link", "state"),
		mirrors:  d("link_mirrors", "Mirror topics of the link, by state.", "link", "state"),
		bytes:    d("link_fetched_bytes_total", "Record-batch bytes fetched from the link's source and appended to mirrors.", "link"),
		records:  d("link_fetched_records_total", "Records fetched from the link's source and appended to mirrors.", "link"),
		fetchErr: d("link_fetch_errors_total", "Fetch requests to the link's source that failed whole (connection, timeout, undecodable answer).", "link"),
		fetchReqs: d("link_fetch_requests_total",
			"Fetch requests sent to the link's source, by API: fetch (Kafka's Fetch) or link_fetch (Tandem's pipelined LinkFetch, from a Tandem source).", "link", "api"),
		corrupt: d("link_fetch_corrupt_total",
			"Partition answers from the link's source whose records failed validation (CRC, framing); dropped and fetched again.", "link"),
		endAge: d("mirror_source_end_age_seconds",
			"Seconds since the source end offset the mirror partition's lag counts from was learned (grows while the mirror is paused past its probes or the source is unreachable).",
			"link", "topic", "partition"),
		task:     d("link_task_state", "1 for the link task's current state, 0 for the others.", "link", "task", "state"),
		taskFail: d("link_task_failures_total", "Runs of the link task that failed.", "link", "task"),
		taskRun:  d("link_task_last_run_timestamp_seconds", "When the link task last ran (Unix time).", "link", "task"),
		offGroups: d("link_consumer_offset_sync_groups",
			"Consumer groups whose offsets the link's last offset sync wrote or checked (consumer.offset.sync.enable).", "link"),
		offTotal: d("link_consumer_offset_lag_total",
			"Sum over synced groups and mirror partitions of the source's committed offset minus this cluster's, as the last offset sync saw it.", "link"),
		aclSynced: d("link_acls_synced",
			"ACL bindings of this cluster the link's ACL sync created and keeps in sync with the source (acl.sync.enable).", "link"),
		remoteAge: d("link_remote_state_age_seconds",
			"Seconds since the paired link half last heard of its peer half (the age of its remote link state); grows while the peer is unreachable.", "link"),
		offMax: d("link_consumer_offset_lag_max",
			"Largest single group-partition consumer offset lag of the link, as the last offset sync saw it.", "link"),
		fetchDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "link_fetch_latency_seconds",
			Help:    "Latency of the link fetcher's successful fetch requests to the source.",
			Buckets: linkFetchBuckets,
		}, []string{"link"}),
	}
}

// fetchObserver returns the histogram child of link, creating it on first
// use. The steady state is one sync.Map load.
func (c *linkCollector) fetchObserver(link string) prometheus.Observer {
	if o, ok := c.fetchObs.Load(link); ok {
		return o.(prometheus.Observer)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.fetchObs.Load(link); ok {
		return o.(prometheus.Observer)
	}
	o := c.fetchDur.WithLabelValues(topicLabel(link))
	c.fetchObs.Store(link, o)
	return o
}

// prune drops the histogram series of links not in keep. A fetch racing
// the deletion may still observe into the detached child; it is not
// exported.
func (c *linkCollector) prune(keep map[string]struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetchObs.Range(func(k, _ any) bool {
		if _, ok := keep[k.(string)]; !ok {
			c.fetchObs.Delete(k)
			c.fetchDur.DeleteLabelValues(topicLabel(k.(string)))
		}
		return true
	})
}

func (c *linkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.age
	ch <- c.maxLag
	ch <- c.state
	ch <- c.mirrors
	ch <- c.bytes
	ch <- c.records
	ch <- c.fetchErr
	ch <- c.fetchReqs
	ch <- c.corrupt
	ch <- c.endAge
	ch <- c.task
	ch <- c.taskFail
	ch <- c.taskRun
	ch <- c.offGroups
	ch <- c.offTotal
	ch <- c.offMax
	ch <- c.aclSynced
	ch <- c.remoteAge
	c.fetchDur.Describe(ch)
}

func (c *linkCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.src.Load()
	if src == nil {
		c.prune(nil)
		return
	}
	stats := src.fn()
	now := c.now()
	keep := make(map[string]struct{}, len(stats))
	for i := range stats {
		s := &stats[i]
		keep[s.Link] = struct{}{}
		maxLag := int64(-1)
		for j := range s.Partitions {
			p := &s.Partitions[j]
			part := strconv.FormatInt(int64(p.Partition), 10)
			if p.Lag >= 0 {
				gauge(ch, c.lag, p.Lag, s.Link, p.Topic, part)
				maxLag = max(maxLag, p.Lag)
			}
			if !p.LastFetch.IsZero() {
				gaugeF(ch, c.age, max(now.Sub(p.LastFetch).Seconds(), 0), s.Link, p.Topic, part)
			}
			if !p.SourceEndTime.IsZero() {
				gaugeF(ch, c.endAge, max(now.Sub(p.SourceEndTime).Seconds(), 0), s.Link, p.Topic, part)
			}
		}
		// Omitted until some partition has reported, like the
		// per-partition lag, rather than claiming a lag of 0.
		if maxLag >= 0 {
			gauge(ch, c.maxLag, maxLag, s.Link)
		}
		for _, st := range src.linkStates {
			var v int64
			if st == s.State {
				v = 1
			}
			gauge(ch, c.state, v, s.Link, st)
		}
		if !slices.Contains(src.linkStates, s.State) { // a state the caller did not list
			gauge(ch, c.state, 1, s.Link, s.State)
		}
		for _, st := range src.mirrorStates {
			gauge(ch, c.mirrors, int64(s.MirrorsByState[st]), s.Link, st)
		}
		for st, n := range s.MirrorsByState {
			if !slices.Contains(src.mirrorStates, st) {
				gauge(ch, c.mirrors, int64(n), s.Link, st)
			}
		}
		counter(ch, c.bytes, s.FetchedBytes, s.Link)
		counter(ch, c.records, s.FetchedRecords, s.Link)
		if o := s.OffsetSync; o != nil {
			gauge(ch, c.offGroups, int64(o.Groups), s.Link)
			gauge(ch, c.offTotal, o.TotalLag, s.Link)
			gauge(ch, c.offMax, o.MaxLag, s.Link)
		}
		if a := s.ACLSync; a != nil {
			gauge(ch, c.aclSynced, int64(a.Synced), s.Link)
		}
		if !s.RemoteStateTime.IsZero() {
			gaugeF(ch, c.remoteAge, max(now.Sub(s.RemoteStateTime).Seconds(), 0), s.Link)
		}
		counter(ch, c.fetchErr, s.FetchErrors, s.Link)
		counter(ch, c.fetchReqs, s.FetchRequests-s.LinkFetchRequests, s.Link, "fetch")
		counter(ch, c.fetchReqs, s.LinkFetchRequests, s.Link, "link_fetch")
		counter(ch, c.corrupt, s.CorruptResponses, s.Link)
		for _, tk := range s.Tasks {
			for _, st := range src.taskStates {
				var v int64
				if st == tk.State {
					v = 1
				}
				gauge(ch, c.task, v, s.Link, tk.Name, st)
			}
			if !slices.Contains(src.taskStates, tk.State) {
				gauge(ch, c.task, 1, s.Link, tk.Name, tk.State)
			}
			counter(ch, c.taskFail, tk.Failures, s.Link, tk.Name)
			if !tk.LastRun.IsZero() {
				gaugeF(ch, c.taskRun, float64(tk.LastRun.UnixMilli())/1000, s.Link, tk.Name)
			}
		}
	}
	c.prune(keep)
	c.fetchDur.Collect(ch)
}

// gaugeF is gauge for a float value.
func gaugeF(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}

// counter emits a cumulative count kept elsewhere (the fetcher's Stats)
// as a const counter.
func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}
