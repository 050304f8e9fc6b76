package broker

// DescribeGroups: v0-6
//
// Behaviour (internal/group):
//   - State, protocol type and members (id, instance id, client id and
//     host) of each group. Member metadata and assignments, and the
//     protocol, are given only in Stable, as Kafka does.
//   - A group that does not exist is reported in state Dead with no error
//     before v6, and with GROUP_ID_NOT_FOUND from v6 (KIP-1043).
//   - Authorized operations (v3+) when asked: with no authorizer, READ,
//     DELETE and DESCRIBE.
//
// Version notes:
//   - v1: throttle; v3: authorized operations; v4: member instance id
//   - v5: flexible; v6: ErrorMessage, GROUP_ID_NOT_FOUND (KIP-1043)

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.DescribeGroups, 0, 6, (*Broker).handleDescribeGroups) }

func (b *Broker) handleDescribeGroups(r *Request) Reply {
	req := r.Req.(*kmsg.DescribeGroupsRequest)
	return Reply{Wait: func() kmsg.Response { return b.groups.DescribeGroups(r.Ctx, req) }}
}
