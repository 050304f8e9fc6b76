package node

import (
	"context"
	"time"

	"github.com/tandem-streaming/tandem/internal/groupview"
	"github.com/tandem-streaming/tandem/internal/metrics"
)

// groupReader reads consumer groups and their lag against this node's
// high watermarks, for the console, REST and the metrics.
func (n *Node) groupReader() groupview.Reader {
	return groupview.Reader{
		Coord: func() groupview.Coordinator {
			if c := n.broker.Groups(); c != nil {
				return c
			}
			return nil
		},
		End: func(topic string, p int32) (int64, error) {
			_, hw, err := n.broker.PartitionOffsets(topic, p)
			return hw, err
		},
	}
}

// groupLagStats is the metrics' group lag source: the first limit groups
// in id order, with their known lags.
func (n *Node) groupLagStats(limit int) ([]metrics.GroupLagStat, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := n.groupReader()
	ids, err := r.IDs(ctx)
	if err != nil || limit <= 0 {
		return nil, len(ids)
	}
	omitted := max(len(ids)-limit, 0)
	ids = ids[:min(len(ids), limit)]
	if len(ids) == 0 {
		return nil, omitted
	}
	gs, err := r.Describe(ctx, ids)
	if err != nil {
		return nil, omitted
	}
	out := make([]metrics.GroupLagStat, 0, len(gs))
	for _, g := range gs {
		s := metrics.GroupLagStat{Group: g.ID}
		for _, o := range g.Offsets {
			if o.Lag >= 0 {
				s.Partitions = append(s.Partitions, metrics.GroupPartitionLag{Topic: o.Topic, Partition: o.Partition, Lag: o.Lag})
			}
		}
		if len(s.Partitions) > 0 {
			out = append(out, s)
		}
	}
	return out, omitted
}
