package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestObserveRequest(t *testing.T) {
	m := New(1)
	produce := (&kmsg.ProduceRequest{}).Key()
	fetch := (&kmsg.FetchRequest{}).Key()

	m.ObserveRequest(produce, 9, 2*time.Millisecond, 100, 40)
	m.ObserveRequest(produce, 9, 3*time.Millisecond, 50, 10)
	m.ObserveRequest(produce, 7, time.Millisecond, 1, 0)
	m.ObserveRequest(fetch, 12, 500*time.Millisecond, 60, 5000)

	tests := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"produce v9", m.requests.WithLabelValues("Produce", "9"), 2},
		{"produce v7", m.requests.WithLabelValues("Produce", "7"), 1},
		{"fetch v12", m.requests.WithLabelValues("Fetch", "12"), 1},
		{"produce req bytes", m.reqBytes.WithLabelValues("Produce"), 151},
		{"produce resp bytes", m.respBytes.WithLabelValues("Produce"), 50},
		{"fetch resp bytes", m.respBytes.WithLabelValues("Fetch"), 5000},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(tt.c); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 3 {
		t.Errorf("requests_total series = %d, want 3", n)
	}

	want := `
# HELP tandem_request_duration_seconds Time from a request being read to its response being queued, by API name.
# TYPE tandem_request_duration_seconds histogram
tandem_request_duration_seconds_bucket{api="Fetch",le="5e-05"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.0001"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.00025"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.0005"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.001"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.0025"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.005"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.01"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.025"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.05"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.1"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.25"} 0
tandem_request_duration_seconds_bucket{api="Fetch",le="0.5"} 1
tandem_request_duration_seconds_bucket{api="Fetch",le="1"} 1
tandem_request_duration_seconds_bucket{api="Fetch",le="2.5"} 1
tandem_request_duration_seconds_bucket{api="Fetch",le="5"} 1
tandem_request_duration_seconds_bucket{api="Fetch",le="10"} 1
tandem_request_duration_seconds_bucket{api="Fetch",le="30"} 1
tandem_request_duration_seconds_bucket{api="Fetch",le="+Inf"} 1
tandem_request_duration_seconds_sum{api="Fetch"} 0.5
tandem_request_duration_seconds_count{api="Fetch"} 1
tandem_request_duration_seconds_bucket{api="Produce",le="5e-05"} 0
tandem_request_duration_seconds_bucket{api="Produce",le="0.0001"} 0
tandem_request_duration_seconds_bucket{api="Produce",le="0.00025"} 0
tandem_request_duration_seconds_bucket{api="Produce",le="0.0005"} 0
tandem_request_duration_seconds_bucket{api="Produce",le="0.001"} 1
tandem_request_duration_seconds_bucket{api="Produce",le="0.0025"} 2
tandem_request_duration_seconds_bucket{api="Produce",le="0.005"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="0.01"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="0.025"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="0.05"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="0.1"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="0.25"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="0.5"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="1"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="2.5"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="5"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="10"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="30"} 3
tandem_request_duration_seconds_bucket{api="Produce",le="+Inf"} 3
tandem_request_duration_seconds_sum{api="Produce"} 0.006
tandem_request_duration_seconds_count{api="Produce"} 3
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "tandem_request_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// TestRequestLabelsBounded checks that hostile keys and versions cannot
// create unbounded series: unknown keys share "Unknown", out-of-range
// versions share "invalid".
func TestRequestLabelsBounded(t *testing.T) {
	m := New(1)
	for _, key := range []int16{-5, 999, 30000} {
		for _, v := range []int16{-1, 64, 500, 32767} {
			m.ObserveRequest(key, v, time.Microsecond, 0, 0)
		}
	}
	m.ObserveRequest(0, 63, time.Microsecond, 0, 0)

	if got := testutil.ToFloat64(m.requests.WithLabelValues("Unknown", "invalid")); got != 12 {
		t.Errorf("Unknown/invalid = %v, want 12", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Produce", "63")); got != 1 {
		t.Errorf("Produce/63 = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.requests); n != 2 {
		t.Errorf("requests_total series = %d, want 2", n)
	}
	// Zero sizes do not create byte series with value 0 needlessly, but the
	// API child exists; either way the value must be 0.
	if got := testutil.ToFloat64(m.reqBytes.WithLabelValues("Unknown")); got != 0 {
		t.Errorf("Unknown request bytes = %v, want 0", got)
	}
}

func TestObserveError(t *testing.T) {
	m := New(1)
	produce := (&kmsg.ProduceRequest{}).Key()
	meta := (&kmsg.MetadataRequest{}).Key()

	m.ObserveError(produce, kerr.NotLeaderForPartition.Code)
	m.ObserveError(produce, kerr.NotLeaderForPartition.Code)
	m.ObserveError(produce, 0) // NONE: ignored
	m.ObserveError(meta, kerr.UnknownTopicOrPartition.Code)
	m.ObserveError(meta, 9999) // unknown code

	tests := []struct {
		api, errName string
		want         float64
	}{
		{"Produce", "NOT_LEADER_FOR_PARTITION", 2},
		{"Metadata", "UNKNOWN_TOPIC_OR_PARTITION", 1},
		{"Metadata", "UNKNOWN_SERVER_ERROR", 1},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(m.reqErrors.WithLabelValues(tt.api, tt.errName)); got != tt.want {
			t.Errorf("%s/%s = %v, want %v", tt.api, tt.errName, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.reqErrors); n != 3 {
		t.Errorf("request_errors_total series = %d, want 3", n)
	}
}

func TestConnectionsAndInFlight(t *testing.T) {
	m := New(1)
	m.ConnOpened()
	m.ConnOpened()
	m.ConnOpened()
	m.ConnClosed()
	m.InFlight(1)
	m.InFlight(1)
	m.InFlight(-1)

	want := `
