package broker

// DeleteGroups: v0-2
//
// Behaviour (internal/group):
//   - Only Empty groups can be deleted (NON_EMPTY_GROUP otherwise;
//     GROUP_ID_NOT_FOUND for groups that do not exist). The group's
//     offsets and the group itself get tombstones in __consumer_offsets,
//     and the answer waits until they are durable; meanwhile the group is
//     Dead, so joins and commits are told to retry.
//
// Version notes:
//   - v1: throttle; v2: flexible
//   - v3 (ErrorMessage) is not served.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.DeleteGroups, 0, 2, (*Broker).handleDeleteGroups) }

func (b *Broker) handleDeleteGroups(r *Request) Reply {
	req := r.Req.(*kmsg.DeleteGroupsRequest)
	return Reply{Wait: func() kmsg.Response { return b.groups.DeleteGroups(r.Ctx, req) }}
}
