package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one __consumer_offsets record; Value == nil is a tombstone.
type Record struct{ Key, Value []byte }

// Record formats, exactly as Kafka writes them (GroupCoordinatorRecordHelpers,
// CoordinatorRecordSerde). A key starts with an int16 that is the record
// type: 0 and 1 are offset commits (0 from brokers before the coordinator
// rewrite, still read), 2 is group metadata; higher types belong to
// KIP-848 consumer groups, share and streams groups, which this
// coordinator does not serve and skips when loading, as Kafka skips
// unknown types.
const (
	offsetCommitKeyLegacy     = 0
	offsetCommitKeyVersion    = 1
	groupMetadataKeyVersion   = 2
	groupMetadataValueVersion = 3 // GroupCoordinatorRecordHelpers.GROUP_METADATA_VALUE_VERSION
	// OffsetCommitValue is written at v1 when the commit carries an expire
	// timestamp (OffsetCommit v2-4 with a retention time), else at v3, the
	// highest non-flexible version (offsetCommitValueVersion).
	offsetCommitValueExpiring = 1
	offsetCommitValueVersion  = 3
)

// ErrCorruptRecord is returned when loading meets a __consumer_offsets
// record of a known type that does not decode.
var ErrCorruptRecord = errors.New("group: corrupt __consumer_offsets record")

func offsetKey(groupID, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetCommitKeyVersion, Group: groupID, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func offsetCommitRecord(groupID, topic string, partition int32, o offset) Record {
	v := kmsg.OffsetCommitValue{
		Version:         offsetCommitValueVersion,
		Offset:          o.offset,
		LeaderEpoch:     o.leaderEpoch,
		Metadata:        o.metadata,
		CommitTimestamp: o.commitTimestamp,
		ExpireTimestamp: -1,
	}
	if o.expireTimestamp >= 0 {
		v.Version, v.ExpireTimestamp = offsetCommitValueExpiring, o.expireTimestamp
	}
	return Record{Key: offsetKey(groupID, topic, partition), Value: v.AppendTo(nil)}
}

func offsetTombstone(groupID, topic string, partition int32) Record {
	return Record{Key: offsetKey(groupID, topic, partition)}
}

func groupKey(groupID string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupMetadataKeyVersion, Group: groupID}
	return k.AppendTo(nil)
}

// groupMetadataRecord is newGroupMetadataRecord: the generation, its
// protocol and leader, and every member with its subscription for the
// selected protocol and its assignment.
func groupMetadataRecord(g *group, assignment map[string][]byte) Record {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupMetadataValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	v.Protocol = g.protocolName
	if g.leader != "" {
		leader := g.leader
		v.Leader = &leader
	}
	v.CurrentStateTimestamp = g.stateTimestamp
	for _, id := range g.order {
		m := g.members[id]
		mm := kmsg.NewGroupMetadataValueMember()
		mm.MemberID, mm.InstanceID = m.id, m.instanceID
		mm.ClientID, mm.ClientHost = m.clientID, m.clientHost
		mm.RebalanceTimeoutMillis, mm.SessionTimeoutMillis = m.rebalanceTimeout, m.sessionTimeout
		if g.protocolName != nil {
			mm.Subscription = nonNil(m.metadataFor(*g.protocolName))
		}
		mm.Assignment = nonNil(assignment[id])
		v.Members = append(v.Members, mm)
	}
	return Record{Key: groupKey(g.id), Value: v.AppendTo(nil)}
}

func groupTombstone(groupID string) Record { return Record{Key: groupKey(groupID)} }

