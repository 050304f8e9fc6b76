package link

import (
	"context"
	"errors"

	"github.com/tandem-streaming/tandem/internal/usererr"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// peerCaller sends the Tandem-private link requests (wire/linkapi.go) to
// the peer half of a paired link: over the OUTBOUND half's client to the
// peer's listener, or, on an INBOUND half, over the control session the
// peer opened (reverse*.go). It is the only way one half acts on the other
// (docs/design/links-bidirectional.md §5.4).
type peerCaller interface {
	LinkPeer(ctx context.Context, req *wire.LinkPeerRequest) (*wire.LinkPeerResponse, error)
	LinkMirrorOp(ctx context.Context, req *wire.LinkMirrorOpRequest) (*wire.LinkMirrorOpResponse, error)
}

// errNoSession: an INBOUND half whose peer has not dialed in.
var errNoSession = errors.New("the peer half has not connected (connection.mode=INBOUND: it dials this cluster)")

// peerFor returns how to reach the peer half of link name: the OUTBOUND
// half's own client, or an INBOUND half's control session.
func (m *Manager) peerFor(name string) (peerCaller, error) {
	rt := m.runtimeOf(name)
	if rt == nil {
		return nil, errUnknownLink(name)
	}
	if !Paired(rt.link.Configs) {
		return nil, usererr.New(ErrNoPeer, "cluster link '%s' is a link.mode=DESTINATION, connection.mode=OUTBOUND link: it reads any Kafka cluster and has no peer half", name)
	}
	if ConnectionMode(rt.link.Configs) == ConnInbound {
		return m.reverseCaller(name)
	}
	return kgoPeer{rt.client}, nil
}

// ErrNoPeer: the operation needs the link's peer half (a paired link
// whose peer answers), and there is none.
var ErrNoPeer = errors.New("cluster link has no peer half")
