package broker

// LeaveGroup: v0-5
//
// Behaviour (internal/group):
//   - Removes members, which rebalances the group (or completes a join
//     phase that was waiting for them). The last member leaving makes the
//     group Empty, which is persisted before the response.
//   - v3+ names a batch of members, each answered on its own; a member may
//     be named by group.instance.id alone, which removes that static member
//     (KIP-345 administrative removal). A pending KIP-394 member id can
//     leave too.
//   - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED
//     before the coordinator sees the request (KafkaApis).
//
// Version notes:
//   - v0-2: one MemberID, its error is the response's error
//   - v3: batched Members; v4: flexible; v5: Reason (KIP-800)

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.LeaveGroup, 0, 5, (*Broker).handleLeaveGroup) }

func (b *Broker) handleLeaveGroup(r *Request) Reply {
	req := r.Req.(*kmsg.LeaveGroupRequest)
	if !b.authorized(r, kmsg.ACLOperationRead, acl.Group(req.Group)) {
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return now(resp)
	}
	return Reply{Wait: func() kmsg.Response { return b.groups.LeaveGroup(r.Ctx, req) }}
}
