package group

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups, ListGroups and DeleteGroups for the groups of one shard.

type describeOp struct {
	groups            []string
	version           int16
	includeAuthorized bool
}

type listOp struct {
	states []string // lower-cased
	types  []string // lower-cased
}

type deleteGroupsOp struct{ groups []string }

// groupOpsAll is the bit set of the ACL operations on a group (READ,
// DELETE, DESCRIBE) reported when authorized operations are asked for;
// with no authorizer every operation is allowed.
const groupOpsAll = 1<<3 | 1<<6 | 1<<8

// classicGroupType is the group type ListGroups v5 reports (KIP-848).
const classicGroupType = "classic"

// describeGroups is GroupMetadataManager.describeGroups: members carry
// their metadata and assignment only in Stable, when they are meaningful.
func (s *shardState) describeGroups(op describeOp) []kmsg.DescribeGroupsResponseGroup {
	out := make([]kmsg.DescribeGroupsResponseGroup, 0, len(op.groups))
	for _, id := range op.groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		g := s.groups[id]
		if g == nil || g.is(stateDead) {
			dg.State = stateDead.String()
			if op.version >= 6 {
				// KIP-1043: v6 says so instead of describing a Dead group.
				dg.ErrorCode = kerr.GroupIDNotFound.Code
				dg.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Group %s not found.", id))
			}
			out = append(out, dg)
			continue
		}
		dg.State = g.state.String()
		dg.ProtocolType = g.protocolType
		stable := g.is(stateStable) && g.protocolName != nil
		if stable {
			dg.Protocol = *g.protocolName
		}
		if op.includeAuthorized {
			dg.AuthorizedOperations = groupOpsAll
		}
		for _, mid := range g.order {
			m := g.members[mid]
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID = m.id, m.instanceID
			dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
			dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
			if stable {
				dm.ProtocolMetadata = nonNil(m.metadataFor(*g.protocolName))
				dm.MemberAssignment = nonNil(m.assignment)
			}
			dg.Members = append(dg.Members, dm)
		}
		out = append(out, dg)
	}
	return out
}

// listGroups lists the shard's groups matching the filters (KIP-518
// states, KIP-848 types; both case-insensitive, empty means all).
func (s *shardState) listGroups(op listOp) []kmsg.ListGroupsResponseGroup {
	var out []kmsg.ListGroupsResponseGroup
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		if g.is(stateDead) {
			continue
		}
		if len(op.states) > 0 && !slices.Contains(op.states, strings.ToLower(g.state.String())) {
			continue
		}
		if len(op.types) > 0 && !slices.Contains(op.types, classicGroupType) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType = id, g.protocolType
		lg.GroupState, lg.GroupType = g.state.String(), classicGroupType
		out = append(out, lg)
	}
	return out
}

// deleteGroups is GroupCoordinatorShard.deleteGroups: only Empty groups
// can be deleted; their offsets and the group itself get tombstones in
// one batch, and the groups are Dead until it is durable.
func (s *shardState) deleteGroups(op deleteGroupsOp) {
	out := make([]kmsg.DeleteGroupsResponseGroup, 0, len(op.groups))
	var (
		records []Record
		deleted []*group
	)
	for _, id := range op.groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		g := s.groups[id]
		switch {
		case g == nil || g.is(stateDead):
			dg.ErrorCode = kerr.GroupIDNotFound.Code
		case !g.is(stateEmpty):
			dg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			for _, t := range sortedKeys(g.offsets) {
				for _, p := range sortedKeys(g.offsets[t]) {
					records = append(records, offsetTombstone(id, t, p))
				}
			}
			// Commits still in flight are deleted too: their records
			// precede these tombstones in the log.
			for _, tp := range g.pendingOnly() {
				records = append(records, offsetTombstone(id, tp.topic, tp.partition))
			}
			records = append(records, groupTombstone(id))
			s.markDead(g)
			deleted = append(deleted, g)
		}
		out = append(out, dg)
	}
	if len(records) > 0 {
		s.write(records, func(err error) {
			for _, g := range deleted {
				if err != nil {
					s.reviveDead(g)
				} else if s.groups[g.id] == g {
					delete(s.groups, g.id)
				}
			}
			if err == nil {
				s.logger.Info("deleted groups", "shard", s.shard, "groups", len(deleted))
			}
		})
	}
	s.respond(out, func(err error) any {
		code := appendErrorCode(err, false)
		failed := slices.Clone(out)
		for i := range failed {
			if failed[i].ErrorCode == 0 {
				failed[i].ErrorCode = code
			}
		}
		return failed
	})
}
