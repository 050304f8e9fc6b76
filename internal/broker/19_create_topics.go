package broker

// CreateTopics: v0-7
//
// Behaviour:
//   - Names are validated as Kafka's Topic.validate does, and a name that
//     collides with an existing one once '.' and '_' are unified is refused
//     (INVALID_TOPIC_EXCEPTION), as Kafka does.
//   - NumPartitions/ReplicationFactor -1 (v4+) take num.partitions and
//     default.replication.factor. This is a single-node cluster: a
//     replication factor above 1 is INVALID_REPLICATION_FACTOR, and a manual
//     assignment must name only this node.
//   - Configs are validated against the topic config definitions: unknown
//     keys and bad values are INVALID_CONFIG with a message; ValidateOnly
//     (v1+) checks everything and creates nothing.
//   - A topic named twice in one request fails with INVALID_REQUEST for
//     every occurrence (Kafka's duplicate check).
//   - A request asking for more than max.partitions.per.request partitions
//     in all fails every topic with POLICY_VIOLATION, ValidateOnly too, as
//     Kafka's controller does over its fixed 10,000 (caps.go).
//   - Creation is synchronous; TimeoutMillis is not needed.
//   - v5+ responses describe the topic's configs, partitions and replication
//     factor; v7+ return its id.
//   - Authorization (KRaft's ControllerApis.createTopics): CREATE on the
//     cluster, or else on each topic, which is otherwise refused with
//     TOPIC_AUTHORIZATION_FAILED "Authorization failed." (after the
//     duplicate check; refused topics do not count towards
//     max.partitions.per.request). A created topic's configs, partition
//     count and replication factor are returned only with DESCRIBE_CONFIGS
//     on it; otherwise the (v5+ tagged) TopicConfigErrorCode is
//     TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: ValidateOnly, ErrorMessage; v4: -1 defaults (KIP-464)
//   - v5: flexible, configs in the response; v7: topic ids

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.CreateTopics, 0, 7, (*Broker).handleCreateTopics) }

func (b *Broker) handleCreateTopics(r *Request) Reply {
	req := r.Req.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	clusterCreate := b.authorizedCluster(r, kmsg.ACLOperationCreate)
	create := b.topicAuthz(r, kmsg.ACLOperationCreate)
	mayCreate := func(name string) bool { return clusterCreate || create.allowed(name) }
	describeConfigs := b.topicAuthz(r, kmsg.ACLOperationDescribeConfigs)
	counted := make(map[string]int, len(seen))
	for name, n := range seen {
		if mayCreate(name) {
			counted[name] = n
		}
	}
	// max.partitions.per.request fails every topic, validateOnly too
	// (caps.go).
	capErr := b.checkPartitionsPerRequest(b.createTopicsPartitions(req, counted))
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(err error) {
			st.ErrorCode = codeOf(err)
			st.ErrorMessage = msgOf(err)
		}
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr("topic " + rt.Topic + " is named more than once in the request")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if !mayCreate(rt.Topic) {
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			st.ErrorMessage = kmsg.StringPtr("Authorization failed.")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if capErr != nil {
			fail(capErr)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		spec := TopicSpec{Name: rt.Topic, Partitions: rt.NumPartitions, ReplicationFactor: rt.ReplicationFactor}
		if len(rt.ReplicaAssignment) > 0 {
			spec.Assignment = make([][]int32, len(rt.ReplicaAssignment))
			ok := true
			for _, a := range rt.ReplicaAssignment {
				if a.Partition < 0 || int(a.Partition) >= len(rt.ReplicaAssignment) || spec.Assignment[a.Partition] != nil {
					ok = false
					break
				}
				spec.Assignment[a.Partition] = a.Replicas
			}
			if !ok {
				fail(ErrInvalidReplicaAssignment)
				resp.Topics = append(resp.Topics, st)
				continue
			}
			spec.Partitions = -1
			spec.ReplicationFactor = -1
			if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
				// Kafka: "Both numPartitions or replicationFactor and
				// replicasAssignments were set. Both cannot be used at
				// the same time."
				fail(ErrInvalidRequest)
				resp.Topics = append(resp.Topics, st)
				continue
			}
		}
		if len(rt.Configs) > 0 {
			spec.Configs = make(map[string]string, len(rt.Configs))
			for _, c := range rt.Configs {
				if c.Value == nil {
					continue // null means "use the default", as in Kafka
				}
				spec.Configs[c.Name] = *c.Value
			}
		}
		t, err := b.CreateTopic(spec, req.ValidateOnly)
		if err != nil {
			fail(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.ID
		if !describeConfigs.allowed(rt.Topic) {
			st.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.NumPartitions, st.ReplicationFactor = t.Partitions, t.ReplicationFactor
		if req.Version >= 5 {
			for _, e := range b.describeTopicConfigs(t.Configs, nil, false) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.ReadOnly, c.IsSensitive = e.Name, e.ReadOnly, e.Sensitive
				if !e.IsNull {
					c.Value = kmsg.StringPtr(e.Value)
				}
				c.Source = int8(e.Source)
				st.Configs = append(st.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
