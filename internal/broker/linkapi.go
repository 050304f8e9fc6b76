package broker

import (
	"context"
	"net"

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
	// hands it (with any bytes it had read ahead) to take.
	LinkReverse(ctx context.Context, req *wire.LinkReverseRequest) (resp *wire.LinkReverseResponse, take func(net.Conn))
}
