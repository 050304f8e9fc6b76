package broker

// ListGroups: v0-5
//
// Behaviour (internal/group):
//   - Every group of every shard, sorted by id within a shard. While a
//     shard is still loading the answer is COORDINATOR_LOAD_IN_PROGRESS.
//   - v4+ filters by state (KIP-518) and v5+ by type (KIP-848), both
//     case-insensitive; every group here is of type "classic".
//   - Authorization (KafkaApis.handleListGroupsRequest): with DESCRIBE on
//     the cluster every group is listed; otherwise only the groups the
//     principal may describe. Never an authorization error.
//
// Version notes:
//   - v1: throttle; v3: flexible; v4: StatesFilter, GroupState
//   - v5: TypesFilter, GroupType

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.ListGroups, 0, 5, (*Broker).handleListGroups) }

func (b *Broker) handleListGroups(r *Request) Reply {
	req := r.Req.(*kmsg.ListGroupsRequest)
	all := b.authorizedCluster(r, kmsg.ACLOperationDescribe)
	ctx := requestContext(r) // for the Wait, off the request goroutine
	return Reply{Wait: func() kmsg.Response {
		resp := b.groups.ListGroups(r.Ctx, req)
		if !all {
			kept := resp.Groups[:0]
			for _, g := range resp.Groups {
				if b.authorizedCtx(ctx, kmsg.ACLOperationDescribe, acl.Group(g.Group)) {
					kept = append(kept, g)
				}
			}
			resp.Groups = kept
		}
		return resp
	}}
}
