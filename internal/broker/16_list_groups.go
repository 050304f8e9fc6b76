package broker

// ListGroups: v0-5
//
// Behaviour (internal/group):
//   - Every group of every shard, sorted by id within a shard. While a
//     shard is still loading the answer is COORDINATOR_LOAD_IN_PROGRESS.
//   - v4+ filters by state (KIP-518) and v5+ by type (KIP-848), both
//     case-insensitive; every group here is of type "classic".
//
// Version notes:
//   - v1: throttle; v3: flexible; v4: StatesFilter, GroupState
//   - v5: TypesFilter, GroupType

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.ListGroups, 0, 5, (*Broker).handleListGroups) }

func (b *Broker) handleListGroups(r *Request) Reply {
	req := r.Req.(*kmsg.ListGroupsRequest)
	return Reply{Wait: func() kmsg.Response { return b.groups.ListGroups(r.Ctx, req) }}
}