// replay applies one record of the shard's partition while loading
// (GroupMetadataManager.replay, OffsetMetadataManager.replay).
func (s *shardState) replay(r Record) error {
	if len(r.Key) < 2 {
		return fmt.Errorf("%w: key of %d bytes", ErrCorruptRecord, len(r.Key))
	}
	switch typ := int16(binary.BigEndian.Uint16(r.Key)); typ {
	case offsetCommitKeyLegacy, offsetCommitKeyVersion:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.Key); err != nil {
			return fmt.Errorf("%w: offset commit key: %v", ErrCorruptRecord, err)
		}
		if r.Value == nil {
			if g := s.groups[k.Group]; g != nil {
				g.deleteOffset(k.Topic, k.Partition)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.Value); err != nil {
			return fmt.Errorf("%w: offset commit value for %q %s[%d]: %v", ErrCorruptRecord, k.Group, k.Topic, k.Partition, err)
		}
		o := offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTimestamp: v.CommitTimestamp, expireTimestamp: -1}
		if v.Version >= 3 {
			o.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 {
			o.expireTimestamp = v.ExpireTimestamp
		}
		// Offsets committed without group membership make a "simple"
		// group: an Empty classic group with no protocol type.
		g := s.groups[k.Group]
		if g == nil {
			g = newGroup(k.Group, s.nowMs())
			s.groups[k.Group] = g
		}
		g.setOffset(k.Topic, k.Partition, o)
		return nil

	case groupMetadataKeyVersion:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(r.Key); err != nil {
			return fmt.Errorf("%w: group metadata key: %v", ErrCorruptRecord, err)
		}
		if r.Value == nil {
			if g := s.groups[k.Group]; g != nil {
				if len(g.offsets) == 0 {
					delete(s.groups, k.Group)
				} else {
					// Kafka writes the offsets' tombstones first; offsets
					// without them outlive the group as a simple group.
					ng := newGroup(k.Group, s.nowMs())
					ng.offsets = g.offsets
					s.groups[k.Group] = ng
				}
			}
			return nil
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(r.Value); err != nil {
			return fmt.Errorf("%w: group metadata value for %q: %v", ErrCorruptRecord, k.Group, err)
		}
		ng := newGroup(k.Group, s.nowMs())
		if old := s.groups[k.Group]; old != nil {
			ng.offsets = old.offsets
		}
		ng.loadMetadata(&v)
		s.groups[k.Group] = ng
		return nil

	default:
		s.logger.Debug("skipping __consumer_offsets record of a type this coordinator does not serve", "type", typ)
		return nil
	}
}

// loadMetadata restores a group from its GroupMetadataValue: Stable with
// its members if it had any, else Empty.
func (g *group) loadMetadata(v *kmsg.GroupMetadataValue) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	g.protocolName = v.Protocol
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.stateTimestamp = v.CurrentStateTimestamp
	g.prevState = stateDead
	g.state = stateEmpty
	if len(v.Members) > 0 {
		g.state = stateStable
	}
	name := ""
	if v.Protocol != nil {
		name = *v.Protocol
	}
	for _, vm := range v.Members {
		rebalance := vm.RebalanceTimeoutMillis
		if rebalance == -1 {
			rebalance = vm.SessionTimeoutMillis
		}
		m := &member{
			id:               vm.MemberID,
			instanceID:       vm.InstanceID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			rebalanceTimeout: rebalance,
			sessionTimeout:   vm.SessionTimeoutMillis,
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{name: name, metadata: vm.Subscription}},
			assignment:       vm.Assignment,
		}
		leader := g.leader
		g.add(m, nil)
		if leader != "" {
			g.leader = leader
		}
	}
	if g.leader != "" && g.members[g.leader] == nil && len(g.order) > 0 {
		g.leader = g.order[0]
	}
	g.subscribed = g.computeSubscribedTopics()
}

func (g *group) setOffset(topic string, partition int32, o offset) {
	ps := g.offsets[topic]
	if ps == nil {
		ps = map[int32]offset{}
		g.offsets[topic] = ps
	}
	ps[partition] = o
}

func (g *group) deleteOffset(topic string, partition int32) {
	ps := g.offsets[topic]
	delete(ps, partition)
	if len(ps) == 0 {
		delete(g.offsets, topic)
	}
}

// sortedGroupIDs returns the shard's group ids in order, for deterministic
// iteration.
func (s *shardState) sortedGroupIDs() []string {
	ids := make([]string, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// onLoaded is GroupMetadataManager.onLoaded: loaded members' sessions
// start now, a group over group.max.size rebalances, and the offset
// expiration cycle is scheduled.
func (s *shardState) onLoaded(now time.Time) {
	s.now = now
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		for _, mid := range g.order {
			m := g.members[mid]
			s.scheduleHeartbeat(g, m, ms(m.sessionTimeout))
		}
		if len(g.members) > s.cfg.MaxSize {
			s.logger.Info("loaded group is over group.max.size; rebalancing", "group", id,
				"members", len(g.members), "max", s.cfg.MaxSize)
			s.prepareRebalance(g)
		}
	}
	s.scheduleRetention()
	s.fireDue()
}
