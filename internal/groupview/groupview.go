// Package groupview is the one read-only view of consumer groups with their
// lag that every surface shares: the REST v3 consumer-group resources
// (internal/rest), the web console (internal/console) and the per-group
// lag metrics (internal/metrics). It asks the group coordinator through
// its own ListGroups, DescribeGroups and OffsetFetch, as a Kafka admin
// client would (Kafka's ConsumerGroupCommand; Confluent REST's
// ConsumerGroupManagerImpl and ConsumerLagManagerImpl), and measures lag
// against an end offset its owner supplies.
//
// Lag is EndOffset − committed offset, never below 0, for each partition
// that has a committed offset. The end offset Tandem passes is the
// partition's HighWatermark: what kafka-consumer-groups.sh reports
// (ListOffsets latest, read_uncommitted). Confluent REST asks with
// read_committed (the LastStableOffset); the two differ only while a
// transaction is open on the partition. Partitions the group has not
// committed are not listed, as neither Kafka's tool nor Confluent REST
// computes a lag for them.
package groupview

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrNotFound: the group does not exist (DescribeGroups answers Dead).
var ErrNotFound = errors.New("groupview: consumer group not found")

// Coordinator is the part of the group coordinator (internal/group) read
// here.
type Coordinator interface {
	ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse
	DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse
	OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse
}

// EndOffsets returns the offset lag is measured against for one
// partition, or an error when the partition is not hosted here.
type EndOffsets func(topic string, partition int32) (int64, error)

// Reader reads groups. Coord returns nil while the coordinator is not
// running.
type Reader struct {
	Coord func() Coordinator
	End   EndOffsets
}

// Group is one consumer group.
type Group struct {
	ID           string
	State        string // Kafka's name: Stable, Empty, PreparingRebalance, ...
	ProtocolType string // "consumer" for consumers; "" for a simple group (offsets only)
	Protocol     string // the assignor, e.g. "range"; "" unless Stable
	Members      []Member
	// Offsets are the committed offsets, sorted by topic and partition.
	Offsets []Offset
	// Err is the error DescribeGroups or OffsetFetch returned for this
	// group, if any; what could be read is still filled in.
	Err error
}

// Member is one member of a group.
type Member struct {
	ID         string
	InstanceID *string // static membership (KIP-345)
	ClientID   string
	ClientHost string
	// Assignment is the member's partitions, decoded from its consumer
	// protocol assignment; empty unless the group is Stable.
	Assignment []TopicPartition
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Offset is one committed offset with its lag.
type Offset struct {
	Topic     string
	Partition int32
	Committed int64
	End       int64 // -1: unknown (the partition is not hosted here)
	Lag       int64 // -1: unknown
	// Owner is the index in Members of the member the partition is
	// assigned to, or -1.
	Owner int
}

// Simple says whether the group only commits offsets and has no members
// of its own protocol (Kafka's ConsumerGroupDescription.isSimpleConsumerGroup).
func (g Group) Simple() bool { return g.ProtocolType == "" }

// Owner returns the member a committed offset's partition is assigned to.
func (g Group) Owner(o Offset) (Member, bool) {
	if o.Owner < 0 || o.Owner >= len(g.Members) {
		return Member{}, false
	}
	return g.Members[o.Owner], true
}

// Summary is a group's lag in brief: the sum and the largest, with the
// partition that has it (the first in topic, partition order on a tie).
type Summary struct {
	TotalLag, MaxLag int64
	// Max is the offset with the largest lag; ok is false when no
	// partition has a known lag.
	Max Offset
	OK  bool
}

// Summary sums the known lags.
func (g Group) Summary() Summary {
	var s Summary
	for _, o := range g.Offsets {
		if o.Lag < 0 {
			continue
		}
		s.TotalLag += o.Lag
		if !s.OK || o.Lag > s.MaxLag {
			s.MaxLag, s.Max, s.OK = o.Lag, o, true
		}
	}
	return s
}

func (r Reader) coord() (Coordinator, error) {
	var c Coordinator
	if r.Coord != nil {
		c = r.Coord()
	}
	if c == nil {
		return nil, errors.New("groupview: group coordinator not running")
	}
	return c, nil
}

// IDs lists the groups that exist, sorted.
func (r Reader) IDs(ctx context.Context) ([]string, error) {
	c, err := r.coord()
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 5
	resp := c.ListGroups(ctx, req)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(resp.Groups))
	for _, g := range resp.Groups {
		ids = append(ids, g.Group)
	}
	slices.Sort(ids)
	return ids, nil
}

