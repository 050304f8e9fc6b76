package broker

// DescribeGroups: v0-6
//
// Behaviour (internal/group):
//   - State, protocol type and members (id, instance id, client id and
//     host) of each group. Member metadata and assignments, and the
//     protocol, are given only in Stable, as Kafka does.
//   - A group that does not exist is reported in state Dead with no error
//     before v6, and with GROUP_ID_NOT_FOUND from v6 (KIP-1043).
//   - Authorization (KafkaApis.handleDescribeGroupsRequest): DESCRIBE on
//     each group, else that group answers GROUP_AUTHORIZATION_FAILED
//     (with Kafka's message from v6) and is not described.
//   - Authorized operations (v3+, KIP-430) when asked, for each group
//     described without error: the group operations (READ, DESCRIBE,
//     DELETE) the principal may perform; all three with no authorizer.
//
// Version notes:
//   - v1: throttle; v3: authorized operations; v4: member instance id
//   - v5: flexible; v6: ErrorMessage, GROUP_ID_NOT_FOUND (KIP-1043)

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.DescribeGroups, 0, 6, (*Broker).handleDescribeGroups) }

func (b *Broker) handleDescribeGroups(r *Request) Reply {
	req := r.Req.(*kmsg.DescribeGroupsRequest)
	fwd := *req
	var allowed []bool
	fwd.Groups, allowed = splitAllowed(req.Groups, func(g string) bool {
		return b.authorized(r, kmsg.ACLOperationDescribe, acl.Group(g))
	})
	includeOps := req.Version >= 3 && req.IncludeAuthorizedOperations
	ctx := requestContext(r) // for the Wait, off the request goroutine
	// Kafka's DescribeGroupsResponse.groupError.
	refused := func(i int) kmsg.DescribeGroupsResponseGroup {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.ErrorCode = req.Groups[i], kerr.GroupAuthorizationFailed.Code
		if req.Version >= 6 {
			dg.ErrorMessage = kmsg.StringPtr(msgGroupAuthorizationFailed)
		}
		dg.AuthorizedOperations = authorizedOpsNotRequested
		return dg
	}
	withOps := func(_ int, dg kmsg.DescribeGroupsResponseGroup) kmsg.DescribeGroupsResponseGroup {
		if includeOps && dg.ErrorCode == 0 {
			dg.AuthorizedOperations = b.authorizedOperations(ctx, acl.Group(dg.Group))
		}
		return dg
	}
	return waitIf(len(fwd.Groups) > 0, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		var described []kmsg.DescribeGroupsResponseGroup
		if len(fwd.Groups) > 0 {
			described = b.groups.DescribeGroups(r.Ctx, &fwd).Groups
		}
		resp.Groups = mergeAllowed(allowed, described, refused, withOps)
		return resp
	})
}
