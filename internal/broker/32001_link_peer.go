package broker

// LinkPeer (Tandem-private, key 32001): v0
//
// Behaviour (docs/design/links-bidirectional.md §2.2, §2.4):
//   - One half of a paired cluster link asks the other about its link of
//     the same name: its cluster_link_id, mode, state and mirror topics.
//     The link manager answers (LinkAPI.LinkPeer); a link that does not
//     exist is its answer (Found false, or INVALID_REQUEST "cluster link
//     'L' does not exist"), not this handler's.
//   - Authorization: DESCRIBE on the cluster, else
//     CLUSTER_AUTHORIZATION_FAILED in the top-level error code, checked
//     before anything else so a refused principal learns nothing.
//   - Without a link manager (cluster.link.enable=false): INVALID_REQUEST,
//     "cluster linking is disabled".
//   - Listed in ApiVersions only to a Tandem link's client
//     (linkapi_dispatch.go); refused before authentication.
//   - The manager is asked in the reply's Wait, off the request goroutine.
//
// Version notes:
//   - v0: flexible (request header v2, tagged fields)

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

func init() { registerPrivate(wire.LinkPeerKey, 0, 0, (*Broker).handleLinkPeer) }

func (b *Broker) handleLinkPeer(r *Request) Reply {
	req := r.Req.(*wire.LinkPeerRequest)
	api, code, msg := b.linkAPIFor(r, kmsg.ACLOperationDescribe)
	if api == nil {
		return now(&wire.LinkPeerResponse{Version: req.Version, ErrorCode: code, ErrorMessage: msg})
	}
	return Reply{Wait: func() kmsg.Response {
		resp := api.LinkPeer(r.Ctx, req)
		if resp == nil {
			resp = &wire.LinkPeerResponse{}
			resp.ErrorCode, resp.ErrorMessage = noLinkAnswer(req.LinkName)
		}
		resp.Version = req.Version
		return resp
	}}
}
