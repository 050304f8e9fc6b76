package broker

// OffsetForLeaderEpoch: v2-4
//
// Behaviour (KIP-101, KIP-279, KIP-320):
//   - For each partition, the end offset of the requested LeaderEpoch: the
//     start offset of the next larger epoch in the leader-epoch cache, or
//     the log end offset for the latest epoch. When the requested epoch is
//     unknown, the largest smaller epoch and its end offset are returned;
//     when it is below every epoch, UNDEFINED (-1, -1).
//   - CurrentLeaderEpoch fencing as in Fetch: older → FENCED_LEADER_EPOCH,
//     newer → UNKNOWN_LEADER_EPOCH.
//   - v3+ consumers send ReplicaID -1 (Java's validatePositions); followers
//     (ReplicaID ≥ 0) are answered the same way, since the computation does
//     not depend on who asks.
//   - Authorization (KIP-320, KafkaApis.handleOffsetForLeaderEpochRequest):
//     CLUSTER_ACTION on the cluster (the inter-broker use) allows every
//     topic; otherwise DESCRIBE on each topic, else TOPIC_AUTHORIZATION_FAILED
//     for each of its partitions.
//
// Version notes:
//   - v2: CurrentLeaderEpoch (the 4.0 minimum); v3: ReplicaID; v4: flexible

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.OffsetForLeaderEpoch, 2, 4, (*Broker).handleOffsetForLeaderEpoch) }

func (b *Broker) handleOffsetForLeaderEpoch(r *Request) Reply {
	req := r.Req.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	cluster := b.authorizedCluster(r, kmsg.ACLOperationClusterAction)
	describe := b.topicAuthz(r, kmsg.ACLOperationDescribe)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		allowed := cluster || describe.allowed(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			p, err := b.parts.Get(rt.Topic, rp.Partition)
			switch {
			case !allowed:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case err != nil:
				sp.ErrorCode = codeOf(err)
			case p.Restoring():
				// Being truncated (truncate-and-restore): the answer
				// comes with the new epoch (01_fetch.go).
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < p.LeaderEpoch():
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch > p.LeaderEpoch():
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				sp.LeaderEpoch, sp.EndOffset = p.Log.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
