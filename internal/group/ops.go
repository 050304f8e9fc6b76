package group

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// dispatch routes one request to its handler. Read-only requests
// (OffsetFetch, DescribeGroups, ListGroups) are answered at once from
// committed offsets and current membership, as Kafka's read operations
// are; everything else goes through respond and its write ordering.
func (s *shardState) dispatch(op any) {
	switch op := op.(type) {
	case joinOp:
		s.joinGroup(op)
	case *kmsg.SyncGroupRequest:
		s.syncGroup(op)
	case *kmsg.HeartbeatRequest:
		s.heartbeat(op)
	case *kmsg.LeaveGroupRequest:
		s.leaveGroup(op)
	case commitOp:
		s.commitOffsets(op)
	case offsetDeleteOp:
		s.deleteOffsets(op)
	case deleteGroupsOp:
		s.deleteGroups(op)
	case topicsDeletedOp:
		s.topicsDeleted(op)
	case fetchOp:
		s.sendNow(s.ev.to, s.fetchOffsets(op))
	case fetchGroupsOp:
		out := make([]kmsg.OffsetFetchResponseGroup, 0, len(op.groups))
		for _, f := range op.groups {
			out = append(out, s.fetchOffsets(f))
		}
		s.sendNow(s.ev.to, out)
	case describeOp:
		s.sendNow(s.ev.to, s.describeGroups(op))
	case listOp:
		s.sendNow(s.ev.to, s.listGroups(op))
	default:
		panic("group: unknown operation")
	}
}

// errorReply is the reply to op when its shard cannot handle it (loading,
// failed, closed): the response Kafka sends for code.
func errorReply(op any, code int16) any {
	switch op := op.(type) {
	case joinOp:
		return joinError(op.req, code, op.req.MemberID)
	case *kmsg.SyncGroupRequest:
		return syncError(op.Version, code)
	case *kmsg.HeartbeatRequest:
		resp := op.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.LeaveGroupRequest:
		return leaveError(op, code)
	case commitOp:
		resp, _ := commitResponse(op)
		setCommitErrors(resp, code)
		return resp
	case offsetDeleteOp:
		resp := op.req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = code
		return resp
	case fetchOp:
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group, g.ErrorCode = op.group, code
		return g
	case fetchGroupsOp:
		out := make([]kmsg.OffsetFetchResponseGroup, 0, len(op.groups))
		for _, f := range op.groups {
			out = append(out, errorReply(f, code).(kmsg.OffsetFetchResponseGroup))
		}
		return out
	case describeOp:
		out := make([]kmsg.DescribeGroupsResponseGroup, 0, len(op.groups))
		for _, id := range op.groups {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = id, code
			out = append(out, dg)
		}
		return out
	case deleteGroupsOp:
		out := make([]kmsg.DeleteGroupsResponseGroup, 0, len(op.groups))
		for _, id := range op.groups {
			dg := kmsg.NewDeleteGroupsResponseGroup()
			dg.Group, dg.ErrorCode = id, code
			out = append(out, dg)
		}
		return out
	case listOp:
		return listError(code)
	case topicsDeletedOp:
		return shardError(code)
	default:
		panic("group: unknown operation")
	}
}

// listError and shardError carry a shard's failure back to a fan-out.
type (
	listError  int16
	shardError int16
)
