package metrics

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// GroupLagStat is one consumer group's lag, read from the group
// coordinator at scrape time (internal/groupview).
type GroupLagStat struct {
	Group string
	// Partitions are the group's committed partitions whose lag is known.
	Partitions []GroupPartitionLag
}

// GroupPartitionLag is one committed partition's lag: its end offset
// minus the group's committed offset.
type GroupPartitionLag struct {
	Topic     string
	Partition int32
	Lag       int64
}

// GroupLagSource reads at most limit groups (the first in group id order)
// and says how many more there are.
type GroupLagSource func(limit int) (stats []GroupLagStat, omitted int)

// SetGroupLagSource registers the source of the consumer-group lag
// series. It is called once per scrape and must be safe for concurrent
// use. maxGroups caps the groups exported (the rest are counted in
// tandem_consumer_group_lag_groups_omitted), so that the series stay
// bounded: per group, two per topic, plus one per partition with
// perPartition. Passing a nil fn removes the source.
func (m *Metrics) SetGroupLagSource(fn GroupLagSource, maxGroups int, perPartition bool) {
	if m == nil {
		return
	}
	if fn == nil {
		m.groups.src.Store(nil)
		return
	}
	m.groups.src.Store(&groupSource{fn: fn, max: maxGroups, perPartition: perPartition})
}

type groupSource struct {
	fn           GroupLagSource
	max          int
	perPartition bool
}

// groupCollector computes the lag series on scrape, from the committed
// offsets and end offsets the coordinator and logs already hold, so a
// deleted group or topic leaves no stale series.
type groupCollector struct {
	src atomic.Pointer[groupSource]

	total     *prometheus.Desc
	max       *prometheus.Desc
	partition *prometheus.Desc
	omitted   *prometheus.Desc
}

func newGroupCollector() *groupCollector {
	d := func(name, help string, l ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, l, nil)
	}
	return &groupCollector{
		total: d("consumer_group_lag_total",
			"Records a consumer group is behind on a topic: the sum over its committed partitions of high watermark minus committed offset.",
			"group", "topic"),
		max: d("consumer_group_lag_max",
			"The largest lag of one of the group's committed partitions of the topic.", "group", "topic"),
		partition: d("consumer_group_partition_lag",
			"A consumer group's lag on one partition (only with metrics.consumer.group.partition.lag.enable=true).",
			"group", "topic", "partition"),
		omitted: d("consumer_group_lag_groups_omitted",
			"Consumer groups over metrics.consumer.group.lag.max.groups whose lag is not exported."),
	}
}

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.total
	ch <- c.max
	ch <- c.partition
	ch <- c.omitted
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.src.Load()
	if src == nil {
		return
	}
	stats, omitted := src.fn(src.max)
	for _, g := range stats {
		type agg struct{ total, max int64 }
		var topics []string
		byTopic := map[string]*agg{}
		for _, p := range g.Partitions {
			a := byTopic[p.Topic]
			if a == nil {
				a = &agg{}
				byTopic[p.Topic] = a
				topics = append(topics, p.Topic)
			}
			a.total += p.Lag
			a.max = max(a.max, p.Lag)
			if src.perPartition {
				gauge(ch, c.partition, p.Lag, g.Group, p.Topic, strconv.FormatInt(int64(p.Partition), 10))
			}
		}
		for _, t := range topics {
			gauge(ch, c.total, byTopic[t].total, g.Group, t)
			gauge(ch, c.max, byTopic[t].max, g.Group, t)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.omitted, prometheus.GaugeValue, float64(omitted))
}