# HELP tandem_connections Open client connections.
# TYPE tandem_connections gauge
tandem_connections 2
# HELP tandem_connections_total Client connections accepted.
# TYPE tandem_connections_total counter
tandem_connections_total 3
# HELP tandem_requests_in_flight Kafka requests currently being processed.
# TYPE tandem_requests_in_flight gauge
tandem_requests_in_flight 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"tandem_connections", "tandem_connections_total", "tandem_requests_in_flight"); err != nil {
		t.Error(err)
	}
}

func TestTopicMetricsAndDelete(t *testing.T) {
	m := New(1)
	m.BytesIn("a", 100)
	m.BytesIn("a", 50)
	m.MessagesIn("a", 3)
	m.BytesOut("a", 7)
	m.BytesIn("b", 1)

	want := `
# HELP tandem_bytes_in_total Record-batch bytes appended by producers, by topic.
# TYPE tandem_bytes_in_total counter
tandem_bytes_in_total{topic="a"} 150
tandem_bytes_in_total{topic="b"} 1
# HELP tandem_bytes_out_total Record-batch bytes returned to fetchers, by topic.
# TYPE tandem_bytes_out_total counter
tandem_bytes_out_total{topic="a"} 7
tandem_bytes_out_total{topic="b"} 0
# HELP tandem_messages_in_total Records appended by producers, by topic.
# TYPE tandem_messages_in_total counter
tandem_messages_in_total{topic="a"} 3
tandem_messages_in_total{topic="b"} 0
`
	names := []string{"tandem_bytes_in_total", "tandem_bytes_out_total", "tandem_messages_in_total"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}

	m.DeleteTopic("a")
	m.DeleteTopic("never-existed")
	want = `
# HELP tandem_bytes_in_total Record-batch bytes appended by producers, by topic.
# TYPE tandem_bytes_in_total counter
tandem_bytes_in_total{topic="b"} 1
# HELP tandem_bytes_out_total Record-batch bytes returned to fetchers, by topic.
# TYPE tandem_bytes_out_total counter
tandem_bytes_out_total{topic="b"} 0
# HELP tandem_messages_in_total Records appended by producers, by topic.
# TYPE tandem_messages_in_total counter
tandem_messages_in_total{topic="b"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}

	// A re-created topic of the same name starts from zero.
	m.BytesIn("a", 5)
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("a")); got != 5 {
		t.Errorf("re-created topic bytes_in = %v, want 5", got)
	}
}

func TestTopicInvalidUTF8DoesNotPanic(t *testing.T) {
	m := New(1)
	bad := "t\xff"
	m.BytesIn(bad, 1)
	if n := testutil.CollectAndCount(m.bytesIn); n != 1 {
		t.Fatalf("series = %d, want 1", n)
	}
	m.DeleteTopic(bad)
	if n := testutil.CollectAndCount(m.bytesIn); n != 0 {
		t.Fatalf("series after delete = %d, want 0", n)
	}
}

func TestPartitionCollector(t *testing.T) {
	m := New(1)
	names := []string{
		"tandem_partitions", "tandem_log_size_bytes", "tandem_log_start_offset",
		"tandem_log_end_offset", "tandem_high_watermark", "tandem_log_segments",
	}
	// No source: nothing is exported.
	if n, err := testutil.GatherAndCount(m.Registry(), names...); err != nil || n != 0 {
		t.Fatalf("without source: %d series, err %v; want 0", n, err)
	}

	calls := 0
	m.SetPartitionSource(func() []PartitionStat {
		calls++
		return []PartitionStat{
			{Topic: "orders", Partition: 0, LogSizeBytes: 4096, LogStartOffset: 10, LogEndOffset: 110, HighWatermark: 100, Segments: 2},
			{Topic: "orders", Partition: 1, LogSizeBytes: 0, LogStartOffset: 0, LogEndOffset: 0, HighWatermark: 0, Segments: 1},
		}
	})
	want := `
# HELP tandem_high_watermark A partition's HighWatermark.
# TYPE tandem_high_watermark gauge
tandem_high_watermark{partition="0",topic="orders"} 100
tandem_high_watermark{partition="1",topic="orders"} 0
# HELP tandem_log_end_offset A partition's log end offset.
# TYPE tandem_log_end_offset gauge
tandem_log_end_offset{partition="0",topic="orders"} 110
tandem_log_end_offset{partition="1",topic="orders"} 0
# HELP tandem_log_segments Segments in a partition's log.
# TYPE tandem_log_segments gauge
tandem_log_segments{partition="0",topic="orders"} 2
tandem_log_segments{partition="1",topic="orders"} 1
# HELP tandem_log_size_bytes Bytes on disk of a partition's log.
# TYPE tandem_log_size_bytes gauge
tandem_log_size_bytes{partition="0",topic="orders"} 4096
tandem_log_size_bytes{partition="1",topic="orders"} 0
# HELP tandem_log_start_offset A partition's LogStartOffset.
# TYPE tandem_log_start_offset gauge
tandem_log_start_offset{partition="0",topic="orders"} 10
tandem_log_start_offset{partition="1",topic="orders"} 0
# HELP tandem_partitions Partitions hosted by this node.
# TYPE tandem_partitions gauge
tandem_partitions 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("source called %d times per gather, want 1", calls)
	}

	m.SetPartitionSource(nil)
	if n, err := testutil.GatherAndCount(m.Registry(), names...); err != nil || n != 0 {
		t.Fatalf("after removing source: %d series, err %v; want 0", n, err)
	}
}

