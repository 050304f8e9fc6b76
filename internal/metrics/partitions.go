package metrics

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// PartitionStat is a point-in-time view of one local partition's log, as
// reported by the broker's partition source at scrape time.
type PartitionStat struct {
	Topic          string
	Partition      int32
	LogSizeBytes   int64
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
	Segments       int
	// Offline: the partition cannot take writes (its log failed to open,
	// or a storage failure took it offline). An offline partition whose
	// log never opened has no log numbers (they are not reported).
	Offline bool
	// NoLog: the log never opened; only Offline is meaningful.
	NoLog bool
}

// SetPartitionSource registers the callback that lists this node's
// partitions. It is called once per scrape, from the scraping goroutine,
// so it must be safe for concurrent use and should not block for long.
// Passing nil removes the source; the partition gauges then disappear.
func (m *Metrics) SetPartitionSource(fn func() []PartitionStat) {
	if m == nil {
		return
	}
	if fn == nil {
		m.partitions.src.Store(nil)
		return
	}
	m.partitions.src.Store(&fn)
}

// partitionCollector computes the per-partition gauges on scrape rather
// than keeping thousands of gauge children updated on every append; the
// log already knows these numbers, so reading them when asked is cheaper
// and can never go stale for a deleted partition.
type partitionCollector struct {
	src atomic.Pointer[func() []PartitionStat]

	count    *prometheus.Desc
	size     *prometheus.Desc
	start    *prometheus.Desc
	end      *prometheus.Desc
	hw       *prometheus.Desc
	segments *prometheus.Desc
	offline  *prometheus.Desc
	nOffline *prometheus.Desc
}

func newPartitionCollector() *partitionCollector {
	labels := []string{"topic", "partition"}
	d := func(name, help string, l []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, l, nil)
	}
	return &partitionCollector{
		count:    d("partitions", "Partitions hosted by this node.", nil),
		size:     d("log_size_bytes", "Bytes on disk of a partition's log.", labels),
		start:    d("log_start_offset", "A partition's LogStartOffset.", labels),
		end:      d("log_end_offset", "A partition's log end offset.", labels),
		hw:       d("high_watermark", "A partition's HighWatermark.", labels),
		segments: d("log_segments", "Segments in a partition's log.", labels),
		offline: d("partition_offline", "1 for a partition that is offline after a storage fault "+
			"(listed only while it is; see docs/operations.md, Storage faults).", labels),
		nOffline: d("partitions_offline", "Partitions offline after a storage fault; /readyz is DOWN while this is not 0.", nil),
	}
}

func (c *partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.size
	ch <- c.start
	ch <- c.end
	ch <- c.hw
	ch <- c.segments
	ch <- c.offline
	ch <- c.nOffline
}

func (c *partitionCollector) Collect(ch chan<- prometheus.Metric) {
	fn := c.src.Load()
	if fn == nil {
		return
	}
	stats := (*fn)()
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(len(stats)))
	offline := 0
	for i := range stats {
		s := &stats[i]
		p := strconv.FormatInt(int64(s.Partition), 10)
		if s.Offline {
			offline++
			gauge(ch, c.offline, 1, s.Topic, p)
		}
		if s.NoLog {
			continue
		}
		gauge(ch, c.size, s.LogSizeBytes, s.Topic, p)
		gauge(ch, c.start, s.LogStartOffset, s.Topic, p)
		gauge(ch, c.end, s.LogEndOffset, s.Topic, p)
		gauge(ch, c.hw, s.HighWatermark, s.Topic, p)
		gauge(ch, c.segments, int64(s.Segments), s.Topic, p)
	}
	ch <- prometheus.MustNewConstMetric(c.nOffline, prometheus.GaugeValue, float64(offline))
}

// gauge emits one const gauge. A label value the client library rejects
// (a topic name that is not valid UTF-8) becomes an invalid metric, which
// the registry reports as a gather error for that series instead of the
// whole collector panicking mid-scrape.
func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}
