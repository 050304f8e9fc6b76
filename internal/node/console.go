package node

import (
	"context"
	"errors"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/console"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/partition"
)

// consoleSource adapts the node to the web console (internal/console).
// Everything here is read-only.
type consoleSource struct {
	n         *Node
	httpAddrs []net.Addr // bound HTTP listeners; nil for the sampler
}

var _ console.Source = consoleSource{}

func (c consoleSource) Overview(ctx context.Context) console.Overview {
	n := c.n
	host, port := n.broker.AdvertisedAddr()
	o := console.Overview{
		ClusterID: n.ClusterID(), NodeID: n.Config.NodeID, Version: nodeVersion(),
		Advertised: net.JoinHostPort(host, strconv.Itoa(int(port))), StartedMs: n.started.UnixMilli(),
		LogDir: n.dir, ClusterLinking: n.links != nil,
	}
	for _, a := range n.kafkaAddrs {
		o.KafkaListeners = append(o.KafkaListeners, a.String())
	}
	for _, a := range c.httpAddrs {
		o.HTTPListeners = append(o.HTTPListeners, a.String())
	}
	for _, t := range n.broker.Topics() {
		o.Topics++
		o.Partitions += int(t.Partitions)
		if t.Mirror != nil {
			o.Mirrors++
		}
	}
	n.parts.EachPartition(func(p *partition.Partition) { o.LogBytes += p.Log.Stats().Size })
	if n.links != nil {
		o.Links = len(n.links.Links())
	}
	return o
}

func nodeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (c consoleSource) Topics(ctx context.Context) ([]console.Topic, error) {
	n := c.n
	type key struct {
		topic string
		p     int32
	}
	stats := map[key]console.Partition{}
	n.parts.EachPartition(func(p *partition.Partition) {
		s := p.Log.Stats()
		stats[key{p.Topic, p.Index}] = console.Partition{Partition: p.Index, LeaderEpoch: p.LeaderEpoch(),
			LogStartOffset: s.LogStartOffset, HighWatermark: s.HighWatermark, LogEndOffset: s.LogEndOffset,
			Bytes: s.Size, Segments: s.Segments}
	})
	var out []console.Topic
	for _, t := range n.broker.Topics() {
		ct := console.Topic{Name: t.Name, Internal: strings.HasPrefix(t.Name, "__"), ReplicationFactor: t.ReplicationFactor,
			Partitions: []console.Partition{}}
		if t.Mirror != nil {
			ct.MirrorLink, ct.MirrorState = t.Mirror.Link, string(t.Mirror.State)
		}
		for p := int32(0); p < t.Partitions; p++ {
			s, ok := stats[key{t.Name, p}]
			if !ok {
				s = console.Partition{Partition: p, Leader: -1, LogStartOffset: -1, HighWatermark: -1, LogEndOffset: -1}
			} else {
				s.Leader = n.Config.NodeID
				ct.Bytes += s.Bytes
				ct.Records += max(s.HighWatermark-s.LogStartOffset, 0)
			}
			ct.Partitions = append(ct.Partitions, s)
		}
		out = append(out, ct)
	}
	return out, nil
}

