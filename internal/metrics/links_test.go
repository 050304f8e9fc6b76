package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var linkMetricNames = []string{
	"tandem_mirror_partition_lag", "tandem_mirror_last_fetch_age_seconds", "tandem_link_max_lag",
	"tandem_link_state", "tandem_link_mirrors", "tandem_link_fetched_bytes_total",
	"tandem_link_fetched_records_total", "tandem_link_fetch_errors_total", "tandem_link_fetch_corrupt_total",
	"tandem_link_fetch_requests_total", "tandem_link_fetch_latency_seconds",
}

func TestLinkCollector(t *testing.T) {
	m := New(1)
	if n, err := testutil.GatherAndCount(m.Registry(), linkMetricNames...); err != nil || n != 0 {
		t.Fatalf("without source: %d series, err %v; want 0", n, err)
	}
	now := time.Unix(1000, 0)
	m.links.now = func() time.Time { return now }

	var mu sync.Mutex
	links := []LinkStat{
		{
			Link: "dr", State: "ACTIVE", FetchedBytes: 4096, FetchedRecords: 30, FetchErrors: 2, CorruptResponses: 1,
			FetchRequests: 10, LinkFetchRequests: 7,
			MirrorsByState: map[string]int{"ACTIVE": 1, "PAUSED": 1},
			Partitions: []MirrorPartitionStat{
				{Topic: "orders", Partition: 0, Lag: 0, LastFetch: now.Add(-1500 * time.Millisecond)},
				{Topic: "orders", Partition: 1, Lag: 7, LastFetch: now.Add(-2 * time.Second)},
				{Topic: "audit", Partition: 0, Lag: -1}, // not fetched yet: omitted
			},
		},
		{Link: "backup", State: "UNAVAILABLE", MirrorsByState: map[string]int{"SOURCE_UNAVAILABLE": 2}},
	}
	m.SetLinkSource(func() []LinkStat {
		mu.Lock()
		defer mu.Unlock()
		return links
	}, []string{"ACTIVE", "PAUSED", "UNAVAILABLE"}, []string{"ACTIVE", "PAUSED"})
	m.ObserveLinkFetch("dr", 20*time.Millisecond, false)
	m.ObserveLinkFetch("dr", 300*time.Millisecond, false)
	m.ObserveLinkFetch("dr", 10*time.Second, true) // failed: not observed
	m.ObserveLinkFetch("backup", 2*time.Second, false)

	want := `
# HELP tandem_link_fetch_corrupt_total Partition answers from the link's source whose records failed validation (CRC, framing); dropped and fetched again.
# TYPE tandem_link_fetch_corrupt_total counter
tandem_link_fetch_corrupt_total{link="backup"} 0
tandem_link_fetch_corrupt_total{link="dr"} 1
# HELP tandem_link_fetch_errors_total Fetch requests to the link's source that failed whole (connection, timeout, undecodable answer).
# TYPE tandem_link_fetch_errors_total counter
tandem_link_fetch_errors_total{link="backup"} 0
tandem_link_fetch_errors_total{link="dr"} 2
# HELP tandem_link_fetch_requests_total Fetch requests sent to the link's source, by API: fetch (Kafka's Fetch) or link_fetch (Tandem's pipelined LinkFetch, from a Tandem source).
# TYPE tandem_link_fetch_requests_total counter
tandem_link_fetch_requests_total{api="fetch",link="backup"} 0
tandem_link_fetch_requests_total{api="fetch",link="dr"} 3
tandem_link_fetch_requests_total{api="link_fetch",link="backup"} 0
tandem_link_fetch_requests_total{api="link_fetch",link="dr"} 7
# HELP tandem_link_fetched_bytes_total Record-batch bytes fetched from the link's source and appended to mirrors.
# TYPE tandem_link_fetched_bytes_total counter
tandem_link_fetched_bytes_total{link="backup"} 0
tandem_link_fetched_bytes_total{link="dr"} 4096
# HELP tandem_link_fetched_records_total Records fetched from the link's source and appended to mirrors.
# TYPE tandem_link_fetched_records_total counter
tandem_link_fetched_records_total{link="backup"} 0
tandem_link_fetched_records_total{link="dr"} 30
# HELP tandem_link_max_lag Largest mirror partition lag of the link, in records (Kafka's ClusterLinkFetcherManager MaxLag).
# TYPE tandem_link_max_lag gauge
tandem_link_max_lag{link="dr"} 7
# HELP tandem_link_mirrors Mirror topics of the link, by state.
# TYPE tandem_link_mirrors gauge
tandem_link_mirrors{link="backup",state="ACTIVE"} 0
tandem_link_mirrors{link="backup",state="PAUSED"} 0
tandem_link_mirrors{link="backup",state="SOURCE_UNAVAILABLE"} 2
tandem_link_mirrors{link="dr",state="ACTIVE"} 1
tandem_link_mirrors{link="dr",state="PAUSED"} 1
# HELP tandem_link_state 1 for the link's current state, 0 for the others.
# TYPE tandem_link_state gauge
tandem_link_state{link="backup",state="ACTIVE"} 0
tandem_link_state{link="backup",state="PAUSED"} 0
tandem_link_state{link="backup",state="UNAVAILABLE"} 1
tandem_link_state{link="dr",state="ACTIVE"} 1
tandem_link_state{link="dr",state="PAUSED"} 0
tandem_link_state{link="dr",state="UNAVAILABLE"} 0
# HELP tandem_mirror_last_fetch_age_seconds Seconds since the mirror partition was last fetched from the source.
# TYPE tandem_mirror_last_fetch_age_seconds gauge
tandem_mirror_last_fetch_age_seconds{link="dr",partition="0",topic="orders"} 1.5
tandem_mirror_last_fetch_age_seconds{link="dr",partition="1",topic="orders"} 2
# HELP tandem_mirror_partition_lag Source HighWatermark minus the mirror partition's log end offset, in records.
# TYPE tandem_mirror_partition_lag gauge
tandem_mirror_partition_lag{link="dr",partition="0",topic="orders"} 0
tandem_mirror_partition_lag{link="dr",partition="1",topic="orders"} 7
`
	names := linkMetricNames[:len(linkMetricNames)-1] // histogram checked below
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	h := m.links.fetchDur
	if got := testutil.CollectAndCount(h); got != 2 {
		t.Fatalf("latency histograms = %d, want 2", got)
	}
	wantHist := `
# HELP tandem_link_fetch_latency_seconds Latency of the link fetcher's successful fetch requests to the source.
# TYPE tandem_link_fetch_latency_seconds histogram
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.001"} 0
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.0025"} 0
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.005"} 0
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.01"} 0
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.025"} 1
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.05"} 1
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.1"} 1
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.25"} 1
tandem_link_fetch_latency_seconds_bucket{link="dr",le="0.5"} 2
tandem_link_fetch_latency_seconds_bucket{link="dr",le="1"} 2
tandem_link_fetch_latency_seconds_bucket{link="dr",le="2.5"} 2
tandem_link_fetch_latency_seconds_bucket{link="dr",le="5"} 2
tandem_link_fetch_latency_seconds_bucket{link="dr",le="10"} 2
tandem_link_fetch_latency_seconds_bucket{link="dr",le="30"} 2
tandem_link_fetch_latency_seconds_bucket{link="dr",le="+Inf"} 2
tandem_link_fetch_latency_seconds_sum{link="dr"} 0.32
tandem_link_fetch_latency_seconds_count{link="dr"} 2
`
	m.links.prune(map[string]struct{}{"dr": {}}) // compare one link only
	if err := testutil.CollectAndCompare(h, strings.NewReader(wantHist)); err != nil {
		t.Fatal(err)
	}

	// The link "dr" is deleted: every one of its series goes, including
	// the histogram, which is fed by a hook that does not know of deletes.
	mu.Lock()
	links = links[1:]
	mu.Unlock()
	m.ObserveLinkFetch("backup", time.Second, false)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "tandem_link_") && !strings.HasPrefix(mf.GetName(), "tandem_mirror_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "link" && l.GetValue() == "dr" {
					t.Errorf("%s still has a series for the deleted link", mf.GetName())
				}
			}
			series++
		}
	}
	// backup: 3 state + 3 mirrors + 4 counters + 2 fetch request
	// counters (api fetch, link_fetch) + 1 histogram.
	if series != 13 {
		t.Errorf("series after delete = %d, want 13", series)
	}

	m.SetLinkSource(nil, nil, nil)
	if n, err := testutil.GatherAndCount(m.Registry(), linkMetricNames...); err != nil || n != 0 {
		t.Fatalf("after removing source: %d series, err %v; want 0", n, err)
	}
}

