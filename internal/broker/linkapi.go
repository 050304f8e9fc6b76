package broker

import (
	"context"
	"net"
	"time"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// LinkAPI answers the Tandem-private link requests (wire/linkapi.go,
// docs/design/links-bidirectional.md §2.4); the link manager implements
// it and the node wires it with SetLinkAPI. Handlers check authorization
// first (LinkPeer: DESCRIBE on the cluster; LinkReverse and LinkMirrorOp:
// ALTER on the cluster) and pass only authorized requests.
type LinkAPI interface {
	LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) *wire.LinkPeerResponse
	LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) *wire.LinkMirrorOpResponse
	// LinkReverse answers a LinkReverse request. When take is non-nil,
	// the server writes the response, stops reading the connection and
	// hands it (with any bytes it had read ahead) to take. expiry is when
	// the SASL session of the connection ends (connections.max.reauth.ms,
	// KIP-368; zero: never): the taker must stop using the connection
	// then, as the broker would close it, since the peer, no longer the
	// client, cannot re-authenticate it (design §3.3).
	LinkReverse(ctx context.Context, req *wire.LinkReverseRequest, expiry time.Time) (resp *wire.LinkReverseResponse, take func(net.Conn))
}
