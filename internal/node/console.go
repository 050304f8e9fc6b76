package node

import (
	"context"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

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

// Groups lists the consumer groups with their lag (internal/groupview,
// which REST and the metrics read too).
func (c consoleSource) Groups(ctx context.Context) ([]console.Group, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	gs, err := c.n.groupReader().All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]console.Group, len(gs))
	for i, g := range gs {
		cg := console.Group{GroupID: g.ID, State: g.State, ProtocolType: g.ProtocolType, Protocol: g.Protocol,
			Members: len(g.Members), Offsets: make([]console.GroupOffset, 0, len(g.Offsets))}
		if g.Err != nil {
			cg.Error = g.Err.Error()
		}
		for _, o := range g.Offsets {
			cg.Offsets = append(cg.Offsets, console.GroupOffset{Topic: o.Topic, Partition: o.Partition,
				Committed: o.Committed, HighWatermark: o.End, Lag: o.Lag})
		}
		cg.Lag = g.Summary().TotalLag
		out[i] = cg
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