func BenchmarkObserveLinkFetch(b *testing.B) {
	m := New(1)
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveLinkFetch("dr", time.Millisecond, false)
	}
}

// TestLinkCollectorConcurrent is for -race: fetch observations, scrapes
// and links coming and going at once.
func TestLinkCollectorConcurrent(t *testing.T) {
	m := New(1)
	var mu sync.Mutex
	present := true
	m.SetLinkSource(func() []LinkStat {
		mu.Lock()
		defer mu.Unlock()
		if !present {
			return nil
		}
		return []LinkStat{{Link: "dr", State: "ACTIVE"}}
	}, []string{"ACTIVE"}, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				m.ObserveLinkFetch("dr", time.Millisecond, false)
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			mu.Lock()
			present = i%2 == 0
			mu.Unlock()
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}

// TestLinkTaskAndSourceEndSeries: each task's state as a state set, its
// failures and last run; the age of the source end a lag counts from.
func TestLinkTaskAndSourceEndSeries(t *testing.T) {
	m := New(1)
	now := time.Unix(1000, 0)
	m.links.now = func() time.Time { return now }
	m.SetLinkSourceWithTasks(func() []LinkStat {
		return []LinkStat{{Link: "dr", State: "UNAVAILABLE",
			Partitions: []MirrorPartitionStat{{Topic: "orders", Partition: 0, Lag: 40, SourceEndTime: now.Add(-90 * time.Second)}},
			Tasks: []LinkTaskStat{
				{Name: "AvailabilityCheck", State: "IN_ERROR", Failures: 3, LastRun: now.Add(-time.Second)},
				{Name: "AclSync", State: "NOT_CONFIGURED"},
			}}}
	}, []string{"ACTIVE", "UNAVAILABLE"}, nil, []string{"ACTIVE", "IN_ERROR", "NOT_CONFIGURED"})
	want := `
# HELP tandem_link_task_failures_total Runs of the link task that failed.
# TYPE tandem_link_task_failures_total counter
tandem_link_task_failures_total{link="dr",task="AclSync"} 0
tandem_link_task_failures_total{link="dr",task="AvailabilityCheck"} 3
# HELP tandem_link_task_last_run_timestamp_seconds When the link task last ran (Unix time).
# TYPE tandem_link_task_last_run_timestamp_seconds gauge
tandem_link_task_last_run_timestamp_seconds{link="dr",task="AvailabilityCheck"} 999
# HELP tandem_link_task_state 1 for the link task's current state, 0 for the others.
# TYPE tandem_link_task_state gauge
tandem_link_task_state{link="dr",state="ACTIVE",task="AclSync"} 0
tandem_link_task_state{link="dr",state="ACTIVE",task="AvailabilityCheck"} 0
tandem_link_task_state{link="dr",state="IN_ERROR",task="AclSync"} 0
tandem_link_task_state{link="dr",state="IN_ERROR",task="AvailabilityCheck"} 1
tandem_link_task_state{link="dr",state="NOT_CONFIGURED",task="AclSync"} 1
tandem_link_task_state{link="dr",state="NOT_CONFIGURED",task="AvailabilityCheck"} 0
# HELP tandem_mirror_source_end_age_seconds Seconds since the source end offset the mirror partition's lag counts from was learned (grows while the mirror is paused past its probes or the source is unreachable).
# TYPE tandem_mirror_source_end_age_seconds gauge
tandem_mirror_source_end_age_seconds{link="dr",partition="0",topic="orders"} 90
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"tandem_link_task_state", "tandem_link_task_failures_total", "tandem_link_task_last_run_timestamp_seconds",
		"tandem_mirror_source_end_age_seconds"); err != nil {
		t.Fatal(err)
	}
}

// TestLinkACLSyncSeries: the ACLs a link's ACL sync keeps, only for links
// that sync ACLs.
func TestLinkACLSyncSeries(t *testing.T) {
	m := New(1)
	m.SetLinkSource(func() []LinkStat {
		return []LinkStat{{Link: "dr", State: "ACTIVE", ACLSync: &ACLSyncStat{Synced: 3}}, {Link: "off", State: "ACTIVE"}}
	}, []string{"ACTIVE"}, nil)
	want := `
# HELP tandem_link_acls_synced ACL bindings of this cluster the link's ACL sync created and keeps in sync with the source (acl.sync.enable).
# TYPE tandem_link_acls_synced gauge
tandem_link_acls_synced{link="dr"} 3
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "tandem_link_acls_synced"); err != nil {
		t.Fatal(err)
	}
}
