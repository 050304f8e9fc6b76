package broker

// OffsetDelete: v0
//
// Behaviour (internal/group, KIP-496):
//   - Deletes committed offsets of a group. A live consumer group keeps the
//     offsets of topics its members subscribe to (decoded from their
//     consumer-protocol metadata): GROUP_SUBSCRIBED_TO_TOPIC. A live group
//     of any other protocol type must be empty (NON_EMPTY_GROUP).
//   - Partitions this broker does not have → UNKNOWN_TOPIC_OR_PARTITION;
//     a group that does not exist → GROUP_ID_NOT_FOUND.
//   - The tombstones are durable before the response.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.OffsetDelete, 0, 0, (*Broker).handleOffsetDelete) }

func (b *Broker) handleOffsetDelete(r *Request) Reply {
	req := r.Req.(*kmsg.OffsetDeleteRequest)
	return Reply{Wait: func() kmsg.Response { return b.groups.OffsetDelete(r.Ctx, req) }}
}
