package broker

// Metadata: v0-13
//
// Behaviour:
//   - One broker (this node) leads every partition; Replicas and ISR are
//     [node], LeaderEpoch is the partition's epoch from cluster metadata.
//   - Topics null (v1+) or empty (v0) lists all topics. v10+ carries topic
//     ids (minted at creation, never all-zero); v12+ may name a topic by id
//     alone (null name) → UNKNOWN_TOPIC_ID when it is not found.
//   - Auto-creation: an unknown, valid topic name is created with the broker
//     defaults when auto.create.topics.enable is true and the request allows
//     it (v4+ AllowAutoTopicCreation; always before v4, as in Kafka).
//     Creation is synchronous here, so the topic is returned at once rather
//     than with Kafka's transient LEADER_NOT_AVAILABLE. One request
//     creates at most auto.create.topics.max.per.request topics (and
//     max.partitions.per.request partitions); the unknown topics past
//     that get LEADER_NOT_AVAILABLE and are created by later requests.
//   - Authorization (KafkaApis.handleTopicMetadataRequest): DESCRIBE on
//     each topic. Listing all topics hides the topics the principal may not
//     describe; a named one answers TOPIC_AUTHORIZATION_FAILED without
//     partitions or id, whether it exists or not (by id, v12+: with the id
//     and a null name, ids not being secret). Auto-creation also needs
//     CREATE on the cluster or on the topic, else TOPIC_AUTHORIZATION_FAILED.
//   - Authorized operations (v8+, KIP-430) are computed only when asked
//     for: the topic's for each described topic, and the cluster's (v8-10;
//     0 without DESCRIBE on the cluster). With no authorizer configured
//     every operation is allowed.
//
// Version notes:
//   - v1: ControllerID, IsInternal, Rack; null topics means all
//   - v2: ClusterID; v3: ThrottleMillis; v4: AllowAutoTopicCreation
//   - v5: OfflineReplicas; v7: LeaderEpoch; v8: authorized operations
//   - v9: flexible; v10: topic ids; v11: cluster authorized ops removed
//   - v12: topic by id with null name; v13: top-level ErrorCode (KIP-1102)

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/metadata"
)

func init() { register(kmsg.Metadata, 0, 13, (*Broker).handleMetadata) }

func (b *Broker) handleMetadata(r *Request) Reply {
	req := r.Req.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)

	broker := kmsg.NewMetadataResponseBroker()
	broker.NodeID = b.nodeID
	broker.Host, broker.Port = b.advertised(r.Conn)
	resp.Brokers = []kmsg.MetadataResponseBroker{broker}
	cid := b.ClusterID()
	resp.ClusterID = &cid
	resp.ControllerID = b.nodeID
	resp.AuthorizedOperations = authorizedOpsNotRequested
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = b.clusterAuthorizedOperations(r)
	}

	describe := b.topicAuthz(r, kmsg.ACLOperationDescribe)
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range b.store.Topics() {
			if describe.allowed(t.Name) {
				resp.Topics = append(resp.Topics, b.metadataTopic(r, req, t))
			}
		}
		return now(resp)
	}
	autoCreate := b.static.AutoCreateTopicsEnable && (req.Version < 4 || req.AllowAutoTopicCreation)
	budget := b.newAutoCreateBudget()
	for _, rt := range req.Topics {
		var (
			t  metadata.Topic
			ok bool
		)
		switch {
		case rt.Topic == nil && rt.TopicID != [16]byte{}:
			if t, ok = b.store.TopicByID(rt.TopicID); !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				mt.AuthorizedOperations = authorizedOpsNotRequested
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			if !describe.allowed(t.Name) {
				resp.Topics = append(resp.Topics, topicAuthorizationFailed(nil, t.ID, false))
				continue
			}
		case rt.Topic != nil:
			if !describe.allowed(*rt.Topic) {
				// No id: it would tell that the topic exists.
				resp.Topics = append(resp.Topics, topicAuthorizationFailed(rt.Topic, [16]byte{}, false))
				continue
			}
			t, ok = b.store.Topic(*rt.Topic)
			if !ok && autoCreate && !b.authorizedCluster(r, kmsg.ACLOperationCreate) &&
				!b.authorized(r, kmsg.ACLOperationCreate, acl.Topic(*rt.Topic)) {
				resp.Topics = append(resp.Topics, topicAuthorizationFailed(rt.Topic, [16]byte{}, isInternalTopic(*rt.Topic)))
				continue
			}
			if !ok {
				t, ok = b.autoCreate(*rt.Topic, autoCreate, budget, &resp.Topics)
				if !ok {
					if req.IncludeTopicAuthorizedOperations {
						// Kafka fills them for its error entries too.
						last := &resp.Topics[len(resp.Topics)-1]
						last.AuthorizedOperations = b.authorizedOperations(requestContext(r), acl.Topic(*rt.Topic))
					}
					continue
				}
			}
		default:
			mt := kmsg.NewMetadataResponseTopic()
			mt.ErrorCode = kerr.InvalidRequest.Code
			mt.AuthorizedOperations = authorizedOpsNotRequested
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.metadataTopic(r, req, t))
	}
	return now(resp)
}

