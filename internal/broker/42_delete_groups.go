package broker

// DeleteGroups: v0-2
//
// Behaviour (internal/group):
//   - Only Empty groups can be deleted (NON_EMPTY_GROUP otherwise;
//     GROUP_ID_NOT_FOUND for groups that do not exist). The group's
//     offsets and the group itself get tombstones in __consumer_offsets,
//     and the answer waits until they are durable; meanwhile the group is
//     Dead, so joins and commits are told to retry.
//   - Authorization (KafkaApis.handleDeleteGroupsRequest): DELETE on each
//     group, else that group answers GROUP_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: throttle; v2: flexible
//   - v3 (ErrorMessage) is not served.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.DeleteGroups, 0, 2, (*Broker).handleDeleteGroups) }

func (b *Broker) handleDeleteGroups(r *Request) Reply {
	req := r.Req.(*kmsg.DeleteGroupsRequest)
	fwd := *req
	var allowed []bool
	fwd.Groups, allowed = splitAllowed(req.Groups, func(g string) bool {
		return b.authorized(r, kmsg.ACLOperationDelete, acl.Group(g))
	})
	refused := func(i int) kmsg.DeleteGroupsResponseGroup {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = req.Groups[i], kerr.GroupAuthorizationFailed.Code
		return rg
	}
	return waitIf(len(fwd.Groups) > 0, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
		var deleted []kmsg.DeleteGroupsResponseGroup
		if len(fwd.Groups) > 0 {
			deleted = b.groups.DeleteGroups(r.Ctx, &fwd).Groups
		}
		resp.Groups = mergeAllowed(allowed, deleted, refused, nil)
		return resp
	})
}
