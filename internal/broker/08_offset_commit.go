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

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.OffsetCommit, 1, 9, (*Broker).handleOffsetCommit) }

func (b *Broker) handleOffsetCommit(r *Request) Reply {
	req := r.Req.(*kmsg.OffsetCommitRequest)
	return Reply{Wait: func() kmsg.Response { return b.groups.OffsetCommit(r.Ctx, req) }}
}
