package broker

// DeleteTopics: v0-6
//
// Behaviour:
//   - Deletes each named topic (v6+: by name or by id) with its data;
//     unknown names → UNKNOWN_TOPIC_OR_PARTITION, unknown ids →
//     UNKNOWN_TOPIC_ID; delete.topic.enable=false → TOPIC_DELETION_DISABLED.
//   - Deletion is synchronous: when the response is sent the topic is gone
//     from metadata and its partition directories are removed.
//   - Authorization (KRaft's ControllerApis.deleteTopics): DELETE on the
//     cluster allows every topic; otherwise DELETE on each topic. A topic
//     named without DESCRIBE on it answers TOPIC_AUTHORIZATION_FAILED
//     whether it exists or not; with DESCRIBE but not DELETE, an unknown
//     one is UNKNOWN_TOPIC_OR_PARTITION and a known one
//     TOPIC_AUTHORIZATION_FAILED. By id: unknown ids are UNKNOWN_TOPIC_ID
//     (ids are not secret); a refused topic's name is returned only when
//     the principal may describe it.
//
// Version notes:
//   - v4: flexible; v5: ErrorMessage; v6: topics by id (KIP-516)

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DeleteTopics, 0, 6, (*Broker).handleDeleteTopics) }

func (b *Broker) handleDeleteTopics(r *Request) Reply {
	req := r.Req.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	targets := req.Topics
	if req.Version < 6 {
		targets = nil
		for _, name := range req.TopicNames {
			targets = append(targets, kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(name)})
		}
	}
	clusterDelete := b.authorizedCluster(r, kmsg.ACLOperationDelete)
	describe := b.topicAuthz(r, kmsg.ACLOperationDescribe)
	del := b.topicAuthz(r, kmsg.ACLOperationDelete)
	describable := func(name string) bool { return clusterDelete || describe.allowed(name) }
	deletable := func(name string) bool { return clusterDelete || del.allowed(name) }
	for _, rt := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name := ""
		switch {
		case rt.Topic != nil:
			name = *rt.Topic
		case rt.TopicID != [16]byte{}:
			t, ok := b.store.TopicByID(rt.TopicID)
			if !ok {
				st.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
			name = t.Name
			if !deletable(name) {
				if describable(name) {
					st.Topic = kmsg.StringPtr(name)
				}
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
			st.Topic = kmsg.StringPtr(name)
		default:
			st.ErrorCode = kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if rt.Topic != nil {
			_, exists := b.store.Topic(name)
			if !describable(name) || (exists && !deletable(name)) {
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
		}
		t, err := b.DeleteTopic(name)
		if err != nil {
			st.ErrorCode = codeOf(err)
			st.ErrorMessage = msgOf(err)
		} else {
			st.TopicID = t.ID
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
