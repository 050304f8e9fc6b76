package broker

// SyncGroup: v0-5
//
// Behaviour (internal/group):
//   - Followers wait for the leader's assignment; the leader's assignment
//     is written to __consumer_offsets, and only once it is durable do all
//     members get their part and the group become Stable. Members the
//     leader left out get an empty assignment (cooperative protocols rely
//     on that). If the write fails the members get the error and the group
//     rebalances.
//   - In Stable, a member gets its current assignment; during a new
//     rebalance, REBALANCE_IN_PROGRESS; members that never send SyncGroup
//     within the rebalance timeout are removed (KAFKA-13766).
//   - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED
//     before the coordinator sees the request (KafkaApis).
//
// Version notes:
//   - v1: throttle; v3: InstanceID; v4: flexible
//   - v5: ProtocolType/Protocol, checked against the group's
//     (INCONSISTENT_GROUP_PROTOCOL) and returned (KIP-559)

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.SyncGroup, 0, 5, (*Broker).handleSyncGroup) }

func (b *Broker) handleSyncGroup(r *Request) Reply {
	req := r.Req.(*kmsg.SyncGroupRequest)
	if !b.authorized(r, kmsg.ACLOperationRead, acl.Group(req.Group)) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return now(resp)
	}
	return Reply{Wait: func() kmsg.Response { return b.groups.SyncGroup(r.Ctx, req) }}
}