// All reads every group with its offsets, sorted by id.
func (r Reader) All(ctx context.Context) ([]Group, error) {
	ids, err := r.IDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return r.Describe(ctx, ids)
}

// List reads every group without its offsets (Offsets is nil), sorted by
// id: what a listing needs, without an OffsetFetch of every group.
func (r Reader) List(ctx context.Context) ([]Group, error) {
	ids, err := r.IDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return r.describe(ctx, ids, false)
}

// Get reads one group; ErrNotFound when it does not exist.
func (r Reader) Get(ctx context.Context, id string) (Group, error) {
	gs, err := r.Describe(ctx, []string{id})
	if err != nil {
		return Group{}, err
	}
	g := gs[0]
	if g.Err != nil {
		return Group{}, g.Err
	}
	if g.State == "Dead" {
		return Group{}, ErrNotFound
	}
	return g, nil
}

// Describe reads the groups named, with their offsets, in that order. A
// group that does not exist comes back in state Dead.
func (r Reader) Describe(ctx context.Context, ids []string) ([]Group, error) {
	return r.describe(ctx, ids, true)
}

func (r Reader) describe(ctx context.Context, ids []string, withOffsets bool) ([]Group, error) {
	c, err := r.coord()
	if err != nil {
		return nil, err
	}
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Version = 5
	dreq.Groups = ids
	dresp := c.DescribeGroups(ctx, dreq)
	var fresp *kmsg.OffsetFetchResponse
	if withOffsets {
		freq := kmsg.NewPtrOffsetFetchRequest()
		freq.Version = 8
		for _, id := range ids {
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = id
			freq.Groups = append(freq.Groups, rg)
		}
		fresp = c.OffsetFetch(ctx, freq)
	}
	out := make([]Group, len(ids))
	for i, id := range ids {
		g := Group{ID: id, State: "Dead"}
		if i < len(dresp.Groups) {
			r.members(&g, dresp.Groups[i])
		}
		if fresp != nil && i < len(fresp.Groups) {
			r.offsets(&g, fresp.Groups[i])
		}
		out[i] = g
	}
	return out, nil
}

func (r Reader) members(g *Group, d kmsg.DescribeGroupsResponseGroup) {
	g.State, g.ProtocolType, g.Protocol = d.State, d.ProtocolType, d.Protocol
	if err := kerr.ErrorForCode(d.ErrorCode); err != nil {
		g.Err = err
	}
	for _, dm := range d.Members {
		m := Member{ID: dm.MemberID, InstanceID: dm.InstanceID, ClientID: dm.ClientID, ClientHost: dm.ClientHost}
		if d.ProtocolType == "consumer" && len(dm.MemberAssignment) > 0 {
			// KIP-429's ConsumerProtocolAssignment; a member whose
			// assignment does not decode is shown without one.
			var a kmsg.ConsumerMemberAssignment
			if a.ReadFrom(dm.MemberAssignment) == nil {
				for _, t := range a.Topics {
					for _, p := range t.Partitions {
						m.Assignment = append(m.Assignment, TopicPartition{t.Topic, p})
					}
				}
				slices.SortFunc(m.Assignment, compareTP)
			}
		}
		g.Members = append(g.Members, m)
	}
}

func (r Reader) offsets(g *Group, f kmsg.OffsetFetchResponseGroup) {
	if err := kerr.ErrorForCode(f.ErrorCode); err != nil && g.Err == nil {
		g.Err = err
	}
	owner := map[TopicPartition]int{}
	for i, m := range g.Members {
		for _, tp := range m.Assignment {
			owner[tp] = i
		}
	}
	for _, t := range f.Topics {
		for _, p := range t.Partitions {
			if p.Offset < 0 {
				continue // no commit
			}
			o := Offset{Topic: t.Topic, Partition: p.Partition, Committed: p.Offset, End: -1, Lag: -1, Owner: -1}
			if i, ok := owner[TopicPartition{t.Topic, p.Partition}]; ok {
				o.Owner = i
			}
			if r.End != nil {
				if end, err := r.End(t.Topic, p.Partition); err == nil {
					o.End, o.Lag = end, max(end-p.Offset, 0)
				}
			}
			g.Offsets = append(g.Offsets, o)
		}
	}
	slices.SortFunc(g.Offsets, func(a, b Offset) int {
		return compareTP(TopicPartition{a.Topic, a.Partition}, TopicPartition{b.Topic, b.Partition})
	})
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}
