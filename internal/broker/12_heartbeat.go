package broker

// Heartbeat: v0-4
//
// Behaviour (internal/group):
//   - Keeps a member's session alive. During a rebalance it answers
//     REBALANCE_IN_PROGRESS, so the member rejoins; ILLEGAL_GENERATION for
//     a stale generation, UNKNOWN_MEMBER_ID for a member the group does not
//     have (removed, or the group is gone), FENCED_INSTANCE_ID for a static
//     member replaced by a newer instance.
//   - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED
//     before the coordinator sees the request (KafkaApis).
//
// Version notes:
//   - v1: throttle; v3: InstanceID (KIP-345); v4: flexible

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.Heartbeat, 0, 4, (*Broker).handleHeartbeat) }

func (b *Broker) handleHeartbeat(r *Request) Reply {
	req := r.Req.(*kmsg.HeartbeatRequest)
	if !b.authorized(r, kmsg.ACLOperationRead, acl.Group(req.Group)) {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return now(resp)
	}
	return Reply{Wait: func() kmsg.Response { return b.groups.Heartbeat(r.Ctx, req) }}
}
