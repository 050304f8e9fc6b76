package broker

// LinkMirrorOp (Tandem-private, key 32003): v0
//
// Behaviour (docs/design/links-bidirectional.md §2.4, §5.2, §5.3):
//   - The peer half of a paired link drives this cluster's topics in a
//     failback: describe stopped mirrors, fence, unfence, restore as a
//     mirror of the asker. The link manager answers
//     (LinkAPI.LinkMirrorOp), with per-topic error codes; "no such link"
//     is its top-level INVALID_REQUEST.
//   - Authorization: ALTER on the cluster (Confluent requires cluster
//     ALTER to drive links), else CLUSTER_AUTHORIZATION_FAILED in the
//     top-level error code and no topics, checked before anything else.
//   - Without a link manager (cluster.link.enable=false): INVALID_REQUEST,
//     "cluster linking is disabled".
//   - Listed in ApiVersions only to a Tandem link's client
//     (linkapi_dispatch.go); refused before authentication.
//   - The manager is asked in the reply's Wait (fencing and restoring
//     write metadata and wait for it), off the request goroutine.
//
// Version notes:
//   - v0: flexible (request header v2, tagged fields)

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

func init() { registerPrivate(wire.LinkMirrorOpKey, 0, 0, (*Broker).handleLinkMirrorOp) }

func (b *Broker) handleLinkMirrorOp(r *Request) Reply {
	req := r.Req.(*wire.LinkMirrorOpRequest)
	api, code, msg := b.linkAPIFor(r, kmsg.ACLOperationAlter)
	if api == nil {
		return now(&wire.LinkMirrorOpResponse{Version: req.Version, ErrorCode: code, ErrorMessage: msg})
	}
	return Reply{Wait: func() kmsg.Response {
		resp := api.LinkMirrorOp(r.Ctx, req)
		if resp == nil {
			resp = &wire.LinkMirrorOpResponse{}
			resp.ErrorCode, resp.ErrorMessage = noLinkAnswer(req.LinkName)
		}
		resp.Version = req.Version
		return resp
	}}
}
