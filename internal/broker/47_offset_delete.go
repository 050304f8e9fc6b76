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
//   - Authorization (KafkaApis.handleOffsetDeleteRequest): DELETE on the
//     group, else GROUP_AUTHORIZATION_FAILED for the request; READ on each
//     topic, else its partitions answer TOPIC_AUTHORIZATION_FAILED.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.OffsetDelete, 0, 0, (*Broker).handleOffsetDelete) }

func (b *Broker) handleOffsetDelete(r *Request) Reply {
	req := r.Req.(*kmsg.OffsetDeleteRequest)
	if !b.authorized(r, kmsg.ACLOperationDelete, acl.Group(req.Group)) {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return now(resp)
	}
	readable := b.topicAuthz(r, kmsg.ACLOperationRead)
	fwd := *req
	fwd.Topics = nil
	refused := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	for _, t := range req.Topics {
		if readable.allowed(t.Topic) {
			fwd.Topics = append(fwd.Topics, t)
			continue
		}
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		refused.Topics = append(refused.Topics, rt)
	}
	return Reply{Wait: func() kmsg.Response {
		// Kafka asks the coordinator even when every topic is refused:
		// the group's own errors (GROUP_ID_NOT_FOUND, ...) still apply.
		resp := b.groups.OffsetDelete(r.Ctx, &fwd)
		if resp.ErrorCode == 0 && len(refused.Topics) > 0 {
			resp.Topics = append(refused.Topics, resp.Topics...)
		}
		return resp
	}}
}
