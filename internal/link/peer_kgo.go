package link

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// kgoPeer sends the private requests over an OUTBOUND half's client.
type kgoPeer struct{ cl *kgo.Client }

var errNotEncoded = errors.New("private link requests are not encoded yet")

func (p kgoPeer) LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) (*wire.LinkPeerResponse, error) {
	return nil, errNotEncoded
}

func (p kgoPeer) LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) (*wire.LinkMirrorOpResponse, error) {
	return nil, errNotEncoded
}