func TestFsync(t *testing.T) {
	m := New(1)
	m.ObserveFsync(200 * time.Microsecond)
	m.ObserveFsync(3 * time.Second)
	if got := testutil.ToFloat64(m.fsyncs); got != 2 {
		t.Errorf("fsyncs_total = %v, want 2", got)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tandem_fsync_duration_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 2 || h.GetSampleSum() != 3.0002 {
			t.Errorf("fsync histogram count=%d sum=%v, want 2, 3.0002", h.GetSampleCount(), h.GetSampleSum())
		}
		for _, b := range h.GetBucket() {
			var want uint64
			switch {
			case b.GetUpperBound() >= 5:
				want = 2
			case b.GetUpperBound() >= 0.00025:
				want = 1
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
		return
	}
	t.Fatal("tandem_fsync_duration_seconds not gathered")
}

func TestObserveHTTP(t *testing.T) {
	m := New(1)
	m.ObserveHTTP("/kafka/v3/clusters", "GET", 200, time.Millisecond)
	m.ObserveHTTP("/kafka/v3/clusters", "GET", 200, time.Millisecond)
	m.ObserveHTTP("/kafka/v3/clusters", "GET", 404, time.Millisecond)
	if got := testutil.ToFloat64(m.httpRequests.WithLabelValues("/kafka/v3/clusters", "GET", "200")); got != 2 {
		t.Errorf("200s = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.httpRequests.WithLabelValues("/kafka/v3/clusters", "GET", "404")); got != 1 {
		t.Errorf("404s = %v, want 1", got)
	}
}

func TestNodeInfoAndStandardCollectors(t *testing.T) {
	m := New(7)
	want := `
# HELP tandem_node_info Always 1; carries this node's id as a label for joins.
# TYPE tandem_node_info gauge
tandem_node_info{node_id="7"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "tandem_node_info"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "go_goroutines"); err != nil || n != 1 {
		t.Errorf("go_goroutines: %d, %v", n, err)
	}
	// Two nodes in one process must not collide (private registries).
	_ = New(7)
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.ObserveRequest(0, 1, time.Second, 1, 1)
	m.ObserveError(0, 3)
	m.ConnOpened()
	m.ConnClosed()
	m.InFlight(1)
	m.BytesIn("a", 1)
	m.BytesOut("a", 1)
	m.MessagesIn("a", 1)
	m.DeleteTopic("a")
	m.ObserveFsync(time.Second)
	m.ObserveHTTP("/", "GET", 200, time.Second)
	m.SetPartitionSource(func() []PartitionStat { return nil })
	m.SetLinkSource(func() []LinkStat { return nil }, nil, nil)
	m.ObserveLinkFetch("dr", time.Second, false)
}

// TestConcurrentUse is for -race: hot-path methods, deletion and scraping
// all at once.
func TestConcurrentUse(t *testing.T) {
	m := New(1)
	m.SetPartitionSource(func() []PartitionStat { return []PartitionStat{{Topic: "t", Partition: 0}} })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				topic := fmt.Sprintf("t%d", i%4)
				m.ObserveRequest(int16(i%3), int16(g), time.Microsecond, 10, 10)
				m.ObserveError(int16(i%3), 6)
				m.BytesIn(topic, 1)
				m.MessagesIn(topic, 1)
				m.BytesOut(topic, 1)
				if i%50 == 0 {
					m.DeleteTopic(topic)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	var total float64
	for v := range 8 {
		for key := range 3 {
			total += testutil.ToFloat64(m.requests.WithLabelValues(kmsg.NameForKey(int16(key)), fmt.Sprint(v)))
		}
	}
	if total != 8*500 {
		t.Errorf("requests_total sum = %v, want %d", total, 8*500)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(0, 9, 150*time.Microsecond, 1024, 64)
		}
	})
}

// BenchmarkObserveRequestUncached is the baseline the caches are measured
// against: resolving children with WithLabelValues on every call.
func BenchmarkObserveRequestUncached(b *testing.B) {
	m := New(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := kmsg.NameForKey(0)
			m.requests.WithLabelValues(name, "9").Inc()
			m.reqDur.WithLabelValues(name).Observe(0.00015)
			m.reqBytes.WithLabelValues(name).Add(1024)
			m.respBytes.WithLabelValues(name).Add(64)
		}
	})
}

func BenchmarkObserveError(b *testing.B) {
	m := New(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveError(0, 6)
		}
	})
}

func BenchmarkBytesIn(b *testing.B) {
	m := New(1)
	topics := make([]string, 64)
	for i := range topics {
		topics[i] = fmt.Sprintf("topic-%d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.BytesIn(topics[i&63], 1024)
			i++
		}
	})
}

func BenchmarkBytesInUncached(b *testing.B) {
	m := New(1)
	topics := make([]string, 64)
	for i := range topics {
		topics[i] = fmt.Sprintf("topic-%d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.bytesIn.WithLabelValues(topics[i&63]).Add(1024)
			i++
		}
	})
}
