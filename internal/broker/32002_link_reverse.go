package broker

// LinkReverse (Tandem-private, key 32002): v0
//
// Behaviour (docs/design/links-bidirectional.md §3.2):
//   - The SOURCE half of a source-initiated link, having dialed this
//     cluster's listener and authenticated, offers the connection as a
//     control session (role CONTROL) or as the data connection of a
//     pending dial (role DATA). The link manager answers
//     (LinkAPI.LinkReverse); when it takes the connection, the reply
//     carries Take: the server writes this response, stops reading and
//     serving the connection without closing it, and hands it over
//     (with any bytes it had read ahead). From then on it is not a Kafka
//     client connection of this broker.
//   - Authorization: ALTER on the cluster, else
//     CLUSTER_AUTHORIZATION_FAILED in the top-level error code, checked
//     before anything else; the connection stays an ordinary one.
//   - Without a link manager (cluster.link.enable=false): INVALID_REQUEST,
//     "cluster linking is disabled".
//   - Listed in ApiVersions only to a Tandem link's client
//     (linkapi_dispatch.go); refused before authentication.
//   - The manager is asked on the request goroutine: the server must know
//     whether the connection is taken before it reads the next byte.
//     LinkReverse answers from the manager's own state and does not wait.
//     The context it is given is the connection's, which ends when the
//     connection is handed over: what Take starts needs its own.
//   - The connection's SASL session expiry (connections.max.reauth.ms)
//     goes with it: after the hand-off the peer is the server and cannot
//     re-authenticate, so the manager closes the connection at that
//     expiry (KIP-368, design §3.3).
//
// Version notes:
//   - v0: flexible (request header v2, tagged fields)

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/wire"
)

func init() { registerPrivate(wire.LinkReverseKey, 0, 0, (*Broker).handleLinkReverse) }

func (b *Broker) handleLinkReverse(r *Request) Reply {
	req := r.Req.(*wire.LinkReverseRequest)
	api, code, msg := b.linkAPIFor(r, kmsg.ACLOperationAlter)
	if api == nil {
		return now(&wire.LinkReverseResponse{Version: req.Version, ErrorCode: code, ErrorMessage: msg})
	}
	resp, take := api.LinkReverse(r.Ctx, req, r.Conn.SessionExpiry())
	if resp == nil {
		// The manager must answer what it takes: the peer waits for
		// this response before it speaks the reversed protocol.
		resp, take = &wire.LinkReverseResponse{}, nil
		resp.ErrorCode, resp.ErrorMessage = noLinkAnswer(req.LinkName)
	}
	resp.Version = req.Version
	return Reply{Resp: resp, Take: take}
}
