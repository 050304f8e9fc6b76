package broker

// CreatePartitions: v0-3
//
// Behaviour:
//   - Grows a topic to Count partitions; Count must exceed the current
//     count (INVALID_PARTITIONS). Assignments, when given, must list one
//     per new partition and name only this node.
//   - ValidateOnly checks without changing anything.
//   - A request adding more than max.partitions.per.request partitions in
//     all fails every topic with POLICY_VIOLATION, ValidateOnly too
//     (caps.go; Kafka bounds only CreateTopics this way).
//   - A topic named twice in one request fails with INVALID_REQUEST.
//   - A mirror topic its link still owns refuses with INVALID_REQUEST
//     ("Cannot add partitions to mirror topic 'X': its partition count
//     follows the source topic"), ValidateOnly too; a STOPPED mirror is
//     an ordinary topic and accepts.
//   - Authorization (KRaft's ControllerApis.createPartitions): ALTER on
//     each topic, else TOPIC_AUTHORIZATION_FAILED (after the duplicate
//     check; refused topics do not count towards the cap).
//
// Version notes:
//   - v2: flexible; v3: same as v2 (KIP-896 baseline)

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.CreatePartitions, 0, 3, (*Broker).handleCreatePartitions) }

func (b *Broker) handleCreatePartitions(r *Request) Reply {
	req := r.Req.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	alter := b.topicAuthz(r, kmsg.ACLOperationAlter)
	counted := make(map[string]int, len(seen))
	for name, n := range seen {
		if alter.allowed(name) {
			counted[name] = n
		}
	}
	capErr := b.checkPartitionsPerRequest(b.createPartitionsAdded(req, counted))
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr("topic " + rt.Topic + " is named more than once in the request")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if !alter.allowed(rt.Topic) {
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if capErr != nil {
			st.ErrorCode = codeOf(capErr)
			st.ErrorMessage = msgOf(capErr)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var assignment [][]int32
		if rt.Assignment != nil {
			assignment = make([][]int32, len(rt.Assignment))
			for i, a := range rt.Assignment {
				assignment[i] = a.Replicas
			}
		}
		if err := b.CreatePartitions(rt.Topic, rt.Count, assignment, req.ValidateOnly); err != nil {
			st.ErrorCode = codeOf(err)
			st.ErrorMessage = msgOf(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