// topicAuthorizationFailed is Metadata's entry for a topic the principal
// may not describe or auto-create.
func topicAuthorizationFailed(name *string, id [16]byte, internal bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic, mt.TopicID, mt.IsInternal = name, id, internal
	mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
	mt.AuthorizedOperations = authorizedOpsNotRequested
	return mt
}

// autoCreate creates name with broker defaults when allowed and within the
// request's budget; otherwise (or on failure) it appends the error entry
// Kafka would return and reports false.
func (b *Broker) autoCreate(name string, allowed bool, budget *autoCreateBudget, out *[]kmsg.MetadataResponseTopic) (metadata.Topic, bool) {
	fail := func(code int16) (metadata.Topic, bool) {
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = kmsg.StringPtr(name)
		mt.ErrorCode = code
		mt.AuthorizedOperations = authorizedOpsNotRequested
		*out = append(*out, mt)
		return metadata.Topic{}, false
	}
	if err := ValidateTopicName(name); err != nil {
		return fail(kerr.InvalidTopicException.Code)
	}
	if !allowed {
		return fail(kerr.UnknownTopicOrPartition.Code)
	}
	if !budget.take(b.specPartitions(-1, 0)) {
		// Over auto.create.topics.max.per.request: Kafka's answer for
		// a topic still being created, so the client retries (caps.go).
		return fail(kerr.LeaderNotAvailable.Code)
	}
	t, err := b.CreateTopic(TopicSpec{Name: name, Partitions: -1, ReplicationFactor: -1}, false)
	if errors.Is(err, metadata.ErrTopicExists) {
		// Lost a race with a concurrent creation: that topic is fine.
		var ok bool
		if t, ok = b.store.Topic(name); ok {
			return t, true
		}
	}
	if err != nil {
		b.rlog.Warn("auto-create failed", "topic", name, "err", err)
		return fail(codeOf(err))
	}
	return t, true
}

func (b *Broker) metadataTopic(r *Request, req *kmsg.MetadataRequest, t metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = kmsg.StringPtr(t.Name)
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(t.Name)
	mt.AuthorizedOperations = authorizedOpsNotRequested
	if req.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = b.authorizedOperations(requestContext(r), acl.Topic(t.Name))
	}
	hosted, _ := b.parts.Topic(t.Name)
	for p := int32(0); p < t.Partitions; p++ {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p
		mp.Leader = b.nodeID
		if int(p) < len(t.LeaderEpochs) {
			mp.LeaderEpoch = t.LeaderEpochs[p]
		}
		mp.Replicas = []int32{b.nodeID}
		mp.ISR = []int32{b.nodeID}
		mp.OfflineReplicas = []int32{}
		if hosted != nil && int(p) < len(hosted.Partitions) && hosted.Partitions[p].Offline() != nil {
			// KIP-112: the replica (this node) is offline; produce and
			// fetch answer KAFKA_STORAGE_ERROR.
			mp.OfflineReplicas = []int32{b.nodeID}
			mp.ISR = []int32{}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
