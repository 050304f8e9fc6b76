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
//
// Version notes:
//   - v0 is not served (ZooKeeper-stored offsets; KIP-896).
//   - v2: null topics means all, top-level ErrorCode; v3: throttle;
//     v5: leader epoch; v6: flexible; v7: RequireStable; v8: groups;
//     v9: member id/epoch (KIP-848), ignored for classic groups.
//   - v10 (topic ids) is not served.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(kmsg.OffsetFetch, 1, 9, (*Broker).handleOffsetFetch) }

func (b *Broker) handleOffsetFetch(r *Request) Reply {
	req := r.Req.(*kmsg.OffsetFetchRequest)
	return Reply{Wait: func() kmsg.Response { return b.groups.OffsetFetch(r.Ctx, req) }}
}
