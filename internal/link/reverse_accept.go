package link

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/wire"
)

// LinkReverse answers a SOURCE half's LinkReverse request (CONTROL or
// DATA) on the INBOUND half's broker (the broker has checked the caller
// may ALTER the cluster). When take is non-nil the server writes resp and
// then hands the connection to take: it is no longer the broker's.
func (m *Manager) LinkReverse(ctx context.Context, req *wire.LinkReverseRequest) (resp *wire.LinkReverseResponse, take func(net.Conn)) {
	msg := "LinkReverse is not answered yet"
	return &wire.LinkReverseResponse{Version: req.Version, ErrorCode: kerr.UnsupportedVersion.Code, ErrorMessage: &msg}, nil
}

// reverseCaller returns the peer caller of an INBOUND half: its live
// control session.
func (m *Manager) reverseCaller(name string) (peerCaller, error) {
	return nil, errNoSession
}
