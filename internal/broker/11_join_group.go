package broker

// JoinGroup: v0-9
//
// Behaviour (internal/group, after Kafka's ClassicGroup and
// GroupMetadataManager):
//   - Classic group protocol: Empty → PreparingRebalance →
//     CompletingRebalance → Stable. The response is parked until the join
//     phase completes: every member has rejoined, or the rebalance timeout
//     (the largest of the members') ran out. The first rebalance of an
//     Empty group waits group.initial.rebalance.delay.ms, extended by each
//     new member up to the rebalance timeout.
//   - The protocol type must match the group's and one protocol must be
//     supported by every member, else INCONSISTENT_GROUP_PROTOCOL; the
//     protocol is chosen by the members' preference votes.
//   - v4+ (KIP-394): a new dynamic member first gets MEMBER_ID_REQUIRED
//     with its id, and must join again with it within the session timeout.
//   - Static membership (v5+, KIP-345): a known group.instance.id rejoining
//     with an unknown member id replaces the old member id, which is fenced
//     (FENCED_INSTANCE_ID); in a Stable group whose selected protocol does
//     not change, it keeps its assignment without a rebalance once the new
//     id is durable.
//   - Session timeout outside group.min/max.session.timeout.ms →
//     INVALID_SESSION_TIMEOUT; group.max.size → GROUP_MAX_SIZE_REACHED.
//   - Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED
//     before the coordinator sees the request (KafkaApis).
//   - The member id is "<client id or instance id>-<uuid>", and the client
//     id and address are kept for DescribeGroups, as Kafka does.
//
// Version notes:
//   - v0: no rebalance timeout (the session timeout is used)
//   - v1: RebalanceTimeoutMillis; v2: throttle; v4: MEMBER_ID_REQUIRED
//   - v5: InstanceID (KIP-345); v6: flexible
//   - v7: ProtocolType in the response, nullable Protocol (KIP-559)
//   - v8: Reason (KIP-800); v9: SkipAssignment for a static leader that
//     rejoins without a rebalance (KIP-814)

import (
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/group"
)

func init() { register(kmsg.JoinGroup, 0, 9, (*Broker).handleJoinGroup) }

func (b *Broker) handleJoinGroup(r *Request) Reply {
	req := r.Req.(*kmsg.JoinGroupRequest)
	if !b.authorized(r, kmsg.ACLOperationRead, acl.Group(req.Group)) {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return now(resp)
	}
	ctx := group.WithClientInfo(r.Ctx, group.ClientInfo{ID: r.Header.ClientID, Host: clientHost(r.Conn)})
	return Reply{Wait: func() kmsg.Response { return b.groups.JoinGroup(ctx, req) }}
}

// clientHost is the client's address as Kafka reports it in DescribeGroups
// (Java's InetAddress.toString of an address without a resolved name).
func clientHost(c *Conn) string {
	if c == nil || c.Remote == nil {
		return ""
	}
	host := c.Remote.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "/" + host
}
