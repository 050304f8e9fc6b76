package broker

// DeleteRecords: v0-2
//
// Behaviour:
//   - Moves each partition's LogStartOffset up to Offset (-1 means the
//     HighWatermark), persistently, and deletes whole segments below it;
//     the LowWatermark returned is the new LogStartOffset. An offset above
//     the HighWatermark is OFFSET_OUT_OF_RANGE; an offset below the current
//     LogStartOffset changes nothing (Kafka never moves it backwards).
//   - A mirror topic its link still owns refuses with INVALID_REQUEST
//     ("Cannot delete records of mirror topic 'X'"; the response has no
//     message field, so the message is only logged): its log start follows
//     the source. A STOPPED mirror is an ordinary topic and accepts.
//   - Authorization (KafkaApis.handleDeleteRecordsRequest): DELETE on each
//     topic, else TOPIC_AUTHORIZATION_FAILED for each of its partitions,
//     before the topic's existence is checked.
//
// Version notes:
//   - v2: flexible

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DeleteRecords, 0, 2, (*Broker).handleDeleteRecords) }

func (b *Broker) handleDeleteRecords(r *Request) Reply {
	req := r.Req.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	del := b.topicAuthz(r, kmsg.ACLOperationDelete)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		if !del.allowed(rt.Topic) {
			for _, rp := range rt.Partitions {
				sp := kmsg.NewDeleteRecordsResponseTopicPartition()
				sp.Partition, sp.LowWatermark = rp.Partition, -1
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var refused error
		if t, ok := b.store.Topic(rt.Topic); ok && t.ReadOnly() {
			refused = errMirrorDeleteRecords(rt.Topic)
			b.rlog.Info("DeleteRecords refused", "topic", rt.Topic, "err", refused)
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p, err := b.parts.Get(rt.Topic, rp.Partition)
			if err == nil && refused != nil {
				err = refused
			}
			if err == nil {
				off := rp.Offset
				if off == -1 {
					off = p.Log.HighWatermark()
				}
				sp.LowWatermark, err = p.Log.DeleteRecordsBefore(off)
			}
			if err != nil {
				sp.ErrorCode = codeOf(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}

// errMirrorDeleteRecords is DeleteRecords' refusal on a read-only mirror.
func errMirrorDeleteRecords(name string) error {
	return &kafkaError{ke: kerr.InvalidRequest, err: fmt.Errorf("Cannot delete records of mirror topic '%s'", name)}
}