// Groups lists the consumer groups through the coordinator's own
// ListGroups, DescribeGroups and OffsetFetch, as a Kafka admin client
// would, and computes lag against this node's high watermarks.
func (c consoleSource) Groups(ctx context.Context) ([]console.Group, error) {
	coord := c.n.broker.Groups()
	if coord == nil {
		return nil, errors.New("node: group coordinator not running")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.Version = 5
	lresp := coord.ListGroups(ctx, lreq)
	if err := kerr.ErrorForCode(lresp.ErrorCode); err != nil {
		return nil, err
	}
	if len(lresp.Groups) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(lresp.Groups))
	for _, g := range lresp.Groups {
		ids = append(ids, g.Group)
	}
	slices.Sort(ids)
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Version = 5
	dreq.Groups = ids
	dresp := coord.DescribeGroups(ctx, dreq)
	freq := kmsg.NewPtrOffsetFetchRequest()
	freq.Version = 8
	for _, id := range ids {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = id
		freq.Groups = append(freq.Groups, rg)
	}
	fresp := coord.OffsetFetch(ctx, freq)
	out := make([]console.Group, len(ids))
	for i, id := range ids {
		g := console.Group{GroupID: id, Offsets: []console.GroupOffset{}}
		if i < len(dresp.Groups) {
			d := dresp.Groups[i]
			g.State, g.ProtocolType, g.Protocol, g.Members = d.State, d.ProtocolType, d.Protocol, len(d.Members)
			if err := kerr.ErrorForCode(d.ErrorCode); err != nil {
				g.Error = err.Error()
			}
		}
		if i < len(fresp.Groups) {
			f := fresp.Groups[i]
			if err := kerr.ErrorForCode(f.ErrorCode); err != nil {
				g.Error = err.Error()
			}
			for _, t := range f.Topics {
				for _, p := range t.Partitions {
					if p.Offset < 0 {
						continue
					}
					o := console.GroupOffset{Topic: t.Topic, Partition: p.Partition, Committed: p.Offset, HighWatermark: -1, Lag: -1}
					if _, hw, err := c.n.broker.PartitionOffsets(t.Topic, p.Partition); err == nil {
						o.HighWatermark, o.Lag = hw, max(hw-p.Offset, 0)
						g.Lag += o.Lag
					}
					g.Offsets = append(g.Offsets, o)
				}
			}
		}
		slices.SortFunc(g.Offsets, func(a, b console.GroupOffset) int {
			if a.Topic != b.Topic {
				if a.Topic < b.Topic {
					return -1
				}
				return 1
			}
			return int(a.Partition - b.Partition)
		})
		out[i] = g
	}
	return out, nil
}

// Snapshot reads the links and mirror partitions from the link manager,
// with each mirror partition's log size for the bytes-at-risk estimate.
func (c consoleSource) Snapshot() console.Snapshot {
	n := c.n
	var snap console.Snapshot
	if n.links == nil {
		return snap
	}
	for _, l := range n.links.Links() {
		snap.Links = append(snap.Links, console.LinkSnapshot{Name: l.Link.Name, State: l.State})
	}
	mirrors, _ := n.links.Mirrors("", "")
	offsetLags := map[string]map[string]map[int32]int64{} // link → mirror → partition (nil: not synced)
	for _, l := range snap.Links {
		if lags, on := n.links.ConsumerOffsetLags(l.Name); on {
			offsetLags[l.Name] = lags
		}
	}
	for _, mi := range mirrors {
		ms := console.MirrorSnapshot{Link: mi.Topic.Mirror.Link, Topic: mi.Topic.Name, State: string(mi.State),
			Stopped: mi.State == link.MirrorStopped || mi.State == link.MirrorPendingStopped}
		for _, p := range mi.Partitions {
			ps := console.PartitionSnapshot{Partition: p.Partition, SourceEnd: p.SourceEndOffset, SourceEndTime: p.SourceEndTime,
				LocalEnd: p.LocalEndOffset, LastFetch: p.LastFetch, FetchedSourceEnd: p.SourceHighWatermark}
			if pt, err := n.broker.MirrorPartition(mi.Topic.Name, p.Partition); err == nil {
				s := pt.Log.Stats()
				ps.LocalStart, ps.LocalBytes = s.LogStartOffset, s.Size
			}
			if lags, on := offsetLags[ms.Link]; on {
				l := lags[mi.Topic.Name][p.Partition]
				ps.ConsumerOffsetLag = &l
			}
			ms.Partitions = append(ms.Partitions, ps)
		}
		snap.Mirrors = append(snap.Mirrors, ms)
	}
	return snap
}
