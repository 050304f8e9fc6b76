package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var groupLagNames = []string{"tandem_consumer_group_lag_total", "tandem_consumer_group_lag_max",
	"tandem_consumer_group_partition_lag", "tandem_consumer_group_lag_groups_omitted"}

// groupLagFake has three groups; it serves the first limit, as the
// node's source does, and records the limit it was asked for.
func groupLagFake(asked *int) GroupLagSource {
	all := []GroupLagStat{
		{Group: "a", Partitions: []GroupPartitionLag{{"t", 0, 2}, {"t", 1, 5}, {"u", 0, 0}}},
		{Group: "b", Partitions: []GroupPartitionLag{{"t", 0, 1}}},
		{Group: "c", Partitions: []GroupPartitionLag{{"t", 0, 9}}},
	}
	return func(limit int) ([]GroupLagStat, int) {
		*asked = limit
		n := min(limit, len(all))
		return all[:n], len(all) - n
	}
}

func TestGroupLagSeries(t *testing.T) {
	m := New(1)
	var asked int
	m.SetGroupLagSource(groupLagFake(&asked), 2, false)
	want := `
# HELP tandem_consumer_group_lag_groups_omitted Consumer groups over metrics.consumer.group.lag.max.groups whose lag is not exported.
# TYPE tandem_consumer_group_lag_groups_omitted gauge
tandem_consumer_group_lag_groups_omitted 1
# HELP tandem_consumer_group_lag_max The largest lag of one of the group's committed partitions of the topic.
# TYPE tandem_consumer_group_lag_max gauge
tandem_consumer_group_lag_max{group="a",topic="t"} 5
tandem_consumer_group_lag_max{group="a",topic="u"} 0
tandem_consumer_group_lag_max{group="b",topic="t"} 1
# HELP tandem_consumer_group_lag_total Records a consumer group is behind on a topic: the sum over its committed partitions of high watermark minus committed offset.
# TYPE tandem_consumer_group_lag_total gauge
tandem_consumer_group_lag_total{group="a",topic="t"} 7
tandem_consumer_group_lag_total{group="a",topic="u"} 0
tandem_consumer_group_lag_total{group="b",topic="t"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), groupLagNames...); err != nil {
		t.Error(err)
	}
	if asked != 2 {
		t.Errorf("source asked for %d groups, want the cap 2", asked)
	}

	// Per-partition series only when turned on.
	m.SetGroupLagSource(groupLagFake(&asked), 1, true)
	want = `
# HELP tandem_consumer_group_partition_lag A consumer group's lag on one partition (only with metrics.consumer.group.partition.lag.enable=true).
# TYPE tandem_consumer_group_partition_lag gauge
tandem_consumer_group_partition_lag{group="a",partition="0",topic="t"} 2
tandem_consumer_group_partition_lag{group="a",partition="0",topic="u"} 0
tandem_consumer_group_partition_lag{group="a",partition="1",topic="t"} 5
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "tandem_consumer_group_partition_lag"); err != nil {
		t.Error(err)
	}

	// No source, no series.
	m.SetGroupLagSource(nil, 0, false)
	if n, err := testutil.GatherAndCount(m.Registry(), groupLagNames...); err != nil || n != 0 {
		t.Errorf("without a source: %d series, %v", n, err)
	}
}
