package broker

// OffsetCommit: v1-9
//
// Behaviour (internal/group, after Kafka's OffsetMetadataManager):
//   - Partitions this broker does not have get UNKNOWN_TOPIC_OR_PARTITION
//     (KafkaApis answers them before the coordinator sees the request).
//   - Members commit with their generation and member id; a commit with
//     generation -1 and no member id (a consumer without group management,
//     or an admin client) is accepted into an Empty group, creating a
//     "simple" group if needed. Otherwise ILLEGAL_GENERATION,
//     UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID or, between JoinGroup and
//     SyncGroup, REBALANCE_IN_PROGRESS, as Kafka answers.
//   - Metadata longer than offset.metadata.max.bytes →
//     OFFSET_METADATA_TOO_LARGE for that partition.
//   - The response is sent once the commit's records are durable in
//     __consumer_offsets; a failed write answers COORDINATOR_NOT_AVAILABLE,
//     NOT_COORDINATOR or INVALID_COMMIT_OFFSET_SIZE as Kafka maps it.
//   - Authorization (KafkaApis.handleOffsetCommitRequest): READ on the
//     group, else every partition answers GROUP_AUTHORIZATION_FAILED; then
//     READ on each topic, else its partitions answer
//     TOPIC_AUTHORIZATION_FAILED and only the rest reach the coordinator
//     (none at all when every topic is refused).
//
// Version notes:
//   - v0 is not served: Kafka stored v0 commits in ZooKeeper, and KRaft
//     brokers refuse it (Kafka 4.0 removed v0-1, KIP-896).
//   - v1: per-partition commit timestamp; v2-4: RetentionTimeMillis, an
//     explicit per-commit expiry (written as OffsetCommitValue v1); v5:
//     retention removed (KIP-211); v6: committed leader epoch (KIP-320);
//     v7: group instance id (KIP-345); v8: flexible; v9: KIP-848 fields,
//     and GROUP_ID_NOT_FOUND instead of ILLEGAL_GENERATION when a member
//     commits to a group that does not exist.
//   - v10 (topic ids) is not served.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.OffsetCommit, 1, 9, (*Broker).handleOffsetCommit) }

func (b *Broker) handleOffsetCommit(r *Request) Reply {
	req := r.Req.(*kmsg.OffsetCommitRequest)
	if !b.authorized(r, kmsg.ACLOperationRead, acl.Group(req.Group)) {
		return now(offsetCommitRefused(req, req.Topics, kerr.GroupAuthorizationFailed))
	}
	readable := b.topicAuthz(r, kmsg.ACLOperationRead)
	fwd := *req
	fwd.Topics = nil
	var denied []kmsg.OffsetCommitRequestTopic
	for _, t := range req.Topics {
		if readable.allowed(t.Topic) {
			fwd.Topics = append(fwd.Topics, t)
		} else {
			denied = append(denied, t)
		}
	}
	refused := offsetCommitRefused(req, denied, kerr.TopicAuthorizationFailed)
	if len(denied) > 0 && len(fwd.Topics) == 0 {
		return now(refused)
	}
	return Reply{Wait: func() kmsg.Response {
		resp := b.groups.OffsetCommit(r.Ctx, &fwd)
		if len(denied) > 0 {
			// Kafka's OffsetCommitResponse.Builder: refused topics
			// first, then the coordinator's answer.
			resp.Topics = append(refused.Topics, resp.Topics...)
		}
		return resp
	}}
}

// offsetCommitRefused answers every partition of topics with ke.
func offsetCommitRefused(req *kmsg.OffsetCommitRequest, topics []kmsg.OffsetCommitRequestTopic, ke *kerr.Error) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, t := range topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, ke.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
