package broker

// ListOffsets: v1-10
//
// Behaviour:
//   - Timestamp -1 (latest): the HighWatermark, or the LastStableOffset for
//     read_committed (v2+ IsolationLevel); -2 (earliest): LogStartOffset;
//     -3 (max timestamp, v7+, KIP-734): the offset of the record with the
//     largest timestamp; -4 (earliest local, v8+, KIP-405): LogStartOffset,
//     as all data is local; -5 (latest tiered, v9+, KIP-1005): no offset
//     (-1), which is what Kafka answers when tiered storage is disabled.
//   - A timestamp ≥ 0 finds the first record whose timestamp is at least
//     it; none → offset -1, timestamp -1.
//   - LeaderEpoch (v4+) is the epoch of the returned offset's batch, or the
//     latest epoch for "latest" (Kafka UnifiedLog.fetchOffsetByTimestamp).
//   - CurrentLeaderEpoch (v4+) is checked as in Fetch.
//   - Authorization: DESCRIBE on each topic, else TOPIC_AUTHORIZATION_FAILED
//     for each of its partitions (KafkaApis.handleListOffsetRequest).
//   - The v0 OldStyleOffsets form is not served (v0 was removed in 4.0).
//
// Version notes:
//   - v2: IsolationLevel; v4: leader epochs; v6: flexible; v7: -3
//   - v8: -4; v9: -5; v10: TimeoutMillis (for remote reads; unused here)

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListOffsets, 1, 10, (*Broker).handleListOffsets) }

func (b *Broker) handleListOffsets(r *Request) Reply {
	req := r.Req.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	describe := b.topicAuthz(r, kmsg.ACLOperationDescribe)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		allowed := describe.allowed(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, -1
			if !allowed {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if err := b.listOffset(req, rt.Topic, rp, &sp); err != nil {
				sp.ErrorCode = codeOf(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}

func (b *Broker) listOffset(req *kmsg.ListOffsetsRequest, topic string, rp kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	p, err := b.parts.Get(topic, rp.Partition)
	if err != nil {
		return err
	}
	if p.Restoring() {
		return kerr.NotLeaderForPartition // as Fetch (01_fetch.go)
	}
	if req.Version >= 4 && rp.CurrentLeaderEpoch >= 0 {
		if e := p.LeaderEpoch(); rp.CurrentLeaderEpoch < e {
			return kerr.FencedLeaderEpoch
		} else if rp.CurrentLeaderEpoch > e {
			return kerr.UnknownLeaderEpoch
		}
	}
	l := p.Log
	switch ts := rp.Timestamp; {
	case ts == -1:
		sp.Offset = l.HighWatermark()
		if req.IsolationLevel == 1 {
			sp.Offset = l.LastStableOffset()
		}
		if e, ok := l.LatestEpoch(); ok {
			sp.LeaderEpoch = e
		}
	case ts == -2 || (ts == -4 && req.Version >= 8):
		sp.Offset = l.LogStartOffset()
		sp.LeaderEpoch = l.EpochForOffset(sp.Offset)
	case ts == -3 && req.Version >= 7:
		sp.Timestamp, sp.Offset, sp.LeaderEpoch = l.MaxTimestamp()
	case ts == -5 && req.Version >= 9:
		// No tiered storage: no offset.
	case ts >= 0:
		off, t, epoch, ok := l.OffsetForTimestamp(ts)
		if ok {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, t, epoch
		}
	default:
		return kerr.InvalidRequest
	}
	return nil
}
