package broker

// OffsetFetch: v1-9
//
// Behaviour (internal/group):
//   - Returns the committed offset, leader epoch and metadata of each
//     requested partition, -1 where there is none; a group that does not
//     exist simply has none (no error). A null topic list (v2+) returns
//     every committed offset of the group.
//   - Reads committed state only: a commit whose records are not yet
//     durable is not visible. With RequireStable (v7+), such a partition
//     answers UNSTABLE_OFFSET_COMMIT, which clients retry (KIP-447).
//   - v8+ asks for several groups at once; each is answered by the shard
//     that owns it.
//   - Authorization (KafkaApis.handleOffsetFetchRequest): DESCRIBE on each
//     group, else GROUP_AUTHORIZATION_FAILED for that group (the
//     response's ErrorCode before v8, on every partition for v1, which has
//     none); DESCRIBE on each named topic, else its partitions answer
//     TOPIC_AUTHORIZATION_FAILED with offset -1, after the allowed ones.
//     When all of a group's offsets are asked for, the topics the
//     principal may not describe are left out.
//
// Version notes:
//   - v0 is not served (ZooKeeper-stored offsets; KIP-896).
//   - v2: null topics means all, top-level ErrorCode; v3: throttle;
//     v5: leader epoch; v6: flexible; v7: RequireStable; v8: groups;
//     v9: member id/epoch (KIP-848), ignored for classic groups.
//   - v10 (topic ids) is not served.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
)

func init() { register(kmsg.OffsetFetch, 1, 9, (*Broker).handleOffsetFetch) }

func (b *Broker) handleOffsetFetch(r *Request) Reply {
	req := r.Req.(*kmsg.OffsetFetchRequest)
	describe := b.topicAuthz(r, kmsg.ACLOperationDescribe)
	if req.Version < 8 {
		return b.offsetFetchOne(r, req, describe)
	}
	fwd := *req
	var allowed []bool
	fwd.Groups, allowed = splitAllowed(req.Groups, func(g kmsg.OffsetFetchRequestGroup) bool {
		return b.authorized(r, kmsg.ACLOperationDescribe, acl.Group(g.Group))
	})
	// The refused topics of each allowed group, by request index.
	denied := make([][]kmsg.OffsetFetchRequestGroupTopic, len(req.Groups))
	j := 0
	for i, g := range req.Groups {
		if !allowed[i] {
			continue
		}
		if g.Topics != nil {
			// Never nil: a nil list asks for every topic.
			kept := make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(g.Topics))
			for _, t := range g.Topics {
				if describe.allowed(t.Topic) {
					kept = append(kept, t)
				} else {
					denied[i] = append(denied[i], t)
				}
			}
			fwd.Groups[j].Topics = kept
		}
		j++
	}
	refused := func(i int) kmsg.OffsetFetchResponseGroup {
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group, rg.ErrorCode = req.Groups[i].Group, kerr.GroupAuthorizationFailed.Code
		return rg
	}
	filter := func(i int, rg kmsg.OffsetFetchResponseGroup) kmsg.OffsetFetchResponseGroup {
		if rg.ErrorCode != 0 {
			return rg
		}
		if req.Groups[i].Topics == nil {
			rg.Topics = describableOffsets(rg.Topics, describe)
		}
		for _, t := range denied[i] {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.Metadata = p, -1, kmsg.StringPtr("")
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			rg.Topics = append(rg.Topics, rt)
		}
		return rg
	}
	return waitIf(len(fwd.Groups) > 0, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		var answered []kmsg.OffsetFetchResponseGroup
		if len(fwd.Groups) > 0 {
			answered = b.groups.OffsetFetch(r.Ctx, &fwd).Groups
		}
		resp.Groups = mergeAllowed(allowed, answered, refused, filter)
		return resp
	})
}

// offsetFetchOne is OffsetFetch before v8: one group, its error at the top
// level (v2+) or on every requested partition (v1).
func (b *Broker) offsetFetchOne(r *Request, req *kmsg.OffsetFetchRequest, describe *topicAuthz) Reply {
	if !b.authorized(r, kmsg.ACLOperationDescribe, acl.Group(req.Group)) {
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		if req.Version >= 2 {
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		} else {
			resp.Topics = offsetFetchRefused(req.Topics, kerr.GroupAuthorizationFailed)
		}
		return now(resp)
	}
	fwd := *req
	var denied []kmsg.OffsetFetchRequestTopic
	if req.Topics != nil {
		fwd.Topics = make([]kmsg.OffsetFetchRequestTopic, 0, len(req.Topics))
		for _, t := range req.Topics {
			if describe.allowed(t.Topic) {
				fwd.Topics = append(fwd.Topics, t)
			} else {
				denied = append(denied, t)
			}
		}
	}
	return Reply{Wait: func() kmsg.Response {
		resp := b.groups.OffsetFetch(r.Ctx, &fwd)
		if resp.ErrorCode != 0 {
			return resp
		}
		if req.Topics == nil {
			kept := resp.Topics[:0]
			for _, t := range resp.Topics {
				if describe.allowed(t.Topic) {
					kept = append(kept, t)
				}
			}
			resp.Topics = kept
		}
		resp.Topics = append(resp.Topics, offsetFetchRefused(denied, kerr.TopicAuthorizationFailed)...)
		return resp
	}}
}

// offsetFetchRefused answers every partition of topics with ke.
func offsetFetchRefused(topics []kmsg.OffsetFetchRequestTopic, ke *kerr.Error) []kmsg.OffsetFetchResponseTopic {
	var out []kmsg.OffsetFetchResponseTopic
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata, rp.ErrorCode = p, -1, kmsg.StringPtr(""), ke.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// describableOffsets keeps the topics the principal may describe.
func describableOffsets(topics []kmsg.OffsetFetchResponseGroupTopic, describe *topicAuthz) []kmsg.OffsetFetchResponseGroupTopic {
	kept := topics[:0]
	for _, t := range topics {
		if describe.allowed(t.Topic) {
			kept = append(kept, t)
		}
	}
	return kept
}
