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
//
// Version notes:
//   - v0-2: one MemberID, its error is the response's error
//   - v3: batched Members; v4: flexible; v5: Reason (KIP-800)

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.LeaveGroup, 0, 5, (*Broker).handleLeaveGroup) }

func (b *Broker) handleLeaveGroup(r *Request) Reply {
	req := r.Req.(*kmsg.LeaveGroupRequest)
	return Reply{Wait: func() kmsg.Response { return b.groups.LeaveGroup(r.Ctx, req) }}
}
